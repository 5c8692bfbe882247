#!/usr/bin/env bash
# Runs every check and test of alertwire: formatting, lints, unit tests and the end-to-end suite against
# real HTTP receivers on 127.0.0.1. Installs what it needs by itself; needs only cargo on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "formatting"
cargo fmt --all --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build (the durability test runs the real binary)"
cargo build --workspace --bins --locked

step "tests"
cargo test --workspace --locked
