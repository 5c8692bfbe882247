"""Turns a metered run (tests/cost/metering_proxy.py's lines and the driver's summary) into dollars per
million alerts, with the price table of docs/aws.md. Prints markdown: the requests and capacity units per
alert, and the bill of a month with a million alerts.

Usage: price.py <template.yaml> <meter.jsonl> <summary.json> [<meter.jsonl> <summary.json> ...]

Measured: every DynamoDB and SQS request and its capacity units (the "alerts" phase, per alert; the
"reconcile" phase, per scheduled run), the api and deliver invocations, the bytes of the functions' EMF
lines and the distinct CloudWatch metrics they create. Assumed (no emulator can measure them): billed
durations, the other log bytes per invocation (Lambda's START/END/REPORT lines and the JSON log lines),
idle polls of the event source mapping. Each assumption is a constant below and is printed with the table.
Read from the template: the functions' memory, their log levels (which of the assumed lines are written)
and API Gateway's access log line (its format with typical values in place of the variables).
"""

import collections
import json
import re
import sys

from cfnlint.decode import cfn_yaml

MILLION = 1_000_000

# Prices: docs/aws.md, "What a million alerts cost" (us-east-1, on demand, USD).
API_GATEWAY_PER_REQUEST = 1.00 / MILLION
LAMBDA_PER_REQUEST = 0.20 / MILLION
LAMBDA_PER_GB_SECOND = 0.0000133334  # arm64
SQS_PER_REQUEST = 0.40 / MILLION
DYNAMODB_PER_WRU = 0.625 / MILLION
DYNAMODB_PER_RRU = 0.125 / MILLION
LOGS_PER_GB = 0.50
KMS_KEY_PER_MONTH = 1.00  # a customer-managed key (SecretsKey); its yearly rotation adds no charge here
KMS_PER_REQUEST = 0.03 / 10_000
METRIC_PER_MONTH = 0.30

# Assumptions (docs/aws.md explains each).
API_BILLED_SECONDS = 0.050
DELIVER_BILLED_SECONDS = 0.300  # per invocation of one task: the receiver's answer dominates
RECONCILE_BILLED_SECONDS = 0.100
IDLE_POLLS_PER_MONTH = 648_000
RECONCILE_RUNS_PER_MONTH = 30 * 24 * 4
# Lambda's START and REPORT lines (JSON format), written when SystemLogLevel is INFO or DEBUG.
SYSTEM_LOG_BYTES = 350
# The deliver function's JSON line per attempt at the debug level. At info the functions log state changes
# only (an endpoint failing or recovering, a delivery dead), nothing per accepted or delivered alert.
ATTEMPT_LOG_BYTES = 330
# A typical value of each API Gateway access log variable (an IPv4 address, a 2 KB alert, a user agent).
ACCESS_LOG_VALUES = {
    "requestId": "Jx1aBgHgoAMEVxQ=", "identity.sourceIp": "203.0.113.17",
    "requestTime": "06/Dec/2026:04:10:00 +0000", "httpMethod": "POST", "path": "/v1/alerts",
    "status": "202", "responseLength": "131", "responseLatency": "38", "integrationLatency": "35",
    "integrationErrorMessage": "-", "identity.userAgent": "Grafana/11.3.0",
}


class Template:
    """What the bill reads from template.yaml."""

    def __init__(self, path):
        self.doc = cfn_yaml.load(path)

    def default(self, parameter):
        return self.doc["Parameters"][parameter]["Default"]

    def resolved(self, value):
        if isinstance(value, dict) and set(value) == {"Ref"}:
            return self.default(value["Ref"])
        return value

    def memory_gb(self):
        memory = self.resolved(self.doc["Globals"]["Function"]["MemorySize"])
        for name, resource in self.doc["Resources"].items():
            if resource["Type"] == "AWS::Serverless::Function" and "MemorySize" in resource["Properties"]:
                raise SystemExit(f"{name} has a MemorySize of its own; the bill assumes one for all")
        return int(memory) / 1024

    def system_log_bytes(self):
        levels = {
            self.resolved(resource["Properties"].get("LoggingConfig", {}).get("SystemLogLevel", "INFO"))
            for resource in self.doc["Resources"].values()
            if resource["Type"] == "AWS::Serverless::Function"
        }
        if len(levels) != 1:
            raise SystemExit(f"the functions' SystemLogLevels differ: {levels}")
        return 0 if levels.pop() == "WARN" else SYSTEM_LOG_BYTES

    def attempt_log_bytes(self):
        variables = self.doc["Globals"]["Function"]["Environment"]["Variables"]
        level = str(self.resolved(variables.get("ALERTWIRE_LOG", variables.get("RUST_LOG", "info"))))
        return ATTEMPT_LOG_BYTES if re.match(r"^(debug|trace)\b", level.lower()) else 0

    def access_log_bytes(self):
        """API Gateway's access log line of one alert, from the stage's format."""
        line = self.doc["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]["Format"]
        line = re.sub(r"\$context\.([A-Za-z.]+)", lambda m: ACCESS_LOG_VALUES[m.group(1)], line)
        return len(line.encode()) + 1  # and its newline


def load(meter_path):
    by_phase = collections.defaultdict(list)
    for line in open(meter_path):
        entry = json.loads(line)
        by_phase[entry["phase"]].append(entry)
    return by_phase


def totals(entries):
    """Requests per service and operation, and the units they bill."""
    requests = collections.Counter()
    sqs_billed = wru = index_wru = rru = kms = 0
    empty_receives = 0
    for e in entries:
        if e["service"] == "sqs" and e["operation"] == "ReceiveMessage" and e.get("messages") == 0:
            empty_receives += 1  # idle polls are priced apart, as the event source mapping's
            continue
        requests[(e["service"], e["operation"])] += 1
        if e["service"] == "kms":
            kms += 1
        if e["service"] == "sqs":
            sqs_billed += e["requests"]
        elif e["service"] == "dynamodb":
            wru += e.get("wru", 0)
            index_wru += e.get("index_wru", 0)
            rru += e.get("rru", 0)
    return requests, sqs_billed, wru, index_wru, rru, kms, empty_receives


def bill(template, meter_path, summary_path):
    summary = json.load(open(summary_path))
    phases = load(meter_path)
    alerts = summary["alerts"]
    scale = MILLION / alerts
    gb = template.memory_gb()
    system = template.system_log_bytes()
    requests, sqs_billed, wru, index_wru, rru, kms, empty = totals(phases["alerts"])
    r_requests, r_sqs, r_wru, r_index_wru, r_rru, r_kms, r_empty = totals(phases["reconcile"])
    deliver_invocations = summary["deliver_invocations"] * scale

    lines = collections.OrderedDict()
    lines["API Gateway"] = MILLION * API_GATEWAY_PER_REQUEST
    lines["Lambda requests"] = (MILLION + deliver_invocations + RECONCILE_RUNS_PER_MONTH) * LAMBDA_PER_REQUEST
    gb_seconds = gb * (
        MILLION * API_BILLED_SECONDS
        + deliver_invocations * DELIVER_BILLED_SECONDS
        + RECONCILE_RUNS_PER_MONTH * RECONCILE_BILLED_SECONDS
    )
    lines["Lambda compute"] = gb_seconds * LAMBDA_PER_GB_SECOND
    sqs_requests = sqs_billed * scale + IDLE_POLLS_PER_MONTH + (r_sqs + r_empty) * RECONCILE_RUNS_PER_MONTH
    lines["SQS"] = sqs_requests * SQS_PER_REQUEST
    month_wru = (wru + index_wru) * scale + (r_wru + r_index_wru) * RECONCILE_RUNS_PER_MONTH
    month_rru = rru * scale + r_rru * RECONCILE_RUNS_PER_MONTH
    lines["DynamoDB writes"] = month_wru * DYNAMODB_PER_WRU
    lines["DynamoDB reads"] = month_rru * DYNAMODB_PER_RRU
    log_bytes = (
        MILLION * (system + template.access_log_bytes())
        + deliver_invocations * system
        + summary["attempts"] * scale * template.attempt_log_bytes()
        + RECONCILE_RUNS_PER_MONTH * system
        + (summary["emf_bytes_api"] + summary["emf_bytes_deliver"]) * scale
    )
    lines["CloudWatch Logs"] = log_bytes / 1e9 * LOGS_PER_GB
    lines["CloudWatch metrics"] = len(summary["emf_metrics"]) * METRIC_PER_MONTH
    # Per alert (after the cold start, which asks KMS once per container) and per reconcile run.
    kms_requests = kms * scale + r_kms * RECONCILE_RUNS_PER_MONTH
    lines["KMS (key and requests)"] = KMS_KEY_PER_MONTH + kms_requests * KMS_PER_REQUEST

    retry = summary["retry_every"]
    others = summary.get("other_endpoints", 0)
    routed = "one endpoint" if others == 0 else (
        f"one endpoint routed, {others} more whose matchers no alert holds"
    )
    title = f"{routed}, all delivered on the first attempt" if retry == 0 else (
        f"{routed}, every {retry}th alert needing three attempts"
    )
    print(f"### {alerts:,} alerts, {title}\n")
    print(f"Attempts: {summary['attempts']:,}; deliver invocations: {summary['deliver_invocations']:,} "
          f"({summary['tasks_handed_to_deliver'] / max(1, summary['deliver_invocations']):.2f} tasks each); "
          f"reconcile answered {json.dumps(summary['reconcile'])}.\n")
    print("| requests per alert | count |")
    print("|---|---|")
    for (service, operation), count in sorted(requests.items()):
        print(f"| {service} `{operation}` | {count / alerts:.3f} |")
    print(f"| DynamoDB write units (table) | {wru / alerts:.2f} |")
    print(f"| DynamoDB write units (indexes) | {index_wru / alerts:.2f} |")
    print(f"| DynamoDB read units | {rru / alerts:.2f} |")
    print(f"| SQS billed requests | {sqs_billed / alerts:.3f} |")
    print(f"| EMF bytes (api + deliver) | {summary['emf_bytes_api'] / alerts:.0f} + "
          f"{summary['emf_bytes_deliver'] / alerts:.0f} |")
    print()
    print(f"CloudWatch metrics created ({len(summary['emf_metrics'])}): "
          + ", ".join(f"`{m}`" for m in summary["emf_metrics"]) + ".\n")
    reconcile_ops = ", ".join(f"{op} {n}" for (_, op), n in sorted(r_requests.items()))
    print(f"A reconcile run with no dead letters: {reconcile_ops or 'nothing'}; "
          f"{r_wru + r_index_wru} WRU, {r_rru} RRU, {r_sqs + r_empty} SQS requests.\n")
    print("| a month with 1,000,000 alerts | cost |")
    print("|---|---|")
    for name, dollars in lines.items():
        print(f"| {name} | ${dollars:.2f} |")
    total = sum(lines.values())
    print(f"| **total** | **${total:.2f}** |\n")
    return total


def main():
    path, runs = sys.argv[1], sys.argv[2:]
    if not runs or len(runs) % 2:
        raise SystemExit(__doc__)
    template = Template(path)
    print(
        f"Assumed: billed {API_BILLED_SECONDS * 1000:.0f} ms per api invocation, "
        f"{DELIVER_BILLED_SECONDS * 1000:.0f} ms per deliver invocation, {RECONCILE_BILLED_SECONDS * 1000:.0f} ms "
        f"per reconcile; {IDLE_POLLS_PER_MONTH:,} idle polls a month; "
        f"{RECONCILE_RUNS_PER_MONTH:,} reconcile runs a month.\n\n"
        f"From the template: memory {template.memory_gb() * 1024:.0f} MB; Lambda's START and REPORT lines "
        f"{template.system_log_bytes()} bytes per invocation ({SYSTEM_LOG_BYTES} at SystemLogLevel INFO); "
        f"the deliver function's log line per attempt {template.attempt_log_bytes()} bytes "
        f"({ATTEMPT_LOG_BYTES} at the debug level); API Gateway's access log line "
        f"{template.access_log_bytes()} bytes per alert.\n"
    )
    for meter_path, summary_path in zip(runs[::2], runs[1::2]):
        bill(template, meter_path, summary_path)


if __name__ == "__main__":
    main()
