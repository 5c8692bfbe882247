//! A seeded chaos receiver on 127.0.0.1: every request is answered at random with a 500, a connection
//! reset in the middle of a 200 answer, an answer slower than the sender's timeout, a 429 with
//! `Retry-After`, or a 200 — in the proportions of a [`ChaosMix`].
//!
//! The draw for a request depends only on the seed, the request's path and body, and how many times the
//! same path and body came before. A sender whose request bodies carry no random parts (the chaos tests
//! render `{{alert_title}}`, `{{endpoint_name}}` and `{{attempt}}` only) therefore gets the same answer for
//! the same attempt of the same alert at the same endpoint in every run with that seed, whatever order the
//! requests arrive in. Which attempts a crash interrupts still depends on timing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use crate::receiver::{Behaviour, Received, Receiver, Rule};

/// Percentages of each answer; what is left up to 100 is answered 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChaosMix {
    pub server_error: u32,
    pub reset_mid_response: u32,
    pub slower_than_timeout: u32,
    pub too_many_requests: u32,
}

impl ChaosMix {
    /// 30 % 500, 10 % reset mid-response, 10 % too slow, 5 % 429, 45 % 200.
    pub const STANDARD: ChaosMix = ChaosMix {
        server_error: 30,
        reset_mid_response: 10,
        slower_than_timeout: 10,
        too_many_requests: 5,
    };
}

#[derive(Debug, Clone)]
pub struct ChaosSettings {
    pub seed: u64,
    pub mix: ChaosMix,
    /// How long a slow answer takes: make it longer than the sender's HTTP timeout.
    pub slow: Duration,
    /// The `Retry-After` of a 429, in seconds.
    pub retry_after_secs: u64,
}

pub struct ChaosReceiver {
    receiver: Receiver,
}

impl ChaosReceiver {
    pub async fn start(settings: ChaosSettings) -> ChaosReceiver {
        let seen: Mutex<HashMap<[u8; 32], u64>> = Mutex::new(HashMap::new());
        let rule: Rule = Arc::new(move |path: &str, body: &[u8]| {
            let request: [u8; 32] = Sha256::new()
                .chain_update(path.as_bytes())
                .chain_update([0])
                .chain_update(body)
                .finalize()
                .into();
            let occurrence = {
                let mut seen = seen.lock().unwrap();
                let count = seen.entry(request).or_insert(0);
                *count += 1;
                *count
            };
            answer(&settings, draw(settings.seed, &request, occurrence))
        });
        ChaosReceiver {
            receiver: Receiver::ruled(rule).await,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.receiver.url(path)
    }

    /// Every request so far, with the answer it got.
    pub fn received(&self) -> Vec<Received> {
        self.receiver.received()
    }
}

/// A number in 0..100 for the `occurrence`-th arrival of `request`, fixed by the seed.
fn draw(seed: u64, request: &[u8; 32], occurrence: u64) -> u32 {
    let digest = Sha256::new()
        .chain_update(seed.to_le_bytes())
        .chain_update(request)
        .chain_update(occurrence.to_le_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    StdRng::seed_from_u64(u64::from_le_bytes(first)).random_range(0..100)
}

fn answer(settings: &ChaosSettings, draw: u32) -> Behaviour {
    let mix = settings.mix;
    let mut bound = mix.server_error;
    if draw < bound {
        return Behaviour::status(500);
    }
    bound += mix.reset_mid_response;
    if draw < bound {
        return Behaviour::ResetMidResponse;
    }
    bound += mix.slower_than_timeout;
    if draw < bound {
        return Behaviour::Slow(settings.slow);
    }
    bound += mix.too_many_requests;
    if draw < bound {
        return Behaviour::Status(
            429,
            vec![(
                "retry-after".to_string(),
                settings.retry_after_secs.to_string(),
            )],
            "{\"answer\":429}".to_string(),
        );
    }
    Behaviour::status(200)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(seed: u64) -> ChaosSettings {
        ChaosSettings {
            seed,
            mix: ChaosMix::STANDARD,
            slow: Duration::from_secs(2),
            retry_after_secs: 1,
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_answers_and_another_seed_does_not() {
        let request = [7u8; 32];
        let run = |seed| -> Vec<u32> { (1..=200).map(|n| draw(seed, &request, n)).collect() };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn the_answers_follow_the_mix() {
        let mut counts: HashMap<&str, u32> = HashMap::new();
        let settings = settings(42);
        for n in 0..20_000u64 {
            let request: [u8; 32] = Sha256::digest(n.to_le_bytes()).into();
            let kind = match answer(&settings, draw(settings.seed, &request, 1)) {
                Behaviour::Status(500, ..) => "500",
                Behaviour::Status(429, headers, _) => {
                    assert_eq!(headers, vec![("retry-after".into(), "1".into())]);
                    "429"
                }
                Behaviour::Status(200, ..) => "200",
                Behaviour::ResetMidResponse => "reset",
                Behaviour::Slow(d) => {
                    assert_eq!(d, Duration::from_secs(2));
                    "slow"
                }
                other => panic!("unexpected answer {other:?}"),
            };
            *counts.entry(kind).or_default() += 1;
        }
        let share = |kind| f64::from(counts[kind]) / 20_000.0;
        for (kind, expected) in [
            ("500", 0.30),
            ("reset", 0.10),
            ("slow", 0.10),
            ("429", 0.05),
            ("200", 0.45),
        ] {
            assert!(
                (share(kind) - expected).abs() < 0.015,
                "{kind}: {} of the answers, expected {expected}",
                share(kind)
            );
        }
    }
}
