#!/usr/bin/env bash
# Fuzzes the template engine, the alert parser and the label matcher parser with cargo-fuzz (libFuzzer):
# `tests/fuzz.sh [seconds]` runs each target for that long (default 600). cargo-fuzz is installed into .tools/
# on first use. Only a stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets it accept the unstable coverage flags
# cargo-fuzz passes. Crashes land in fuzz/artifacts/<target>/; the corpus grows in target/fuzz-corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${1:-600}
cargo_fuzz_version=0.13.2

if ! "$root/.tools/bin/cargo-fuzz" --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
    cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked --root "$root/.tools"
fi
export PATH="$root/.tools/bin:$PATH" RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}/fuzz"

# No sanitizer: the targets are safe Rust, and AddressSanitizer doubles the build. Overflow checks and debug
# assertions always. A short run (the test command's smoke, under 5 minutes a target) builds unoptimised:
# about 7 minutes on two cores instead of 21, for a tenth of the executions a second. Longer runs optimise.
if [ "$seconds" -lt 300 ]; then
    flags=(--dev --sanitizer none)
else
    flags=(-O --debug-assertions --sanitizer none --codegen-units 16)
fi
cd fuzz
cargo fuzz build "${flags[@]}"
for target in template alert_parser matcher; do
    corpus="$root/target/fuzz-corpus/$target"
    mkdir -p "$corpus"
    printf '\n==> fuzz %s for %ss\n' "$target" "$seconds"
    cargo fuzz run "${flags[@]}" "$target" "$corpus" "seeds/$target" -- \
        -max_total_time="$seconds" -dict="$target.dict" -timeout=30 -print_final_stats=1 2>&1 |
        tee "$root/target/fuzz-$target.log" | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==|SUMMARY)|panicked' || true
    if grep -qE 'Test unit written|SUMMARY|panicked' "$root/target/fuzz-$target.log"; then
        echo "fuzz $target found a failure: see target/fuzz-$target.log and fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
