//! What logging costs: CPU time of `alertwire serve` per delivered alert at the default level (`info`:
//! state changes only) and at `debug` (a line per attempt), against the same run with logging off (`warn`),
//! interleaved. The lines go to /dev/null, so this is what producing them costs, not the disk.

use crate::e2e::subject;
use crate::load;
use crate::receiver::CountingReceiver;
use crate::stats::{Figure, ratio};
use crate::table::Row;
use crate::{BenchError, Settings, block_on};

const DEFAULT_LEVEL_GOAL: f64 = 1.05;

pub fn run(settings: Settings, notes: &mut Vec<String>) -> Result<Vec<Row>, BenchError> {
    block_on(async {
        let client = load::client();
        let receiver = CountingReceiver::start().await?;
        let alerts: u64 = if settings.quick { 100 } else { 2_000 };
        let [mut off, mut info, mut debug] = ["warn", "info", "debug"].map(|_| Figure::new("µs"));
        for _ in 0..settings.runs {
            for (level, figure) in [
                ("warn", &mut off),
                ("info", &mut info),
                ("debug", &mut debug),
            ] {
                let run = subject(&client, &receiver, 1, alerts, level).await?;
                figure.push(run.cpu_micros_per_delivery);
            }
        }
        let r = ratio(&info, &off);
        notes.push(format!(
            "logging: {alerts} alerts a run, one endpoint; at `debug` (a line per attempt) the CPU per delivered alert is {:.2}× that with logging off.",
            ratio(&debug, &off)
        ));
        Ok(vec![Row {
            scenario:
                "logging: CPU per delivered alert at the default level, `info` (÷ logging off)"
                    .into(),
            figure: info,
            baseline: Some(off),
            ratio: Some(r),
            goal: format!("≤ {DEFAULT_LEVEL_GOAL}×"),
            met: Some(r <= DEFAULT_LEVEL_GOAL),
        }])
    })
}
