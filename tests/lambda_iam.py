"""Gives each Lambda function of template.yaml, on a moto_server of its own, credentials allowed only what
the template's role for that function allows, then turns on moto's IAM checks.

Reads template.yaml as it is now (never a copy): for each AWS::Serverless::Function, its binary
(Metadata.BuildProperties.Binary) and the policies of its Role, with !GetAtt/!Sub resolved to the table
and queues the end-to-end test creates on moto. Each role is created on moto under its template name with
those policies, and assumed: the temporary keys go to <out>/<binary>.env (with AWS_ENDPOINT_URL), which
tests/run.sh gives that function's `cargo lambda watch`. An admin user, allowed everything, is what the
test itself uses to create the table and queues and to read results: <out>/admin.env.

What moto can and cannot check, and the two rewrites made for it (DynamoDB resources, SQS batch
actions): docs/aws.md, "IAM on moto".

usage: lambda_iam.py TEMPLATE OUT_DIR  (AWS_ENDPOINT_URL: the moto_server to set up, still without checks;
       ALERTWIRE_TABLE, ALERTWIRE_QUEUE_URL, ALERTWIRE_DLQ_URL: the names the test creates)
"""

import json
import os
import pathlib
import re
import sys
import urllib.request

import boto3
from cfnlint.decode import decode

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "alertwire-e2e"

# AWS authorizes these calls with another action's permission; moto checks the call's own name.
AUTHORIZED_BY = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}


def physical_arns(template):
    """The ARN on moto of each resource a policy can name: `!GetAtt <id>.Arn`."""
    def queue_name(url_variable):
        return os.environ[url_variable].rstrip("/").rsplit("/", 1)[1]

    arns = {
        "Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{os.environ['ALERTWIRE_TABLE']}",
        "DeliveryQueue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name('ALERTWIRE_QUEUE_URL')}",
        "DeadLetterQueue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name('ALERTWIRE_DLQ_URL')}",
        # tests/run.sh makes the key in moto and passes its ARN, as the template passes SecretsKey's.
        "SecretsKey": os.environ["ALERTWIRE_KMS_KEY_ID"],
    }
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Logs::LogGroup":
            name = resolve(resource["Properties"]["LogGroupName"], arns)
            arns[logical_id] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"
    return arns


def arn_of(logical_id, arns):
    if logical_id not in arns:
        raise SystemExit(f"template.yaml: {logical_id} has no counterpart on moto (tests/lambda_iam.py)")
    return arns[logical_id]


def resolve(value, arns):
    """A policy value with its intrinsics replaced; an intrinsic this does not know stops the setup."""
    if isinstance(value, list):
        return [resolve(v, arns) for v in value]
    if not isinstance(value, dict):
        return value
    if list(value) == ["Fn::GetAtt"] and value["Fn::GetAtt"][1] == "Arn":
        return arn_of(value["Fn::GetAtt"][0], arns)
    if list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str):
        pseudo = {"AWS::StackName": STACK, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}

        def substitute(match):
            name = match.group(1)
            if name in pseudo:
                return pseudo[name]
            if name.endswith(".Arn"):
                return arn_of(name[: -len(".Arn")], arns)
            raise SystemExit(f"template.yaml: cannot resolve ${{{name}}} for moto")

        return re.sub(r"\$\{([^}]+)\}", substitute, value["Fn::Sub"])
    if any(key.startswith("Fn::") or key == "Ref" for key in value):
        raise SystemExit(f"template.yaml: cannot resolve {json.dumps(value)} for moto")
    return {k: resolve(v, arns) for k, v in value.items()}


def for_moto(statement):
    """The statement as moto must see it to check what AWS checks (see docs/aws.md, "IAM on moto")."""
    statement = dict(statement)
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    actions += [call for call, action in AUTHORIZED_BY.items() if action in actions]
    statement["Action"] = actions
    if all(action.startswith(("dynamodb:", "kms:")) for action in actions):
        # moto names no resource for DynamoDB and KMS calls ("*"): only the action can be checked.
        statement["Resource"] = "*"
    return statement


def function_roles(template):
    """(binary, role logical id, [(policy name, document)]) of each function in the template."""
    resources = template["Resources"]
    arns = physical_arns(template)
    for resource in resources.values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        role_id = resource["Properties"]["Role"]["Fn::GetAtt"][0]
        policies = []
        for policy in resources[role_id]["Properties"]["Policies"]:
            document = resolve(policy["PolicyDocument"], arns)
            document["Statement"] = [for_moto(s) for s in document["Statement"]]
            policies.append((policy["PolicyName"], document))
        yield binary, role_id, policies


def write_env(path, values):
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))


def main(template_path, out_dir):
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    template, problems = decode(template_path)
    if problems:
        raise SystemExit(f"{template_path}: {problems}")
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION)
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=REGION)

    admin = "alertwire-e2e-admin"
    iam.create_user(UserName=admin)
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName=admin, PolicyName="everything", PolicyDocument=json.dumps(allow_all))
    key = iam.create_access_key(UserName=admin)["AccessKey"]
    write_env(out / "admin.env", {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    })

    # The template's trust policy names lambda.amazonaws.com, which moto cannot be: here the admin
    # assumes the role instead (the trust policy is not under test, the role's permissions are).
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{admin}"}, "Action": "sts:AssumeRole",
    }]}
    for binary, role_id, policies in function_roles(template):
        role_arn = iam.create_role(RoleName=role_id, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        for name, document in policies:
            iam.put_role_policy(RoleName=role_id, PolicyName=name, PolicyDocument=json.dumps(document))
        credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=binary)["Credentials"]
        write_env(out / f"{binary}.env", {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        })
        print(f"{binary}: {role_id}, {sum(len(d['Statement']) for _, d in policies)} statements")

    # From the next request on, every call is checked against its caller's policies.
    # (A form content type, urllib's default, would hide the body from moto.)
    checks_on = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=b"0", headers={"Content-Type": "text/plain"}, method="POST"
    )
    print(urllib.request.urlopen(checks_on).read().decode())


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
