//! An OAuth2 token endpoint (client credentials grant) and the API it protects, on 127.0.0.1: it checks
//! the client's id and secret (HTTP Basic or in the form), issues numbered bearer tokens that expire, and
//! its protected hook accepts only tokens it issued that are still valid. It counts what it issued and
//! records what it refused, so tests see caching, expiry and refresh from the outside.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};

/// What the token endpoint accepts and how long its tokens live.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    pub client_id: String,
    pub client_secret: String,
    /// `expires_in` of each token, and when the hook stops accepting it.
    pub lifetime: Duration,
    /// Issued tokens are this prefix and a number.
    pub token_prefix: String,
}

#[derive(Default)]
struct Ledger {
    /// Every token issued, with when it stops being valid.
    issued: Vec<(String, Instant)>,
    /// Token requests refused for their credentials.
    refused_clients: usize,
    /// Hook requests refused with 401, and hook requests accepted (their bearer token).
    hook_refusals: usize,
    hook_accepted: Vec<String>,
    /// Form fields of each token request, in order.
    token_forms: Vec<Vec<(String, String)>>,
}

#[derive(Clone)]
struct Shared {
    policy: TokenPolicy,
    ledger: Arc<Mutex<Ledger>>,
}

pub struct TokenServer {
    addr: SocketAddr,
    ledger: Arc<Mutex<Ledger>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TokenServer {
    pub async fn start(policy: TokenPolicy) -> TokenServer {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let shared = Shared {
            policy,
            ledger: ledger.clone(),
        };
        let app = Router::new()
            .route("/oauth/token", post(issue))
            .route("/hook", post(hook))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("bound");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("token server runs");
        });
        TokenServer { addr, ledger, task }
    }

    pub fn token_url(&self) -> String {
        format!("http://{}/oauth/token", self.addr)
    }

    pub fn hook_url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Tokens issued so far.
    pub fn issued(&self) -> usize {
        self.ledger().issued.len()
    }

    /// Token requests refused for wrong credentials.
    pub fn refused_clients(&self) -> usize {
        self.ledger().refused_clients
    }

    /// Hook requests answered 401.
    pub fn hook_refusals(&self) -> usize {
        self.ledger().hook_refusals
    }

    /// The bearer token of each accepted hook request.
    pub fn hook_accepted(&self) -> Vec<String> {
        self.ledger().hook_accepted.clone()
    }

    /// The form fields of each token request.
    pub fn token_forms(&self) -> Vec<Vec<(String, String)>> {
        self.ledger().token_forms.clone()
    }

    /// Makes every token issued so far invalid, as an identity provider does when keys rotate.
    pub fn revoke_all(&self) {
        let now = Instant::now();
        for (_, until) in &mut self.ledger().issued {
            *until = now;
        }
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("ledger")
    }
}

async fn issue(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|pair| String::from_utf8(pair).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |t: &str| {
                url::form_urlencoded::parse(format!("v={t}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    let presented = basic.or_else(|| Some((field("client_id")?, field("client_secret")?)));
    let mut ledger = shared.ledger.lock().expect("ledger");
    ledger.token_forms.push(form.clone());
    if field("grant_type").as_deref() != Some("client_credentials") {
        let answer = json!({"error": "unsupported_grant_type"});
        return (StatusCode::BAD_REQUEST, answer.to_string());
    }
    let policy = &shared.policy;
    match presented {
        Some((id, secret)) if id == policy.client_id && secret == policy.client_secret => {
            let token = format!("{}-{}", policy.token_prefix, ledger.issued.len() + 1);
            ledger
                .issued
                .push((token.clone(), Instant::now() + policy.lifetime));
            let answer = json!({"access_token": token, "token_type": "Bearer",
                "expires_in": policy.lifetime.as_secs()});
            (StatusCode::OK, answer.to_string())
        }
        presented => {
            ledger.refused_clients += 1;
            // Like careless servers do, the refusal repeats what it was sent.
            let (id, secret) = presented.unwrap_or_default();
            let answer = json!({"error": "invalid_client",
                "error_description": format!("client {id} with secret {secret} is unknown")});
            (StatusCode::UNAUTHORIZED, answer.to_string())
        }
    }
}

async fn hook(State(shared): State<Shared>, headers: HeaderMap) -> (StatusCode, String) {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let mut ledger = shared.ledger.lock().expect("ledger");
    let now = Instant::now();
    let valid = bearer.as_ref().is_some_and(|token| {
        ledger
            .issued
            .iter()
            .any(|(issued, until)| issued == token && *until > now)
    });
    match bearer {
        Some(token) if valid => {
            ledger.hook_accepted.push(token.clone());
            // Echoes the token, as debugging endpoints do: alertwire must not keep it.
            (StatusCode::OK, json!({"accepted": token}).to_string())
        }
        _ => {
            ledger.hook_refusals += 1;
            let answer: Value = json!({"error": "invalid_token"});
            (StatusCode::UNAUTHORIZED, answer.to_string())
        }
    }
}
