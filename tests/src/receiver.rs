//! A webhook receiver on 127.0.0.1 that answers each request by a script, or by a rule that looks at the
//! request: a status (with headers), slowness beyond the sender's timeout, a hold until the test opens a
//! gate, or a connection reset (before or in the middle of the answer). It records everything it receives and how it answered.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Answer with this status, extra headers and body.
    Status(u16, Vec<(String, String)>, String),
    /// Wait this long, then answer 200 (if the sender is still there).
    Slow(Duration),
    /// Wait this long, then answer 200 with this body (if the sender is still there).
    SlowWith(Duration, String),
    /// Hold the request until the gate opens (see [`gate`]), then answer this status; once it is open,
    /// answer at once. The test, not the clock, decides when the attempts in flight end.
    Held(tokio::sync::watch::Receiver<bool>, u16),
    /// Read the request, then reset the connection without answering.
    Reset,
    /// Send the head of a 200 answer and part of its body, then reset the connection.
    ResetMidResponse,
}

/// A closed gate for [`Behaviour::Held`] answering `status`: sending `true` opens it.
pub fn gate(status: u16) -> (tokio::sync::watch::Sender<bool>, Behaviour) {
    let (open, opened) = tokio::sync::watch::channel(false);
    (open, Behaviour::Held(opened, status))
}

impl Behaviour {
    pub fn status(code: u16) -> Self {
        Behaviour::Status(code, Vec::new(), format!("{{\"answer\":{code}}}"))
    }

    /// Whether the sender got a complete 2XX answer (if it was still listening).
    pub fn is_success(&self) -> bool {
        matches!(self, Behaviour::Status(code, ..) if (200..300).contains(code))
    }
}

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
    /// The behaviour used to answer it.
    pub answer: Behaviour,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body_text()))
    }
}

/// Decides the answer to a request from its path and body.
pub type Rule = Arc<dyn Fn(&str, &[u8]) -> Behaviour + Send + Sync>;

enum Script {
    /// The first answers in order, then one answer for every later request.
    Sequence {
        queue: VecDeque<Behaviour>,
        then: Behaviour,
    },
    /// Each answer decided by a rule.
    Rule(Rule),
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Answers every request with `behaviour`.
    pub async fn start(behaviour: Behaviour) -> Receiver {
        Self::scripted(Vec::new(), behaviour).await
    }

    /// Answers the first requests by `first`, in order, and every later one with `then`.
    pub async fn scripted(first: Vec<Behaviour>, then: Behaviour) -> Receiver {
        Self::serving(Script::Sequence {
            queue: first.into(),
            then,
        })
        .await
    }

    /// Answers each request as `rule` decides from its path and body.
    pub async fn ruled(rule: Rule) -> Receiver {
        Self::serving(Script::Rule(rule)).await
    }

    /// Answers every request with `behaviour` on `addr`: a port that refused connections until now, as an
    /// endpoint that comes back after an outage.
    pub async fn start_at(addr: SocketAddr, behaviour: Behaviour) -> Receiver {
        let listener = TcpListener::bind(addr)
            .await
            .expect("bind the loopback port");
        Self::serving_on(
            listener,
            Script::Sequence {
                queue: VecDeque::new(),
                then: behaviour,
            },
        )
    }

    async fn serving(script: Script) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        Self::serving_on(listener, script)
    }

    fn serving_on(listener: TcpListener, script: Script) -> Receiver {
        let receiver = Receiver {
            addr: listener.local_addr().expect("local address"),
            script: Arc::new(Mutex::new(script)),
            received: Arc::new(Mutex::new(Vec::new())),
        };
        let serving = receiver.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let serving = serving.clone();
                tokio::spawn(async move { serving.serve(stream).await });
            }
        });
        receiver
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// From now on answer every request with `behaviour`.
    pub fn set(&self, behaviour: Behaviour) {
        *self.script.lock().unwrap() = Script::Sequence {
            queue: VecDeque::new(),
            then: behaviour,
        };
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived, or panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} requests, got {} within {timeout:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn next_behaviour(&self, path: &str, body: &[u8]) -> Behaviour {
        let rule = match &mut *self.script.lock().unwrap() {
            Script::Sequence { queue, then } => {
                return queue.pop_front().unwrap_or_else(|| then.clone());
            }
            Script::Rule(rule) => rule.clone(),
        };
        rule(path, body)
    }

    async fn serve(&self, mut stream: TcpStream) {
        // One request per connection: every answer says `Connection: close`.
        let Some((method, path, headers, body)) = read_request(&mut stream).await else {
            return;
        };
        let behaviour = self.next_behaviour(&path, &body);
        self.received.lock().unwrap().push(Received {
            method,
            path,
            headers,
            body,
            at: Instant::now(),
            answer: behaviour.clone(),
        });
        match behaviour {
            Behaviour::Status(code, headers, body) => {
                respond(&mut stream, code, &headers, &body).await
            }
            Behaviour::Slow(delay) => {
                tokio::time::sleep(delay).await;
                respond(&mut stream, 200, &[], "{\"slow\":true}").await;
            }
            Behaviour::SlowWith(delay, body) => {
                tokio::time::sleep(delay).await;
                respond(&mut stream, 200, &[], &body).await;
            }
            Behaviour::Held(mut opened, status) => {
                if opened.wait_for(|open| *open).await.is_ok() {
                    respond(&mut stream, status, &[], &format!("{{\"held\":{status}}}")).await;
                }
            }
            Behaviour::Reset => {
                let _ = stream.set_zero_linger();
                drop(stream);
            }
            Behaviour::ResetMidResponse => {
                let body = "{\"cut\": \"this answer never ends\"}";
                let head = format!(
                    "HTTP/1.1 200 Scripted\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body.as_bytes()[..body.len() / 2]).await;
                let _ = stream.flush().await;
                // Let the sender read the head before the reset arrives.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = stream.set_zero_linger();
                drop(stream);
            }
        }
    }
}

async fn respond(stream: &mut TcpStream, code: u16, headers: &[(String, String)], body: &str) {
    let mut head = format!(
        "HTTP/1.1 {code} Scripted\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

type Request = (String, String, Vec<(String, String)>, Vec<u8>);

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let path = request_line.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((method, path, headers, body))
}
