#!/usr/bin/env bash
# alertwire packaged as single-machine users run it (packaging/):
# - the container image: a static (musl) alertwire, built into an image FROM scratch by podman from
#   packaging/Dockerfile, run as its unprivileged user with a named volume for /data. One alert posted to
#   it is delivered to `alertwire listen` on 127.0.0.1, its HEALTHCHECK passes, and `podman stop` (SIGTERM)
#   ends it with exit status 0. The data survives a second container on the same volume.
# - the systemd unit: packaging/alertwire.service passes `systemd-analyze verify`, and its exposure score
#   (`systemd-analyze security`) is at most 2.0 ("OK").
# Installs Debian's podman, runc, musl-tools and curl and the musl target when missing; needs root for podman.
# Prints `test result:` lines for tests/run.sh to count.
set -euo pipefail
cd "$(dirname "$0")/.."
log_dir="$(pwd)/target/test-logs"
mkdir -p "$log_dir"
target=x86_64-unknown-linux-musl
# A debug build: the image is the same shape, and the build takes a third of a release one.
binary="target/$target/debug/alertwire"
image=localhost/alertwire-test
name="alertwire-test-$$"
volume="alertwire-test-data-$$"
key="container-test-key-0123456789abcdef"
passed=0

missing=()
command -v podman > /dev/null || missing+=(podman)
command -v runc > /dev/null || missing+=(runc)
command -v musl-gcc > /dev/null || missing+=(musl-tools)
command -v curl > /dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
    as_root=""
    [ "$(id -u)" -eq 0 ] || as_root="sudo"
    $as_root apt-get update > /dev/null
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" > /dev/null
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

echo "building a static alertwire ($target)" >&2
cargo build --locked --target "$target" -p alertwire --bin alertwire
if ! ldd "$binary" 2>&1 | grep -Eq "statically linked|not a dynamic executable"; then
    ldd "$binary" >&2
    echo "the alertwire binary for the image is not static" >&2
    exit 1
fi

# What the test machines need to run a container: runc, as crun does not
# take its cgroup layout, and limits the process may set. An ordinary host needs neither.
podman_run() {
    podman --runtime runc run --network host --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 "$@"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listen_pid=""
cleanup() {
    podman rm -f "$name" > /dev/null 2>&1 || true
    podman volume rm -f "$volume" > /dev/null 2>&1 || true
    [ -z "$listen_pid" ] || kill "$listen_pid" 2> /dev/null || true
}
trap cleanup EXIT

echo "building the image (FROM scratch) with podman" >&2
podman --runtime runc build --format docker -f packaging/Dockerfile --build-arg "BINARY=$binary" \
    -t "$image" . > "$log_dir/container-build.log" 2>&1 || { cat "$log_dir/container-build.log" >&2; exit 1; }
user=$(podman image inspect --format '{{.Config.User}}' "$image")
[ "$user" = "65532:65532" ] || { echo "the image runs as '$user', not its unprivileged user" >&2; exit 1; }
passed=$((passed + 1))

listen_port=$(free_port)
api_port=$(free_port)
"$binary" listen --port "$listen_port" > "$log_dir/container-listen.log" 2>&1 &
listen_pid=$!

start() {
    podman_run -d --name "$name" -v "$volume:/data" \
        -e ALERTWIRE_LISTEN="127.0.0.1:$api_port" -e ALERTWIRE_API_KEY="$key" \
        -e ALERTWIRE_ALLOW_TARGETS=127.0.0.0/8 -e ALERTWIRE_ALLOW_PORTS=any "$image" > /dev/null
    for _ in $(seq 1 100); do
        curl -fsS "http://127.0.0.1:$api_port/healthz" > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    podman logs "$name" >&2
    echo "the container did not answer /healthz" >&2
    exit 1
}
api() { curl -fsS -H "authorization: Bearer $key" -H 'content-type: application/json' "$@"; }

start
api -X POST "http://127.0.0.1:$api_port/v1/endpoints" \
    -d "{\"name\": \"listen\", \"url\": \"http://127.0.0.1:$listen_port/hook\"}" > /dev/null
api -X POST "http://127.0.0.1:$api_port/v1/alerts" \
    -d '{"title": "Delivered from a container", "severity": "high"}' > /dev/null
for _ in $(seq 1 100); do
    grep -q "Delivered from a container" "$log_dir/container-listen.log" && break
    sleep 0.1
done
grep -q "Delivered from a container" "$log_dir/container-listen.log" \
    || { podman logs "$name" >&2; echo "the alert was not delivered" >&2; exit 1; }
passed=$((passed + 1))

podman healthcheck run "$name" || { echo "the image's HEALTHCHECK failed" >&2; exit 1; }
passed=$((passed + 1))

podman stop -t 30 "$name" > /dev/null
status=$(podman inspect --format '{{.State.ExitCode}}' "$name")
[ "$status" = "0" ] || { podman logs "$name" >&2; echo "SIGTERM ended it with $status" >&2; exit 1; }
podman rm "$name" > /dev/null
passed=$((passed + 1))

# A new container on the same volume has the endpoint and the delivery.
start
listed=$(api "http://127.0.0.1:$api_port/v1/deliveries?status=delivered")
echo "$listed" | grep -q '"status":"delivered"' || { echo "the volume lost the delivery: $listed" >&2; exit 1; }
podman stop -t 30 "$name" > /dev/null
passed=$((passed + 1))

echo "checking the systemd unit" >&2
unit_dir=$(mktemp -d)
# verify checks that ExecStart's binary exists: point it at the one just built.
sed "s#/usr/local/bin/alertwire#$(pwd)/$binary#" packaging/alertwire.service > "$unit_dir/alertwire.service"
systemd-analyze verify "$unit_dir/alertwire.service"
passed=$((passed + 1))
systemd-analyze security --offline=yes --threshold=20 "$unit_dir/alertwire.service" > "$log_dir/unit-security.log" \
    || { cat "$log_dir/unit-security.log" >&2; echo "the unit's exposure is above 2.0" >&2; exit 1; }
tail -n 1 "$log_dir/unit-security.log" >&2
passed=$((passed + 1))
rm -rf "$unit_dir"

echo "test result: ok. $passed passed; 0 failed (the container image and the systemd unit)"
