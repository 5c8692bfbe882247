"""Checks the limits and alarms of template.yaml that cfn-lint cannot know we want: queues retained with the
stack, one replay at a time, the deliver event source's concurrency bound to a parameter, API Gateway
throttling and access logs, and the CloudWatch alarms with the metrics they watch.

Run by tests/cfn_lint.sh with the Python that has cfn-lint (its YAML loader reads !Ref and friends):
    python tests/template_limits.py [template.yaml]
"""

import sys

from cfnlint.decode import cfn_yaml


def ref(name):
    return {"Ref": name}


def check(template):
    failures = []

    def expect(condition, message):
        if not condition:
            failures.append(message)

    parameters = template.get("Parameters", {})
    resources = template["Resources"]

    def props(name):
        return resources.get(name, {}).get("Properties", {})

    # Stack deletion or replacement keeps the queues and the messages on them.
    for queue in ["DeliveryQueue", "DeadLetterQueue"]:
        for policy in ["DeletionPolicy", "UpdateReplacePolicy"]:
            expect(resources[queue].get(policy) == "Retain", f"{queue} has no {policy}: Retain")

    # The deliver function refuses retry schedules longer than this retention (TASK_RETENTION in
    # shared/src/aws/sqs/queue.rs): the two must agree.
    expect(
        props("DeliveryQueue").get("MessageRetentionPeriod") == 345600,
        "DeliveryQueue's MessageRetentionPeriod is not the 4 days the deliver function's settings check assumes",
    )

    # Two dead-letter sweeps must never run at once.
    expect(
        props("ReplayFunction").get("ReservedConcurrentExecutions") == 1,
        "ReplayFunction lacks ReservedConcurrentExecutions: 1",
    )

    # The deliver function's SQS event source stops polling at a bounded concurrency.
    tasks = props("DeliverFunction").get("Events", {}).get("Tasks", {}).get("Properties", {})
    scaling = tasks.get("ScalingConfig", {}).get("MaximumConcurrency")
    expect(
        scaling == ref("DeliverMaxConcurrency"),
        f"the deliver event source's ScalingConfig.MaximumConcurrency is {scaling!r}, not the parameter",
    )
    concurrency = parameters.get("DeliverMaxConcurrency", {})
    expect(
        concurrency.get("MinValue") == 2 and concurrency.get("MaxValue") == 1000,
        "DeliverMaxConcurrency must allow 2 to 1000 (what SQS event sources accept)",
    )

    # API Gateway: throttling on every route, and JSON access logs to a log group with retention.
    api = props("HttpApi")
    routes = api.get("DefaultRouteSettings", {})
    expect(
        routes.get("ThrottlingRateLimit") == ref("ApiThrottlingRateLimit")
        and routes.get("ThrottlingBurstLimit") == ref("ApiThrottlingBurstLimit"),
        "HttpApi.DefaultRouteSettings lacks the throttling parameters",
    )
    access = api.get("AccessLogSettings", {})
    destination = access.get("DestinationArn", {})
    group = destination.get("Fn::GetAtt", [None])[0] if isinstance(destination, dict) else None
    expect(group in resources, "HttpApi's access logs go to no log group of the stack")
    if group in resources:
        expect(
            resources[group]["Type"] == "AWS::Logs::LogGroup"
            and props(group).get("RetentionInDays") == ref("LogRetentionDays"),
            f"{group} is not a log group kept LogRetentionDays",
        )
    log_format = access.get("Format", "")
    expect(
        isinstance(log_format, str)
        and log_format.lstrip().startswith("{")
        and "$context.requestId" in log_format
        and "$context.status" in log_format,
        "the access log format is not JSON with the request id and status",
    )

    # Alarms: which metric of which resource each watches.
    alarms = {
        name: resource["Properties"]
        for name, resource in resources.items()
        if resource.get("Type") == "AWS::CloudWatch::Alarm"
    }

    def watched(alarm):
        """(namespace, metric, dimensions) of an alarm's metric, or of each metric its math adds up."""
        if "MetricName" in alarm:
            yield alarm.get("Namespace"), alarm["MetricName"], alarm.get("Dimensions", [])
        for query in alarm.get("Metrics", []):
            metric = query.get("MetricStat", {}).get("Metric")
            if metric:
                yield metric.get("Namespace"), metric.get("MetricName"), metric.get("Dimensions", [])

    def alarm_on(namespace, metric, dimension, value):
        for name, alarm in alarms.items():
            for n, m, dims in watched(alarm):
                if n == namespace and m == metric and {"Name": dimension, "Value": value} in dims:
                    return name, alarm
        return None, None

    sqs_name = lambda queue: {"Fn::GetAtt": [queue, "QueueName"]}  # noqa: E731
    name, alarm = alarm_on("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", sqs_name("DeadLetterQueue"))
    expect(
        alarm is not None and alarm.get("Threshold") == 0 and alarm.get("ComparisonOperator") == "GreaterThanThreshold",
        "no alarm on a dead letter (DLQ ApproximateNumberOfMessagesVisible > 0)",
    )
    name, alarm = alarm_on("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", sqs_name("DeliveryQueue"))
    expect(
        alarm is not None and alarm.get("Threshold") == ref("TaskAgeAlarmSeconds"),
        "no alarm on the task queue's oldest message over TaskAgeAlarmSeconds",
    )
    for metric in ["Errors", "Throttles"]:
        name, alarm = alarm_on("AWS/Lambda", metric, "FunctionName", ref("DeliverFunction"))
        expect(alarm is not None, f"no alarm on the deliver function's {metric}")
    name, alarm = alarm_on("AWS/DynamoDB", "WriteThrottleEvents", "TableName", ref("Table"))
    expect(alarm is not None, "no alarm on the table's throttled writes")
    if alarm is not None:
        metrics = [m for _, m, _ in watched(alarm)]
        expect("ReadThrottleEvents" in metrics, "the table's throttling alarm misses throttled reads")
        indexes = {
            d["Value"]
            for _, _, dims in watched(alarm)
            for d in dims
            if d["Name"] == "GlobalSecondaryIndexName"
        }
        declared = {i["IndexName"] for i in props("Table")["GlobalSecondaryIndexes"]}
        expect(indexes == declared, f"the throttling alarm watches indexes {sorted(indexes)}, not {sorted(declared)}")
    # The alertwire metrics the functions write as EMF are those the alarms read: a metric no alarm reads
    # is billed for nothing, and an alarm on a metric not written never fires.
    emf_default = str(parameters.get("EmfMetrics", {}).get("Default", "all"))
    written = None if emf_default == "all" else {n.strip() for n in emf_default.split(",") if n.strip()}
    alarmed = {m for alarm in alarms.values() for n, m, _ in watched(alarm) if n == "alertwire"}
    expect(
        written is not None and written == alarmed,
        f"EmfMetrics' default writes {emf_default!r}, the alarms read {sorted(alarmed)}",
    )
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    expect(
        globals_env.get("ALERTWIRE_EMF_METRICS") == ref("EmfMetrics"),
        "the functions are not given ALERTWIRE_EMF_METRICS from EmfMetrics",
    )

    # Logs: JSON, so Lambda filters its own START/REPORT lines at SystemLogLevel. EMF lines carry no level
    # and count as INFO, so an application level above INFO would drop every metric.
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        logging = props(name).get("LoggingConfig", {})
        expect(
            logging.get("LogFormat") == "JSON" and logging.get("SystemLogLevel") == ref("SystemLogLevel"),
            f"{name}'s LoggingConfig is not JSON with SystemLogLevel",
        )
        expect(
            logging.get("ApplicationLogLevel", "INFO") in ("INFO", "DEBUG", "TRACE"),
            f"{name}'s ApplicationLogLevel {logging.get('ApplicationLogLevel')} filters out the EMF lines",
        )

    for name, alarm in alarms.items():
        expect(
            alarm.get("AlarmActions") == {"Fn::If": ["HasAlarmTopic", [ref("AlarmTopicArn")], []]},
            f"{name} does not notify AlarmTopicArn when one is given",
        )
    return failures


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    failures = check(cfn_yaml.load(path))
    for failure in failures:
        print(f"FAIL  {failure}")
    if failures:
        sys.exit(1)
    print(f"ok  {path}: queues retained, one replay at a time, deliver concurrency bounded, API throttled and logged, alarms in place")


if __name__ == "__main__":
    main()
