#!/usr/bin/env bash
# What alerts cost on AWS, measured: moto behind a metering proxy that prices every DynamoDB and SQS
# request, the api and deliver functions' services driven with alerts (tests/aws/cost.rs), then the bill
# of a month with a million alerts (tests/cost/price.py). Two runs: every alert delivered on the first
# attempt, with 100 more endpoints that no alert is routed to (they must add nothing per alert), and every
# tenth alert needing three attempts.
#
#   bash tests/cost.sh [alerts]     (1,000 by default; needs the venv tests/run.sh makes)
set -euo pipefail
cd "$(dirname "$0")/.."
alerts=${1:-1000}
venv="$(pwd)/.venv"
out="$(pwd)/target/cost"
rm -rf "$out" && mkdir -p "$out"

# shellcheck source=tests/loopback_ports.sh
. tests/loopback_ports.sh
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
moto_port=$(free_port)
"$venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" > "$out/moto.log" 2>&1 &
pids+=($!)
wait_port "$moto_port"

# The functions write the metrics the template selects for them (its EmfMetrics parameter's default).
ALERTWIRE_EMF_METRICS=$("$venv/bin/python" -c \
    'from cfnlint.decode import cfn_yaml; print(cfn_yaml.load("template.yaml")["Parameters"]["EmfMetrics"]["Default"])')
export ALERTWIRE_EMF_METRICS

runs=()
for retry_every in 0 10; do
    proxy_port=$(free_port)
    "$venv/bin/python" tests/cost/metering_proxy.py "$proxy_port" "http://127.0.0.1:$moto_port" \
        "$out/meter-$retry_every.jsonl" > "$out/proxy-$retry_every.log" 2>&1 &
    pids+=($!)
    wait_port "$proxy_port"
    other_endpoints=0
    [ "$retry_every" -eq 0 ] && other_endpoints=100
    AWS_ENDPOINT_URL="http://127.0.0.1:$proxy_port" COST_ALERTS="$alerts" COST_RETRY_EVERY="$retry_every" \
        COST_OTHER_ENDPOINTS="$other_endpoints" \
        COST_SUMMARY="$out/summary-$retry_every.json" \
        cargo test --locked -p alertwire-tests --features aws --test aws -- --ignored --exact cost::requests_per_alert
    runs+=("$out/meter-$retry_every.jsonl" "$out/summary-$retry_every.json")
done
"$venv/bin/python" tests/cost/price.py template.yaml "${runs[@]}" | tee "$out/cost.md"
