//! Signing a 4 KiB body the Standard Webhooks way (`WebhookSecret::sign`: HMAC-SHA256 over
//! `id.timestamp.body`, base64, `v1,` prefix) against one bare HMAC-SHA256 over the same body and key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use alertwire_shared::webhook::signing::WebhookSecret;

use crate::Settings;
use crate::render::nanos_per_call;
use crate::stats::{Figure, ratio};
use crate::table::Row;

const GOAL_RATIO: f64 = 1.2;

pub fn run(settings: Settings) -> Vec<Row> {
    let secret = WebhookSecret::generate();
    let key = STANDARD
        .decode(&secret.expose()["whsec_".len()..])
        .expect("an exposed secret is base64");
    let body: Vec<u8> = (0..4096u32).map(|i| b'a' + (i % 26) as u8).collect();
    let iterations = if settings.quick { 2_000 } else { 50_000 };
    let mut baseline = Figure::new("µs");
    let mut subject = Figure::new("µs");
    for _ in 0..settings.runs {
        baseline.push(
            nanos_per_call(iterations, || {
                let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
                mac.update(&body);
                mac.finalize().into_bytes()
            }) / 1000.0,
        );
        subject.push(
            nanos_per_call(iterations, || {
                secret.sign("msg_0192b1c2d3e4f5a6b7c8d9e0f1a2b3c4", 1_795_430_000, &body)
            }) / 1000.0,
        );
    }
    let r = ratio(&subject, &baseline);
    vec![Row {
        scenario: "signing a 4 KiB body".into(),
        figure: subject,
        baseline: Some(baseline),
        ratio: Some(r),
        goal: format!("≤ {GOAL_RATIO}×"),
        met: Some(r <= GOAL_RATIO),
    }]
}
