#!/usr/bin/env bash
# Builds the three Lambda packages as they are deployed: `cargo lambda build --release` (x86_64 here; arm64
# needs its std, see docs/aws.md), and says how large each bootstrap is zipped. Not part of tests/run.sh:
# the release build of the AWS SDKs is the longest compile of all (about 7 minutes on two cores), while the
# functions' code runs in the test command under `cargo lambda watch`. Needs cargo-lambda on PATH
# (tests/run.sh installs it into .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/cargo-lambda ]; then export PATH="$PWD/.venv/bin:$PATH"; fi
cargo lambda build --release --locked --package alertwire-api --package alertwire-deliver --package alertwire-replay
for function in api deliver replay; do
    python3 - "$function" <<'PY'
import io, sys, zipfile, pathlib
name = sys.argv[1]
binary = pathlib.Path("target/lambda") / name / "bootstrap"
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(binary, "bootstrap")
print(f"package {name}: bootstrap {binary.stat().st_size / 1e6:.1f} MB, zipped {len(buffer.getvalue()) / 1e6:.1f} MB")
PY
done

