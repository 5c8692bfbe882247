//! The ingest baseline: a bare axum handler answering 202 on `POST /v1/alerts`, run as a child process of
//! the benchmark (`bench __bare-202 <addr>`) so it has the same port layout as `alertwire serve`.

use std::process::ExitCode;

use axum::http::StatusCode;
use axum::routing::post;

pub const COMMAND: &str = "__bare-202";

pub fn serve(addr: Option<&str>) -> ExitCode {
    let Some(addr) = addr else {
        eprintln!("bench {COMMAND}: needs an address");
        return ExitCode::FAILURE;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let app = axum::Router::new().route(
            "/v1/alerts",
            post(|_body: axum::body::Bytes| async {
                (StatusCode::ACCEPTED, r#"{"id":"al_bare","deliveries":[]}"#)
            }),
        );
        axum::serve(listener, app).await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench {COMMAND}: {e}");
            ExitCode::FAILURE
        }
    }
}
