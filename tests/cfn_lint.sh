#!/usr/bin/env bash
# Checks the AWS deployment files: cfn-lint on template.yaml (no errors and no warnings allowed), the
# template's limits and alarms (tests/template_limits.py), every events/*.json parses, and
# `sam validate --lint` when the SAM CLI is on the PATH.
# Installs cfn-lint into a virtualenv (default ./.venv, or $ALERTWIRE_VENV) unless $CFN_LINT names one.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

cfn_lint=${CFN_LINT:-}
if [[ -z "$cfn_lint" ]]; then
    if command -v cfn-lint >/dev/null 2>&1; then
        cfn_lint=$(command -v cfn-lint)
    else
        venv=${ALERTWIRE_VENV:-.venv}
        if [[ ! -x "$venv/bin/cfn-lint" ]]; then
            step "installing cfn-lint into $venv"
            python3 -m venv "$venv"
            "$venv/bin/pip" install --quiet 'cfn-lint>=1.58,<2'
        fi
        cfn_lint="$venv/bin/cfn-lint"
    fi
fi

step "cfn-lint $("$cfn_lint" --version 2>&1 | awk '{print $2}') template.yaml"
"$cfn_lint" template.yaml # exits non-zero on any error or warning

step "template.yaml limits and alarms"
# The Python that runs cfn-lint has its YAML loader (short forms such as !Ref read as {"Ref": ...}).
cfn_python="$(dirname "$cfn_lint")/python"
[[ -x "$cfn_python" ]] || cfn_python=$(sed -n '1s/^#!//p' "$cfn_lint")
"$cfn_python" tests/template_limits.py template.yaml

step "events/*.json parse"
for f in events/*.json; do
    python3 -m json.tool "$f" >/dev/null
    echo "ok  $f"
done

if command -v sam >/dev/null 2>&1; then
    step "sam validate --lint"
    SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} sam validate --lint
else
    echo "sam not on the PATH: skipped sam validate --lint"
fi
