//! The web console: static HTML, CSS and JavaScript modules embedded in the binary and served under
//! `/console/` by the same router as the API (so `alertwire serve` and the api function both serve it).
//! It has no private routes: every action goes through the public `/v1` API with the user's key. Its
//! answers carry a strict Content-Security-Policy: scripts and styles from these files only, no inline code,
//! connections to this origin only.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::ApiError;

/// Scripts, styles and connections from this origin only; nothing inline, no frames, no forms posted away.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Every file of the console: its name under `/console/`, its media type and its content.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../console/index.html"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../console/console.css"),
    ),
    ("main.js", JS, include_str!("../../console/main.js")),
    ("api.js", JS, include_str!("../../console/api.js")),
    ("dom.js", JS, include_str!("../../console/dom.js")),
    ("sign_in.js", JS, include_str!("../../console/sign_in.js")),
    (
        "endpoints.js",
        JS,
        include_str!("../../console/endpoints.js"),
    ),
    (
        "endpoint_editor.js",
        JS,
        include_str!("../../console/endpoint_editor.js"),
    ),
    (
        "endpoint_stats.js",
        JS,
        include_str!("../../console/endpoint_stats.js"),
    ),
    ("routing.js", JS, include_str!("../../console/routing.js")),
    (
        "deliveries.js",
        JS,
        include_str!("../../console/deliveries.js"),
    ),
    (
        "dead_letters.js",
        JS,
        include_str!("../../console/dead_letters.js"),
    ),
    (
        "maintenance.js",
        JS,
        include_str!("../../console/maintenance.js"),
    ),
];

const JS: &str = "text/javascript; charset=utf-8";

/// `/console` → `/console/`, so the modules' relative addresses resolve.
pub async fn redirect_to_index() -> Redirect {
    Redirect::permanent("console/")
}

pub async fn index() -> Response {
    asset_response("index.html")
}

pub async fn asset(Path(name): Path<String>) -> Response {
    asset_response(&name)
}

fn asset_response(name: &str) -> Response {
    let Some((_, media_type, content)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return ApiError::not_found("console file").into_response();
    };
    let mut response = (StatusCode::OK, *content).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
