//! `alertwire listen`: a webhook receiver for trying alertwire out. Prints every request, checks its
//! Standard Webhooks signature when given the secret, and answers with a chosen status.

use std::net::SocketAddr;
use std::sync::Arc;

use alertwire_shared::webhook::signing::WebhookSecret;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};

use crate::cli::ListenArgs;

struct Receiver {
    secret: Option<WebhookSecret>,
    status: StatusCode,
}

pub async fn run(args: ListenArgs) -> Result<(), String> {
    let secret = args
        .secret
        .as_deref()
        .map(WebhookSecret::parse)
        .transpose()
        .map_err(|e| format!("--secret: {e}"))?;
    let status = StatusCode::from_u16(args.status)
        .map_err(|_| "--status must be an HTTP status code".to_string())?;
    let receiver = Arc::new(Receiver { secret, status });
    let app = axum::Router::new().fallback(receive).with_state(receiver);
    let addr = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("listening on http://{addr}/ (answering {status})");
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    println!("── {method} {uri}");
    for name in [
        "content-type",
        "user-agent",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    ] {
        if headers.contains_key(name) {
            println!("   {name}: {}", header(name));
        }
    }
    if let Some(secret) = &receiver.secret {
        let verdict = match header("webhook-timestamp").parse::<i64>() {
            Ok(timestamp) => {
                let expected = secret.sign(header("webhook-id"), timestamp, &body);
                if header("webhook-signature")
                    .split(' ')
                    .any(|s| s == expected)
                {
                    "valid"
                } else {
                    "INVALID"
                }
            }
            Err(_) => "missing timestamp",
        };
        println!("   signature: {verdict}");
    }
    let text = String::from_utf8_lossy(&body);
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(json) => println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_else(|_| text.to_string())
        ),
        Err(_) => println!("{text}"),
    }
    receiver.status
}
