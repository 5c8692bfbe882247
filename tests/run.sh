#!/usr/bin/env bash
# Runs every check and test of alertwire: formatting, lints, unit tests and the end-to-end suite against
# real HTTP receivers on 127.0.0.1. Installs what it needs by itself; needs only cargo and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
log_dir="$root/target/test-logs"
mkdir -p "$log_dir"

# Each step says when it starts, in seconds since the run began: CI's log then shows where the time went.
run_started=$(date +%s)
step() { printf '\n==> %s  [at %ss]\n' "$*" "$(($(date +%s) - run_started))"; }

# Adds up the `test result:` lines of cargo test output into the closing line.
passed=0 failed=0
count_results() {
    local p f
    p=$( (grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$1" || true) | awk '{s+=$4} END {print s+0}')
    f=$( (grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$1" || true) | awk '{s+=$6} END {print s+0}')
    passed=$((passed + p)) failed=$((failed + f))
}

# What waits on the network rather than the CPU is installed beside the lints and the build: Debian's
# chromium, chromedriver, prometheus-alertmanager, podman, runc and musl-tools when missing, the musl
# target of the Rust toolchain (the container image's static binary), and the two project-local Python venvs
# (the SAM CLI pins its own versions of boto3 and friends, so it gets a venv of its own). The steps that
# need them wait for it; its output is in target/test-logs/installs.log.
venv="$root/.venv"
sam_venv="$root/.venv-sam"
installs() {
    local missing=()
    { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; } || missing+=(chromium chromium-driver)
    [ -x /usr/bin/prometheus-alertmanager ] || missing+=(prometheus-alertmanager)
    command -v podman > /dev/null || missing+=(podman)
    command -v runc > /dev/null || missing+=(runc)
    command -v musl-gcc > /dev/null || missing+=(musl-tools)
    command -v curl > /dev/null || missing+=(curl)
    if [ ${#missing[@]} -gt 0 ]; then
        local as_root=""
        [ "$(id -u)" -eq 0 ] || as_root="sudo"
        $as_root apt-get update
        $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    fi
    rustup target list --installed | grep -qx x86_64-unknown-linux-musl || rustup target add x86_64-unknown-linux-musl
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
    [ -x "$sam_venv/bin/python" ] || python3 -m venv "$sam_venv"
    "$sam_venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements-sam.txt
}
installs_started=$(date +%s)
( set -euo pipefail; installs; echo "installs finished $(($(date +%s) - installs_started)) s after they began" ) \
    > "$log_dir/installs.log" 2>&1 &
installs_pid=$!
wait_for_installs() {
    [ -n "$installs_pid" ] || return 0
    if ! wait "$installs_pid"; then
        cat "$log_dir/installs.log"
        echo "installing the Debian packages or the Python tools failed (above)" >&2
        exit 1
    fi
    installs_pid=""
    tail -n 1 "$log_dir/installs.log"
}

step "formatting"
cargo fmt --all --check

step "lints (every target with every feature: the AWS and browser tests too)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "build (the durability test runs the real binary)"
cargo build --workspace --bins --locked

step "tests: unit and end-to-end on the embedded default"
cargo test --workspace --locked 2>&1 | tee "$log_dir/embedded.log"
count_results "$log_dir/embedded.log"

step "benchmark smoke run: every scenario with small sizes, so the benchmark cannot rot"
# Fails only if a scenario cannot run, not when a goal is missed; the figures of a debug build on a busy
# machine mean little. The real run: docs/performance.md.
bench_started=$(date +%s)
cargo run --locked -p alertwire-bench -- --quick 2>&1 | tee "$log_dir/bench-quick.log"
echo "benchmark smoke run: $(($(date +%s) - bench_started)) s"

step "fuzz smoke: the template engine, the alert parser and the label matchers, 20 s each (tests/fuzz.sh runs them longer)"
bash tests/fuzz.sh 20

step "browser: Debian's chromium and chromedriver (installed in the background when missing)"
wait_for_installs

step "container image (FROM scratch, run with podman) and the systemd unit (tests/container.sh)"
bash tests/container.sh 2>&1 | tee "$log_dir/container.log"
count_results "$log_dir/container.log"

step "tests: the web console in a real browser (screenshots in target/debug/console-screenshots)"
cargo test -p alertwire-tests --features browser --test browser --locked 2>&1 | tee "$log_dir/browser.log"
count_results "$log_dir/browser.log"

step "Alertmanager: Debian's prometheus-alertmanager (installed in the background when missing), sending to alertwire"
cargo test -p alertwire-tests --features alertmanager --test alertmanager --locked 2>&1 | tee "$log_dir/alertmanager.log"
count_results "$log_dir/alertmanager.log"

step "tools: moto, cfn-lint, cargo-lambda and schemathesis in the project-local venv (installed in the background)"
wait_for_installs
export PATH="$venv/bin:$PATH"
PATH="$PATH:$sam_venv/bin" bash tests/cfn_lint.sh

step "API: schemathesis against alertwire serve and its /openapi.json (own network namespace, loopback only)"
bash tests/schemathesis.sh "${CARGO_TARGET_DIR:-target}/debug/alertwire" "$venv/bin/schemathesis" 2>&1 \
    | tee "$log_dir/schemathesis.log"

# shellcheck source=tests/loopback_ports.sh
. tests/loopback_ports.sh
pids=()
# Background services run in sessions of their own, so stopping one stops everything it started.
cleanup() { for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

step "AWS emulator: moto_server on 127.0.0.1"
moto_port=$(free_port)
setsid moto_server -H 127.0.0.1 -p "$moto_port" > "$log_dir/moto.log" 2>&1 &
pids+=($!)
wait_port "$moto_port"
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

step "Lambda functions under cargo lambda watch, against a moto of their own that checks IAM"
# Each function runs with credentials allowed only what its role in template.yaml allows; the other
# suites keep the moto above, which checks nothing (moto's IAM checks are per server).
iam_moto_port=$(free_port)
setsid moto_server -H 127.0.0.1 -p "$iam_moto_port" > "$log_dir/moto-iam.log" 2>&1 &
pids+=($!)
wait_port "$iam_moto_port"
iam_moto="http://127.0.0.1:$iam_moto_port"
# The settings template.yaml gives the functions, pointed at moto and opened to receivers on loopback.
export ALERTWIRE_TABLE=alertwire-e2e
export ALERTWIRE_QUEUE_URL="$iam_moto/123456789012/alertwire-e2e"
export ALERTWIRE_DLQ_URL="$iam_moto/123456789012/alertwire-e2e-dlq"
# The KMS key endpoint secrets are sealed under (the template's SecretsKey), made in that moto before
# its IAM checks start.
ALERTWIRE_KMS_KEY_ID=$(AWS_ENDPOINT_URL="$iam_moto" "$venv/bin/python" -c \
    'import boto3; print(boto3.client("kms").create_key()["KeyMetadata"]["Arn"])')
export ALERTWIRE_KMS_KEY_ID
# The bootstrap key events/api-post-alert.json sends.
ALERTWIRE_API_KEY_SHA256=$(printf %s demo-key-0123456789abcdef | sha256sum | cut -d' ' -f1)
export ALERTWIRE_API_KEY_SHA256 ALERTWIRE_ALLOW_TARGETS=127.0.0.0/8 ALERTWIRE_ALLOW_PORTS=any
export ALERTWIRE_RETRY_DELAYS=0ms ALERTWIRE_HTTP_TIMEOUT=5
# The end-to-end test counts an always-500 delivery's ten attempts and its redrive: the circuit breaker
# must not open before them. The breaker on the deliver path is tested in queue_conformance::deliver_and_replay.
export ALERTWIRE_BREAKER_FAILURES=11
# Roles and policies from template.yaml, one credentials file per function and one for the test's admin
# (under target/: cargo lambda watch rebuilds on any change inside a crate); then the checks start.
iam_dir="$root/target/lambda-iam"
rm -rf "$iam_dir"
AWS_ENDPOINT_URL="$iam_moto" python tests/lambda_iam.py template.yaml "$iam_dir"
export ALERTWIRE_LAMBDA_ADMIN_ENV="$iam_dir/admin.env" ALERTWIRE_LAMBDA_LOGS="$log_dir"
# watch runs a function with `cargo run --package alertwire-<name> --bin <name>`: built here first, one
# package at a time as it will, so the first invocations start at once. (cargo releases its lock while
# tests run.)
for package in alertwire-api alertwire-deliver alertwire-replay; do
    cargo build --locked -p "$package"
done
# One watch per function, with that function's credentials; --package lets it run no other function.
for function in api deliver replay; do
    port=$(free_port)
    (
        set -a
        # shellcheck source=/dev/null
        . "$iam_dir/$function.env"
        exec setsid cargo lambda watch --package "alertwire-$function" \
            --invoke-address 127.0.0.1 --invoke-port "$port"
    ) > "$log_dir/lambda-$function.log" 2>&1 &
    pids+=($!)
    wait_port "$port"
    export "ALERTWIRE_LAMBDA_INVOKE_${function^^}=http://127.0.0.1:$port"
done

step "tests: conformance suites on moto and the Lambda functions end to end"
# Their SQLite half ran above, in the default `cargo test --workspace`.
cargo test -p alertwire-tests --features aws --test aws --locked -- \
    --skip store_conformance::sqlite:: --skip queue_conformance::embedded:: 2>&1 | tee "$log_dir/aws.log"
count_results "$log_dir/aws.log"

step "cost: 100 alerts through the functions' services, every DynamoDB and SQS request metered (tests/cost.sh)"
# The requests per alert do not depend on the count; docs/aws.md has the table and its command.
bash tests/cost.sh 100 2>&1 | tee "$log_dir/cost.log"
count_results "$log_dir/cost.log"

printf '\ntests: %s passed, %s failed (in %ss)\n' "$passed" "$failed" "$(($(date +%s) - run_started))"
[ "$failed" -eq 0 ]
