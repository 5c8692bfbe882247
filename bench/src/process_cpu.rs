//! CPU time a child process has used (user + system, from `/proc/<pid>/stat`): a cost that, unlike a
//! rate, hardly moves when other work shares the machine.

use crate::BenchError;

/// Clock ticks per second of `/proc` times: USER_HZ, fixed at 100 on Linux.
const TICKS_PER_SECOND: f64 = 100.0;

/// Seconds of CPU the process `pid` has used so far.
pub fn cpu_seconds(pid: u32) -> Result<f64, BenchError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| BenchError::Setup(format!("cannot read /proc/{pid}/stat: {e}")))?;
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its end.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| BenchError::Setup(format!("unexpected /proc/{pid}/stat")))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| BenchError::Setup(format!("no CPU times in /proc/{pid}/stat")))
    };
    Ok((ticks(11)? + ticks(12)?) / TICKS_PER_SECOND)
}
