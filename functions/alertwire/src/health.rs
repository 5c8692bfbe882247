//! `alertwire health`: one `GET /healthz`, for a container's health check (a `FROM scratch` image has no
//! curl). Exit 0 when it answers 200; otherwise 1, with what it answered.

use std::net::SocketAddr;
use std::time::Duration;

use alertwire_shared::outbound::trusted_roots::TrustedRoots;

/// `/healthz` of the `serve` this environment configures: `ALERTWIRE_LISTEN`, reached on loopback when it
/// is an any-address.
fn own_health_url() -> String {
    let listen: SocketAddr = std::env::var("ALERTWIRE_LISTEN")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let host = match listen.ip() {
        ip if ip.is_unspecified() && ip.is_ipv6() => "[::1]".to_string(),
        ip if ip.is_unspecified() => "127.0.0.1".to_string(),
        ip if ip.is_ipv6() => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}/healthz", listen.port())
}

pub async fn check(url: Option<String>) -> Result<(), String> {
    let url = url.unwrap_or_else(own_health_url);
    let url = url.as_str();
    // reqwest is built without a TLS crypto provider; the client needs one even for http.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The compiled-in roots: the image this runs in has no trust store, and the system's would fail.
    let client = TrustedRoots::CompiledIn
        .apply(
            reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .no_proxy(),
        )
        .and_then(reqwest::ClientBuilder::build)
        .map_err(|e| e.to_string())?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status.is_success() {
        println!("{body}");
        Ok(())
    } else {
        Err(format!("{url} answered {status}: {body}"))
    }
}
