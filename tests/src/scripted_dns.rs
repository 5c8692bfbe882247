//! A DNS stand-in for alertwire's deliveries: answers from a table the test changes while alertwire runs (DNS
//! rebinding), records every name asked, and never asks a real resolver.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use alertwire_shared::outbound::target_policy::{HostResolver, ResolveFuture};

#[derive(Clone, Default)]
pub struct ScriptedDns {
    answers: Arc<Mutex<HashMap<String, Vec<IpAddr>>>>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl ScriptedDns {
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on `host` resolves to `ips` (address literals).
    pub fn set(&self, host: &str, ips: &[&str]) {
        let ips = ips
            .iter()
            .map(|ip| ip.parse().expect("an address literal"))
            .collect();
        self.answers
            .lock()
            .unwrap()
            .insert(host.to_ascii_lowercase(), ips);
    }

    /// Every name asked so far, in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl HostResolver for ScriptedDns {
    fn resolve(&self, host: &str) -> ResolveFuture {
        self.asked.lock().unwrap().push(host.to_string());
        let answer = self
            .answers
            .lock()
            .unwrap()
            .get(&host.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("no record for {host}"))
            });
        Box::pin(async move { answer })
    }
}
