#!/usr/bin/env bash
# The long chaos run on the embedded default: the real alertwire binary delivers CHAOS_ALERTS alerts
# (1000) to three endpoints on a seeded chaos receiver on 127.0.0.1 while it is killed with SIGKILL
# CHAOS_KILLS times (10) at random moments and restarted; then every delivery is accounted for and the
# table is printed. CHAOS_SEED repeats a run's answers. Needs only cargo; builds what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
log_dir="$(pwd)/target/test-logs"
mkdir -p "$log_dir"
export CHAOS_ALERTS="${CHAOS_ALERTS:-1000}" CHAOS_KILLS="${CHAOS_KILLS:-10}"
if [ "$CHAOS_KILLS" -lt 5 ]; then
    echo "CHAOS_KILLS must be at least 5" >&2
    exit 2
fi

echo "building the alertwire binary and the end-to-end tests" >&2
cargo build --locked -p alertwire --bin alertwire
cargo test --locked -p alertwire-tests --test it --no-run

echo "chaos: $CHAOS_ALERTS alerts, $CHAOS_KILLS kills, seed ${CHAOS_SEED:-default} (the server's log: $log_dir/chaos.log)" >&2
if ! cargo test --locked -p alertwire-tests --test it chaos::sigkills_amid_chaos_lose_nothing_and_every_attempt_is_accounted_for \
    -- --exact --nocapture 2> "$log_dir/chaos.log"; then
    tail -n 40 "$log_dir/chaos.log" >&2
    exit 1
fi
