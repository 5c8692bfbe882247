#!/usr/bin/env bash
# Runs schemathesis against the real `alertwire serve` and its own /openapi.json: no 5xx, and every status,
# content type and response body as the document says. Fails on any failure.
#
# Nothing may leave this machine, although schemathesis creates endpoints with whatever URLs it invents and
# the server would try to deliver alerts to them (and "Run the test" sends at once). So the server and
# schemathesis both run in a network namespace of their own (`unshare --net`) whose only interface is
# loopback: there is no route to any other address. The server keeps its strict default target policy
# (no private or loopback targets), so it does not deliver to 127.0.0.1 either.
#
# Usage: tests/schemathesis.sh PATH/TO/alertwire [SCHEMATHESIS]  (default: schemathesis on the PATH)
# SCHEMATHESIS_EXAMPLES (default 25) bounds the test cases per operation; SCHEMATHESIS_SEED (default fixed)
# picks the generated data.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=$(realpath "$1")
schemathesis=$(command -v "${2:-schemathesis}")
examples=${SCHEMATHESIS_EXAMPLES:-25}
seed=${SCHEMATHESIS_SEED:-20261123}
log_dir=${ALERTWIRE_TEST_LOGS:-$(pwd)/target/test-logs}
mkdir -p "$log_dir"

if [[ "${ALERTWIRE_IN_OWN_NETWORK:-}" != 1 ]]; then
    exec env ALERTWIRE_IN_OWN_NETWORK=1 unshare --net --map-root-user "$0" "$binary" "$schemathesis"
fi

# Inside the namespace: bring up loopback and make sure it is the only way out.
ip link set lo up
if ip route show | grep -q .; then
    echo "refusing to run: this network namespace has routes besides loopback" >&2
    exit 1
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data_dir=$(mktemp -d)
api_key=schemathesis-key-0123456789abcdef
env -u ALERTWIRE_ALLOW_TARGETS -u ALERTWIRE_ALLOW_PORTS \
    ALERTWIRE_LISTEN="127.0.0.1:$port" ALERTWIRE_DATA_DIR="$data_dir" ALERTWIRE_API_KEY="$api_key" \
    ALERTWIRE_HTTP_TIMEOUT=2 ALERTWIRE_RETRY_DELAYS=1s \
    "$binary" serve > "$log_dir/schemathesis-server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data_dir"' EXIT

start=$(date +%s)
"$schemathesis" run "http://127.0.0.1:$port/openapi.json" \
    --wait-for-schema 60 \
    --header "Authorization: Bearer $api_key" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$examples" \
    --seed "$seed" \
    --request-timeout 30 \
    --generation-database none \
    --no-color \
    --report junit --report-junit-path "$log_dir/schemathesis.xml"
echo "schemathesis took $(($(date +%s) - start)) s"
