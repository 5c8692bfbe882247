"""A metering proxy in front of moto: forwards every DynamoDB and SQS request unchanged and writes one JSON
line per request with what AWS would bill for it.

- DynamoDB: read and write request units, computed from the items themselves. For each write the proxy
  reads the item before and after (straight from moto, not metered), so a write is priced at the larger of
  the two sizes, transactional writes twice, and each global secondary index the item enters, leaves, or
  stays in while it changes is one more write (two when its key changes). Reads are priced from the items
  answered (4 KB units; half for eventually consistent reads; a read that finds nothing still costs one).
- SQS: one request per 64 KB of payload, at least one.
- KMS: each request.

Usage: metering_proxy.py <listen port> <moto url> <output.jsonl>
The driver names the phase of what follows with `POST /__meter/phase` and a JSON body {"phase": name};
requests before the first phase are metered as "setup".
"""

import json
import math
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

KB = 1024
DYNAMODB_TARGET = "DynamoDB_20120810."
SQS_TARGET = "AmazonSQS."
KMS_TARGET = "TrentService."
SQS_PAYLOAD_CHUNK = 64 * KB


def attribute_size(value):
    """The size DynamoDB counts for one attribute value (the documented item size rules)."""
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(inner) * 3 // 4  # base64 in the JSON protocol
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(attribute_size({"N": n}) for n in inner)
    if kind == "BS":
        return sum(len(b) * 3 // 4 for b in inner)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_size(v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_kind(key):
    """What an item is, from its key without the ids: `T#/EP#` for `T#acme`, `EP#01J...`."""
    return "/".join(value.get("S", "?").split("#")[0] + "#" for value in key.values())


def item_size(item):
    if not item:
        return 0
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


class Table:
    """What the proxy knows of one table: its key attributes and its indexes (name, key attributes)."""

    def __init__(self, description):
        self.key = [k["AttributeName"] for k in description["KeySchema"]]
        self.indexes = [
            (index["IndexName"], [k["AttributeName"] for k in index["KeySchema"]])
            for index in description.get("GlobalSecondaryIndexes", [])
        ]


class Meter:
    def __init__(self, moto_url, output):
        self.moto_url = moto_url
        self.output = open(output, "a", buffering=1)
        self.phase = "setup"
        self.tables = {}
        # Writes are forwarded one at a time, so the items read around a write are the write's own.
        self.write_lock = threading.Lock()
        self.dynamodb = boto3.client("dynamodb", endpoint_url=moto_url)

    def table(self, name):
        if name not in self.tables:
            self.tables[name] = Table(self.dynamodb.describe_table(TableName=name)["Table"])
        return self.tables[name]

    def get(self, table, key):
        return self.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def record(self, entry):
        entry["phase"] = self.phase
        self.output.write(json.dumps(entry) + "\n")

    # ---------------------------------------------------------------- DynamoDB writes

    def write_units(self, table_name, before, after, transactional):
        """Base-table and index write units of one item going from `before` to `after` (None = absent)."""
        table = self.table(table_name)
        units = max(1, math.ceil(max(item_size(before), item_size(after)) / KB))
        if transactional:
            units *= 2
        index_units = 0
        changed = before != after
        for _, key in table.indexes:
            was_in = before is not None and all(k in before for k in key)
            is_in = after is not None and all(k in after for k in key)
            old = math.ceil(item_size(before) / KB) if was_in else 0
            new = math.ceil(item_size(after) / KB) if is_in else 0
            if was_in and is_in:
                if any(before[k] != after[k] for k in key):
                    index_units += old + new
                elif changed:
                    index_units += new  # projection ALL: any change rewrites the index entry
            else:
                index_units += old + new
        return units, index_units

    def item_key(self, table_name, request):
        if "Key" in request:
            return request["Key"]
        item = request["Item"]
        return {k: item[k] for k in self.table(table_name).key}

    def forward_write(self, operation, body, forward):
        """Forwards a write with the items around it read, and returns the answer and the entry."""
        request = json.loads(body)
        if operation == "TransactWriteItems":
            parts = [(kind, part) for element in request["TransactItems"] for kind, part in element.items()]
            transactional = True
        elif operation == "BatchWriteItem":
            parts = [
                ("Put" if "PutRequest" in w else "Delete", {"TableName": t, **(w.get("PutRequest") or w["DeleteRequest"])})
                for t, writes in request["RequestItems"].items()
                for w in writes
            ]
            transactional = False
        else:
            parts = [(operation.replace("Item", ""), request)]
            transactional = False
        with self.write_lock:
            keys = [(part["TableName"], self.item_key(part["TableName"], part)) for _, part in parts]
            befores = [self.get(t, k) for t, k in keys]
            answer = forward()
            afters = [self.get(t, k) for t, k in keys]
        units = index_units = 0
        for (kind, _), (table, _), before, after in zip(parts, keys, befores, afters):
            if kind == "ConditionCheck":
                units += 2 * max(1, math.ceil(item_size(before) / KB))
                continue
            u, i = self.write_units(table, before, after, transactional)
            units, index_units = units + u, index_units + i
        return answer, {
            "items": len(parts),
            "wru": units,
            "index_wru": index_units,
            "kinds": [f"{kind} {item_kind(key)}" for (kind, _), (_, key) in zip(parts, keys)],
        }

    # ---------------------------------------------------------------- DynamoDB reads

    @staticmethod
    def read_units(total_bytes, consistent, items=1):
        units = max(items, math.ceil(total_bytes / (4 * KB)))
        return units if consistent else units / 2

    def read_entry(self, operation, request, response):
        if operation == "GetItem":
            size = item_size(response.get("Item"))
            return {"items": 1, "rru": self.read_units(size, request.get("ConsistentRead", False))}
        if operation in ("Query", "Scan"):
            items = response.get("Items", [])
            consistent = request.get("ConsistentRead", False) and "IndexName" not in request
            size = sum(item_size(i) for i in items)
            return {"items": len(items), "rru": self.read_units(size, consistent)}
        if operation == "BatchGetItem":
            rru = 0
            count = 0
            for table, items in response.get("Responses", {}).items():
                consistent = request["RequestItems"][table].get("ConsistentRead", False)
                for item in items:
                    rru += self.read_units(item_size(item), consistent)
                    count += 1
            return {"items": count, "rru": rru}
        return {}


class Handler(BaseHTTPRequestHandler):
    meter: Meter

    def log_message(self, *_):
        pass

    def do_GET(self):
        self.proxy()

    def do_POST(self):
        if self.path == "/__meter/phase":
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.meter.phase = json.loads(body)["phase"]
            self.answer(200, {}, b"{}")
            return
        self.proxy()

    def answer(self, status, headers, body):
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def proxy(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        target = self.headers.get("X-Amz-Target", "")

        def forward():
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            request = urllib.request.Request(
                self.meter.moto_url + self.path, data=body or None, headers=headers, method=self.command
            )
            try:
                with urllib.request.urlopen(request) as response:
                    return response.status, dict(response.headers), response.read()
            except urllib.error.HTTPError as error:
                return error.code, dict(error.headers), error.read()

        if target.startswith(DYNAMODB_TARGET):
            operation = target[len(DYNAMODB_TARGET):]
            if operation in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"):
                (status, headers, answer), entry = self.meter.forward_write(operation, body, forward)
            else:
                status, headers, answer = forward()
                entry = {}
                if status == 200:
                    entry = self.meter.read_entry(operation, json.loads(body), json.loads(answer))
            self.meter.record({"service": "dynamodb", "operation": operation, "status": status, **entry})
        elif target.startswith(SQS_TARGET):
            operation = target[len(SQS_TARGET):]
            status, headers, answer = forward()
            requests = max(1, math.ceil(len(body) / SQS_PAYLOAD_CHUNK))
            entry = {"service": "sqs", "operation": operation, "status": status, "requests": requests}
            if operation == "ReceiveMessage" and status == 200:
                entry["messages"] = len(json.loads(answer or b"{}").get("Messages", []))
            self.meter.record(entry)
        elif target.startswith(KMS_TARGET):
            status, headers, answer = forward()
            self.meter.record({"service": "kms", "operation": target[len(KMS_TARGET):], "status": status})
        else:
            status, headers, answer = forward()
            self.meter.record({"service": "other", "operation": self.path, "status": status})
        self.answer(status, headers, answer)


def main():
    port, moto_url, output = int(sys.argv[1]), sys.argv[2].rstrip("/"), sys.argv[3]
    Handler.meter = Meter(moto_url, output)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
