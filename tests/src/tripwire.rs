//! A listener that should never be reached: it counts every connection made to it, so an SSRF test can prove
//! that no packet arrived where alertwire was told not to send.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::TcpListener;

pub struct Tripwire {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Tripwire {
    /// Listens on `ip` (a loopback address), on a port the system picks.
    pub async fn bind(ip: &str) -> Tripwire {
        Self::bind_port(ip, 0).await
    }

    /// Listens on `ip` and `port` (to watch a second address on the port of another tripwire).
    pub async fn bind_port(ip: &str, port: u16) -> Tripwire {
        let listener = TcpListener::bind((ip, port))
            .await
            .unwrap_or_else(|e| panic!("cannot listen on {ip} port {port}: {e}"));
        let addr = listener.local_addr().expect("a bound address");
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        let accepting = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Tripwire {
            addr,
            connections,
            accepting,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Tripwire {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}
