"""terraform/ read with python-hcl2: the security properties it promises, and that the Lambda's
handler, runtime, environment and metrics are the ones the code has.

Every property is checked by a helper that returns the problems it finds (an empty list when there
are none); the last tests run the same helpers on deliberately bad snippets, so a check that could
never fail would show there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
import pytest

from lambda_exporter import observability
from tools import build_lambda

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
MODULE_NAMES = ("network", "storage", "exporter", "snowflake")
EXAMPLE = TERRAFORM / "examples" / "complete"
ROOTS = [TERRAFORM / "modules" / m for m in MODULE_NAMES] + [EXAMPLE]
TF_FILES = sorted(TERRAFORM.rglob("*.tf"))
OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)

REQUIRED_TAGS = {"project", "environment", "cost-centre", "managed-by"}
# AWS resource types that take no tags argument
UNTAGGABLE = {
    "aws_cloudwatch_dashboard",
    "aws_cloudwatch_event_target",
    "aws_iam_role_policy",
    "aws_kms_alias",
    "aws_lambda_alias",
    "aws_lambda_function_event_invoke_config",
    "aws_lambda_permission",
    "aws_rds_cluster_role_association",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_logging",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_policy",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_versioning",
    "aws_sqs_queue_policy",
}
# The only actions allowed on Resource "*" in the exporter's policies: AWS has no resource-level
# permissions for them (Lambda ENIs in a VPC, X-Ray trace upload).
STAR_RESOURCE_ACTIONS = frozenset(
    {
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
)
# Read by Powertools, not by lambda_exporter itself (docs/CONFIGURATION.md lists it)
POWERTOOLS_ENV = {"POWERTOOLS_LOG_LEVEL"}
# The exporter must never carry these in its Lambda environment: Vault login is by IAM role
# (and reads the manifest signing key from Vault), and it writes only to AWS's S3 endpoints
FORBIDDEN_ENV = {
    "VAULT_TOKEN",
    "VAULT_SKIP_VERIFY",
    "AURORA_SYNC_SOURCE_DSN",
    "AURORA_SYNC_MANIFEST_SIGNING_KEY",
    "AURORA_SYNC_ALLOW_LOCAL_ENDPOINT",
}
SECRET_NAME = re.compile(r"password|private_key|token|secret_key|passphrase")


# --------------------------------------------------------------------------- reading HCL


def parse(text: str) -> dict[str, Any]:
    return dict(hcl2.loads(text, serialization_options=OPTIONS))


@dataclass
class Module:
    """All top-level blocks of one directory's .tf files, merged."""

    path: Path
    blocks: dict[str, list[dict[str, Any]]]

    @classmethod
    def load(cls, path: Path) -> Module:
        return cls.from_texts(path, [f.read_text() for f in sorted(path.glob("*.tf"))])

    @classmethod
    def from_texts(cls, path: Path, texts: list[str]) -> Module:
        blocks: dict[str, list[dict[str, Any]]] = {}
        for text in texts:
            for key, items in parse(text).items():
                blocks.setdefault(key, []).extend(items)
        return cls(path, blocks)

    def _typed(self, kind: str) -> dict[str, dict[str, dict[str, Any]]]:
        merged: dict[str, dict[str, dict[str, Any]]] = {}
        for item in self.blocks.get(kind, []):
            for rtype, named in item.items():
                merged.setdefault(rtype, {}).update(named)
        return merged

    def resources(self, rtype: str | None = None) -> dict[str, Any]:
        typed = self._typed("resource")
        return typed.get(rtype, {}) if rtype else typed

    def data(self, dtype: str) -> dict[str, dict[str, Any]]:
        return self._typed("data").get(dtype, {})

    def named(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: body for item in self.blocks.get(kind, []) for name, body in item.items()}

    def locals(self) -> dict[str, Any]:
        return {k: v for item in self.blocks.get("locals", []) for k, v in item.items()}

    def statements(self, document: str) -> list[dict[str, Any]]:
        return list(self.data("aws_iam_policy_document")[document].get("statement", []))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The first (usually only) nested block `name`, or {}."""
    found = body.get(name) or [{}]
    return dict(found[0])


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return {m: Module.load(TERRAFORM / "modules" / m) for m in MODULE_NAMES}


@pytest.fixture(scope="module")
def example() -> Module:
    return Module.load(EXAMPLE)


# --------------------------------------------------------------------------- checks (return problems)


def version_problems(module: Module) -> list[str]:
    problems = []
    settings = [b for b in module.blocks.get("terraform", []) if "required_version" in b]
    if not settings:
        return [f"{module.path.name}: no terraform.required_version"]
    for setting in settings:
        if not str(setting["required_version"]).startswith("~>"):
            problems.append(f"required_version {setting['required_version']!r} is not pinned with ~>")
        for providers in setting.get("required_providers", []):
            for name, spec in providers.items():
                version = str(spec.get("version", ""))
                if not re.match(r"^(~>\s*\d|=?\s*\d+\.\d+\.\d+$)", version):
                    problems.append(f"provider {name} version {version!r} is not pinned")
    return problems


def variable_problems(module: Module) -> list[str]:
    problems = []
    for name, body in module.named("variable").items():
        if "type" not in body:
            problems.append(f"variable {name} has no type")
        if not str(body.get("description", "")).strip():
            problems.append(f"variable {name} has no description")
        if body.get("sensitive") is True and "default" in body:
            problems.append(f"sensitive variable {name} has a default")
        if SECRET_NAME.search(name) and body.get("sensitive") is not True:
            problems.append(f"variable {name} looks secret but is not sensitive")
    return problems


def tag_problems(module: Module) -> list[str]:
    problems = []
    for rtype, named in module.resources().items():
        if not rtype.startswith("aws_") or rtype in UNTAGGABLE:
            continue
        for name, body in named.items():
            if "local.tags" not in str(body.get("tags", "")):
                problems.append(f"{rtype}.{name} is not tagged with local.tags")
    return problems


def lambda_problems(body: dict[str, Any]) -> list[str]:
    problems = []
    concurrency = str(body.get("reserved_concurrent_executions", ""))
    if not concurrency or concurrency in ("-1", "0"):
        problems.append("no reserved concurrency")
    if block(body, "tracing_config").get("mode") != "Active":
        problems.append("X-Ray tracing is not Active")
    if "aws_sqs_queue." not in str(block(body, "dead_letter_config").get("target_arn", "")):
        problems.append("no SQS dead-letter queue")
    vpc = block(body, "vpc_config")
    if not vpc.get("subnet_ids") or not vpc.get("security_group_ids"):
        problems.append("not in VPC subnets with a security group")
    if "aws_kms_key." not in str(body.get("kms_key_arn", "")):
        problems.append("environment not encrypted with a customer key")
    for setting in ("timeout", "memory_size"):
        if not str(body.get(setting, "")).startswith("${var."):
            problems.append(f"{setting} is not a variable")
    return problems


def wildcard_problems(statements: list[dict[str, Any]], star_ok: frozenset[str] = frozenset()) -> list[str]:
    """Allow statements: no wildcard in any action; Resource "*" only for actions AWS requires it for."""
    problems = []
    for stmt in statements:
        if stmt.get("effect", "Allow") != "Allow":
            continue
        if "not_actions" in stmt or "not_resources" in stmt:
            problems.append(f"{stmt.get('sid', '?')}: NotAction/NotResource")
        actions = [str(a) for a in as_list(stmt.get("actions", []))]
        problems += [f"{stmt.get('sid', '?')}: wildcard action {a}" for a in actions if "*" in a]
        if "*" in as_list(stmt.get("resources", [])) and not set(actions) <= star_ok:
            problems.append(f"{stmt.get('sid', '?')}: Resource * for {sorted(set(actions) - star_ok)}")
    return problems


def s3_scope_problems(statements: list[dict[str, Any]], allowed_prefixes: tuple[str, ...]) -> list[str]:
    """Every S3 object resource lies under one of the allowed key prefixes of the bucket; on the bucket
    itself only listing restricted by an s3:prefix condition, and GetBucketLocation."""
    problems = []
    for stmt in statements:
        actions = {str(a) for a in as_list(stmt.get("actions", []))}
        if not any(a.startswith("s3:") for a in actions):
            continue
        for resource in as_list(stmt.get("resources", [])):
            object_part = str(resource).partition("/")[2]
            if not object_part:
                if not (actions <= {"s3:GetBucketLocation"} or condition(stmt, "s3:prefix")):
                    problems.append(f"{stmt.get('sid', '?')}: bucket-level {resource} without an s3:prefix condition")
            elif not object_part.startswith(allowed_prefixes):
                problems.append(f"{stmt.get('sid', '?')}: {resource} outside {allowed_prefixes}")
    return problems


def condition(stmt: dict[str, Any], variable: str) -> dict[str, Any] | None:
    return next((c for c in stmt.get("condition", []) if c.get("variable") == variable), None)


def trust_problems(statements: list[dict[str, Any]], principal_type: str, required: tuple[str, ...]) -> list[str]:
    problems = []
    for stmt in statements:
        principals = stmt.get("principals", [])
        if [p.get("type") for p in principals] != [principal_type]:
            problems.append(f"{stmt.get('sid', '?')}: principals {principals}, expected one of type {principal_type}")
        if "*" in str([p.get("identifiers") for p in principals]):
            problems.append(f"{stmt.get('sid', '?')}: trusts any principal")
        for variable in required:
            found = condition(stmt, variable)
            if found is None or not found.get("values") or found.get("test") not in ("StringEquals", "ArnEquals"):
                problems.append(f"{stmt.get('sid', '?')}: no exact {variable} condition")
    return problems


def bucket_problems(module: Module) -> list[str]:
    problems = []
    pab = next(iter(module.resources("aws_s3_bucket_public_access_block").values()), {})
    for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
        if pab.get(flag) is not True:
            problems.append(f"public access block: {flag} is not true")
    sse = next(iter(module.resources("aws_s3_bucket_server_side_encryption_configuration").values()), {})
    default = block(block(sse, "rule"), "apply_server_side_encryption_by_default")
    if default.get("sse_algorithm") != "aws:kms" or "aws_kms_key." not in str(default.get("kms_master_key_id")):
        problems.append("default encryption is not SSE-KMS with the module's key")
    versioning = next(iter(module.resources("aws_s3_bucket_versioning").values()), {})
    if block(versioning, "versioning_configuration").get("status") != "Enabled":
        problems.append("versioning is not enabled")
    policies = module.resources("aws_s3_bucket_policy")
    documents = [m for p in policies.values() for m in re.findall(r"aws_iam_policy_document\.(\w+)\.json", str(p))]
    tls = [
        s
        for d in documents
        for s in module.statements(d)
        if s.get("effect") == "Deny" and (condition(s, "aws:SecureTransport") or {}).get("values") == ["false"]
    ]
    if not tls:
        problems.append("the bucket policy does not deny requests without TLS")
    return problems


# --------------------------------------------------------------------------- the real files


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_tf_file_parses(path: Path) -> None:
    assert parse(path.read_text()), f"{path} is empty"


@pytest.mark.parametrize("path", ROOTS, ids=lambda p: p.name)
def test_terraform_and_providers_are_pinned(path: Path) -> None:
    assert version_problems(Module.load(path)) == []


@pytest.mark.parametrize("path", ROOTS, ids=lambda p: p.name)
def test_every_variable_is_typed_described_and_no_secret_has_a_default(path: Path) -> None:
    module = Module.load(path)
    assert module.named("variable"), f"{path.name} declares no variables"
    assert variable_problems(module) == []


@pytest.mark.parametrize("name", ["network", "storage", "exporter"])
def test_every_aws_resource_carries_the_common_tags(modules: dict[str, Module], name: str) -> None:
    module = modules[name]
    tags = str(module.locals()["tags"])
    assert all(f'"{tag}" = ' in tags for tag in REQUIRED_TAGS), tags
    assert tag_problems(module) == []


def test_every_snowflake_object_says_who_owns_it(modules: dict[str, Module]) -> None:
    """Snowflake objects take no AWS-style tags: their comment names project, environment and cost centre."""
    comment = str(modules["snowflake"].locals()["comment"])
    assert all(v in comment for v in ("var.project", "var.environment", "var.cost_centre", "terraform"))
    for rtype, named in modules["snowflake"].resources().items():
        if rtype.startswith("snowflake_grant") or rtype == "snowflake_execute":
            continue
        for name, body in named.items():
            assert "local.comment" in str(body.get("comment")), f"{rtype}.{name}"
    for body in modules["snowflake"].resources("snowflake_execute").values():
        assert "COMMENT = '${local.comment}" in body["execute"]


def test_the_example_tags_by_default_and_keeps_state_remote_and_locked(example: Module) -> None:
    aws = next(p["aws"] for p in example.blocks["provider"] if "aws" in p)
    assert "local.tags" in str(block(aws, "default_tags").get("tags"))
    assert set(example.locals()["tags"]) >= REQUIRED_TAGS
    assert any("cloud" in b for b in example.blocks["terraform"]), "no remote backend in the example"
    key = example.named("variable")["snowflake_private_key"]
    assert key.get("sensitive") is True
    assert "default" not in key


def test_the_exporter_lambda_is_hardened(modules: dict[str, Module]) -> None:
    body = modules["exporter"].resources("aws_lambda_function")["exporter"]
    assert lambda_problems(body) == []
    assert body["publish"] is True  # versions to roll back to


def test_the_lambda_runs_what_make_lambda_package_builds(modules: dict[str, Module], example: Module) -> None:
    body = modules["exporter"].resources("aws_lambda_function")["exporter"]
    assert body["handler"] == build_lambda.HANDLER
    assert body["runtime"] == f"python{build_lambda.RUNTIME_PYTHON}"
    assert body["architectures"] == ["x86_64"]
    assert build_lambda.PLATFORM.endswith("_x86_64")
    default = re.search(r"\$\{path\.root\}/([\w./-]+\.zip)", str(example.locals()["package_path"]))
    assert default, example.locals()["package_path"]
    assert (EXAMPLE / default.group(1)).resolve() == ROOT / "build" / "lambda" / build_lambda.ZIP_NAME


def test_the_lambda_environment_is_what_the_exporter_reads(modules: dict[str, Module]) -> None:
    read_by_code = set()
    for source in (ROOT / "lambda_exporter").rglob("*.py"):
        read_by_code |= set(re.findall(r'"((?:VAULT|AURORA_SYNC)_[A-Z0-9_]+)"', source.read_text()))
    environment = set(modules["exporter"].locals()["environment"])
    assert environment - read_by_code - POWERTOOLS_ENV == set(), "variables the exporter never reads"
    assert {"VAULT_ADDR", "VAULT_SECRET_PATH_AURORA", "VAULT_AWS_ROLE", "VAULT_AUTH_METHOD"} <= environment
    # issue 13: the manifest key's path, where exports go and which tables are read come from Terraform
    assert {
        "VAULT_SECRET_PATH_MANIFEST_KEY",
        "AURORA_SYNC_S3_BUCKET",
        "AURORA_SYNC_S3_PREFIX",
        "AURORA_SYNC_S3_REGION",
        "AURORA_SYNC_ALLOWED_TABLES",
    } <= environment
    assert environment & FORBIDDEN_ENV == set()
    assert modules["exporter"].locals()["environment"]["VAULT_AUTH_METHOD"] == "aws"


def test_the_exporter_s3_region_is_the_buckets_and_the_one_register_stage_names(
    modules: dict[str, Module], example: Module
) -> None:
    """AURORA_SYNC_S3_REGION is the bucket's region (bucket_region, default the Lambda's own), not the
    Lambda's: REQUEST_EXPORTS forwards REGISTER_STAGE's region and the exporter refuses any other."""
    exporter = modules["exporter"]
    assert exporter.locals()["environment"]["AURORA_SYNC_S3_REGION"] == "${local.bucket_region}"
    assert exporter.locals()["bucket_region"] == "${coalesce(var.bucket_region, local.region)}"
    variable = exporter.named("variable")["bucket_region"]
    assert (variable["type"], variable["default"]) == ("string", None)
    (rule,) = variable["validation"]
    pattern = re.search(r'regex\("(.+?)", var\.bucket_region\)', rule["condition"])
    assert pattern and "var.bucket_region == null ||" in rule["condition"]
    regex = re.compile(pattern.group(1).replace("\\\\", "\\"))
    for good in ("eu-west-1", "us-east-1", "ap-southeast-2", "us-gov-west-1"):
        assert regex.search(good), good
    for bad in ("EU-WEST-1", "eu-west-1a", "eu-west", "https://s3.eu-west-1.amazonaws.com", "eu-west-1 ", ""):
        assert not regex.search(bad), bad
    # the example passes the region its REGISTER_STAGE call names
    assert example.named("module")["exporter"]["bucket_region"] == "${var.aws_region}"
    calls = example.named("output")["register_calls"]["value"]
    stage = re.search(r"REGISTER_STAGE\((.*?)\);", calls)
    assert stage and stage.group(1).split(", ")[-1] == "'${var.aws_region}'", calls


@pytest.mark.parametrize(
    "url",
    [
        "https://s3.eu-west-1.amazonaws.com",
        "https://s3.dualstack.eu-west-1.amazonaws.com",
        "https://s3-fips.us-east-1.amazonaws.com",
        "https://s3-us-west-2.amazonaws.com",
        "https://bucket.vpce-0123-abcd.s3.eu-west-1.vpce.amazonaws.com",
        "https://s3.cn-north-1.amazonaws.com.cn",
        "https://abc1234567.execute-api.eu-west-1.amazonaws.com",
        "https://s3-x-1234567890.eu-west-1.elb.amazonaws.com",
        "https://evil-s3.amazonaws.com",
        "https://s3.amazonaws.com.evil.example",
        "https://bucket.s3-website-us-east-1.amazonaws.com",
        "http://s3.eu-west-1.amazonaws.com",
        "https://52.216.0.1",
    ],
)
def test_the_s3_endpoint_validation_is_the_exporters_own_rule(modules: dict[str, Module], url: str) -> None:
    """Terraform refuses at plan time exactly the endpoints the exporter would refuse at run time
    (lambda_exporter.policy.s3_endpoint without the local setting)."""
    from lambda_exporter.errors import ExportError
    from lambda_exporter.policy import s3_endpoint

    (rule,) = modules["exporter"].named("variable")["s3_endpoint_url"]["validation"]
    pattern = re.search(r'regex\("(.+?)", var\.s3_endpoint_url\)', rule["condition"])
    assert pattern, rule["condition"]
    terraform_accepts = re.search(pattern.group(1).replace("\\\\", "\\"), url) is not None
    try:
        exporter_accepts = s3_endpoint(url, allow_local=False) == url
    except ExportError:
        exporter_accepts = False
    assert terraform_accepts == exporter_accepts, (url, terraform_accepts, exporter_accepts)


def test_the_dead_letter_queue_keeps_14_days_encrypted_and_alarms(modules: dict[str, Module]) -> None:
    exporter = modules["exporter"]
    (queue_name, queue), *_ = exporter.resources("aws_sqs_queue").items()
    assert queue["message_retention_seconds"] == 14 * 24 * 3600
    assert "aws_kms_key." in str(queue["kms_master_key_id"])
    alarms = exporter.resources("aws_cloudwatch_metric_alarm").values()
    depth = [a for a in alarms if a["metric_name"] == "ApproximateNumberOfMessagesVisible"]
    assert depth
    assert f"aws_sqs_queue.{queue_name}." in str(depth[0]["dimensions"])


def test_the_alarms_cover_errors_throttles_and_duration_near_the_timeout(modules: dict[str, Module]) -> None:
    alarms = {a["metric_name"]: a for a in modules["exporter"].resources("aws_cloudwatch_metric_alarm").values()}
    assert {"Errors", "Throttles", "Duration"} <= set(alarms)
    assert all(alarms[m]["namespace"] == "AWS/Lambda" for m in ("Errors", "Throttles", "Duration"))
    assert "var.timeout_s" in str(alarms["Duration"]["threshold"])
    assert all("var.alarm_actions" in str(a["alarm_actions"]) for a in alarms.values())


def test_the_dashboard_reads_the_metrics_the_exporter_emits(modules: dict[str, Module]) -> None:
    emitted = set(re.findall(r'_metric\(table, "(\w+)"', Path(observability.__file__).read_text()))
    assert "ExportedRows" in emitted
    local = modules["exporter"].locals()
    assert local["service"] == observability.SERVICE
    assert emitted <= set(re.findall(r"(\w+) = ", str(local["per_table"])))
    assert "{${var.metrics_namespace},service,table}" in str(local["per_table"])
    assert local["environment"]["AURORA_SYNC_METRICS_NAMESPACE"] == "${var.metrics_namespace}"


def test_the_log_group_is_retained_and_encrypted(modules: dict[str, Module]) -> None:
    (group,) = modules["exporter"].resources("aws_cloudwatch_log_group").values()
    assert group["retention_in_days"] == "${var.log_retention_days}"
    assert "aws_kms_key." in str(group["kms_key_id"])


def test_the_lambda_policies_have_no_wildcard_beyond_what_aws_requires(modules: dict[str, Module]) -> None:
    exporter = modules["exporter"]
    for document in ("exporter", "exporter_aws_required", "snowflake_invoke"):
        assert wildcard_problems(exporter.statements(document), STAR_RESOURCE_ACTIONS) == [], document
    assert wildcard_problems(exporter.statements("exporter")) == [], "the main policy needs no Resource *"


def test_the_lambda_policy_is_scoped_to_its_prefixes_log_group_keys_and_queue(modules: dict[str, Module]) -> None:
    statements = modules["exporter"].statements("exporter")
    prefixes = ("${var.prefix}data/", "${var.prefix}manifests/", "${var.prefix}state/", "${var.prefix}answers/")
    assert s3_scope_problems(statements, prefixes) == []
    by_sid = {s["sid"]: s for s in statements}
    assert by_sid["WriteItsLogGroup"]["resources"] == [
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group}:*"
    ]
    assert by_sid["ListTheStatePrefix"]["condition"][0]["values"] == ["${var.prefix}state/*"]
    assert by_sid["SendToItsDeadLetterQueue"]["resources"] == ["${aws_sqs_queue.dlq.arn}"]
    policy_roles = {p["role"] for p in modules["exporter"].resources("aws_iam_role_policy").values()}
    assert "${aws_iam_role.exporter.id}" in policy_roles


def test_the_export_bucket_is_private_encrypted_versioned_and_tls_only(modules: dict[str, Module]) -> None:
    assert bucket_problems(modules["storage"]) == []
    (key,) = modules["storage"].resources("aws_kms_key").values()
    assert key["enable_key_rotation"] is True


def test_the_lifecycle_rules_clean_up_what_failed_exports_leave(modules: dict[str, Module]) -> None:
    (lifecycle,) = modules["storage"].resources("aws_s3_bucket_lifecycle_configuration").values()
    rules = {block(r, "filter").get("prefix", ""): r for r in lifecycle["rule"]}
    data, manifests = rules["${local.data_prefix}"], rules["${local.manifests}"]
    assert block(data, "expiration")["days"] == "${var.data_expiration_days}"
    assert block(data, "abort_incomplete_multipart_upload")["days_after_initiation"] == 1
    assert block(manifests, "expiration")["days"] == "${var.manifest_expiration_days}"
    assert block(rules["${local.answers}"], "expiration")["days"] == "${var.answer_expiration_days}"
    assert "${local.state_prefix}" in rules and "expiration" not in rules["${local.state_prefix}"]
    variables = modules["storage"].named("variable")
    assert (variables["data_expiration_days"]["default"], variables["manifest_expiration_days"]["default"]) == (14, 90)
    assert modules["storage"].locals()["data_prefix"] == "${var.prefix}data/"


def test_the_aurora_export_role_is_the_clusters_and_writes_the_data_prefix_only(modules: dict[str, Module]) -> None:
    storage = modules["storage"]
    assert trust_problems(storage.statements("aurora_trust"), "Service", ("aws:SourceArn", "aws:SourceAccount")) == []
    assert storage.statements("aurora_trust")[0]["principals"][0]["identifiers"] == ["rds.amazonaws.com"]
    statements = storage.statements("aurora_export")
    assert wildcard_problems(statements) == []
    assert s3_scope_problems(statements, ("${local.data_prefix}",)) == []
    s3_actions = {a for s in statements for a in s["actions"] if a.startswith("s3:")}
    assert s3_actions == {"s3:PutObject", "s3:AbortMultipartUpload"}
    (association,) = storage.resources("aws_rds_cluster_role_association").values()
    assert association["feature_name"] == "s3Export"


def test_the_roles_snowflake_assumes_trust_only_its_integration(modules: dict[str, Module]) -> None:
    for module in (modules["storage"], modules["exporter"]):
        statements = module.statements("snowflake_trust")
        assert trust_problems(statements, "AWS", ("sts:ExternalId",)) == []


def test_snowflake_can_only_read_the_bucket_and_invoke_the_live_alias(modules: dict[str, Module]) -> None:
    read = modules["storage"].statements("snowflake_read")
    assert wildcard_problems(read) == []
    assert s3_scope_problems(read, ("${local.data_prefix}", "${local.manifests}", "${local.answers}")) == []
    assert {a for s in read for a in s["actions"]} <= {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:ListBucket",
        "s3:GetBucketLocation",
        "kms:Decrypt",
    }
    (invoke,) = modules["exporter"].statements("snowflake_invoke")
    assert invoke["actions"] == ["lambda:InvokeFunction"]
    assert invoke["resources"] == ["${local.function_arn}:${local.alias_name}"]


def test_the_exporter_security_group_leaves_only_for_aurora_vault_and_s3(modules: dict[str, Module]) -> None:
    network = modules["network"]
    egress = network.resources("aws_vpc_security_group_egress_rule")
    assert set(egress) == {"aurora", "vault", "s3", "https_extra"}
    assert egress["aurora"]["from_port"] == egress["aurora"]["to_port"] == "${var.aurora_port}"
    assert egress["aurora"]["referenced_security_group_id"] == "${var.aurora_security_group_id}"
    assert egress["s3"]["prefix_list_id"] == "${local.s3_prefix_list_id}"
    assert egress["vault"]["from_port"] == "${var.vault_port}"
    assert "0.0.0.0/0" not in str(network.resources())
    ingress = network.resources("aws_vpc_security_group_ingress_rule")
    assert all(r["security_group_id"] != "${aws_security_group.exporter.id}" for r in ingress.values())
    assert "ingress" not in network.resources("aws_security_group")["exporter"]


def test_the_snowflake_objects_are_the_ones_consumer_setup_names(modules: dict[str, Module]) -> None:
    sql = (ROOT / "docs" / "snowflake" / "consumer_setup.sql").read_text()
    snowflake = modules["snowflake"]
    local, variables = snowflake.locals(), snowflake.named("variable")
    prefix = variables["name_prefix"]["default"]
    names = {
        "storage integration": local["storage_name"].replace("${var.name_prefix}", prefix),
        "security integration": local["api_auth_name"].replace("${var.name_prefix}", prefix),
        "external access integration": local["access_name"].replace("${var.name_prefix}", prefix),
        "secret": f"{variables['admin_database']['default']}.{variables['admin_schema']['default']}."
        f"{local['secret_name']}",
        "manifest key secret": f"{variables['admin_database']['default']}.{variables['admin_schema']['default']}."
        f"{local['manifest_key_name']}",
        "network rule": local["network_rule_name"],
    }
    for kind, name in names.items():
        assert name in sql, f"{kind} {name} is not the one consumer_setup.sql names"
    (rule,) = snowflake.resources("snowflake_network_rule").values()
    assert (rule["mode"], rule["type"]) == ("EGRESS", "HOST_PORT")
    assert rule["value_list"] == ["lambda.${var.aws_region}.amazonaws.com:443"]
    executes = snowflake.resources("snowflake_execute")
    assert "AUTH_TYPE = AWS_IAM" in executes["api_authentication"]["execute"]
    assert "TYPE = CLOUD_PROVIDER_TOKEN" in executes["exporter_secret"]["execute"]
    (access,) = snowflake.resources("snowflake_external_access_integration").values()
    assert block(access, "allowed_authentication_secrets")["secrets"] == [
        "${local.secret_fqn}",
        "${local.manifest_key_fqn}",
    ]
    # the manifest key: a placeholder Terraform creates once; its value (from Vault) is never in state
    key = executes["manifest_key"]["execute"]
    assert "TYPE = GENERIC_STRING" in key and "CREATE SECRET IF NOT EXISTS ${local.manifest_key_fqn}" in key
    assert not snowflake.resources("snowflake_secret_with_generic_string")
    # never replaced (a replace drops the key the operator set): changes ignored, destroy prevented
    lifecycle = block(executes["manifest_key"], "lifecycle")
    assert lifecycle["prevent_destroy"] is True and "execute" in str(lifecycle["ignore_changes"])


def test_every_checkov_skip_is_inline_and_gives_a_reason() -> None:
    skips = [(f, line) for f in TF_FILES for line in f.read_text().splitlines() if "checkov:skip" in line]
    assert skips, "no skips at all: then this test can go"
    for path, line in skips:
        found = re.fullmatch(r"\s+#checkov:skip=(CKV2?_[A-Z]+_\d+):(.{20,})", line)
        assert found, f"{path.name}: {line.strip()!r} is not an indented skip with a reason"


# --------------------------------------------------------------------------- the checks can fail

BAD_LAMBDA = """
resource "aws_lambda_function" "x" {
  function_name = "x"
  timeout       = 900
  memory_size   = var.memory
  tracing_config {
    mode = "PassThrough"
  }
}
"""

BAD_POLICY = """
data "aws_iam_policy_document" "p" {
  statement {
    sid       = "Everything"
    actions   = ["s3:*"]
    resources = ["*"]
  }
  statement {
    sid       = "WholeBucket"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arn}/*", "${local.bucket_arn}"]
  }
}
"""

BAD_TRUST = """
data "aws_iam_policy_document" "t" {
  statement {
    sid     = "NoExternalId"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
  }
}
"""

BAD_BUCKET = """
resource "aws_s3_bucket" "b" {
  bucket = "b"
}
resource "aws_s3_bucket_public_access_block" "b" {
  bucket              = aws_s3_bucket.b.id
  block_public_acls   = true
  block_public_policy = false
}
resource "aws_s3_bucket_server_side_encryption_configuration" "b" {
  bucket = aws_s3_bucket.b.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}
"""

BAD_VARIABLES = """
variable "db_password" {
  type        = string
  description = "the password"
  default     = "hunter2"
}
variable "api_token" {
  type        = string
  description = "a token"
  sensitive   = true
  default     = "abc"
}
variable "untyped" {}
"""

BAD_VERSIONS = """
terraform {
  required_version = ">= 1.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}
"""


def snippet(text: str) -> Module:
    return Module.from_texts(Path("snippet"), [text])


def test_lambda_problems_finds_a_lambda_without_dlq_concurrency_tracing_or_vpc() -> None:
    body = snippet(BAD_LAMBDA).resources("aws_lambda_function")["x"]
    assert lambda_problems(body) == [
        "no reserved concurrency",
        "X-Ray tracing is not Active",
        "no SQS dead-letter queue",
        "not in VPC subnets with a security group",
        "environment not encrypted with a customer key",
        "timeout is not a variable",
    ]


def test_wildcard_and_scope_problems_find_wildcards_and_bucket_wide_writes() -> None:
    statements = snippet(BAD_POLICY).statements("p")
    assert wildcard_problems(statements, STAR_RESOURCE_ACTIONS) == [
        "Everything: wildcard action s3:*",
        "Everything: Resource * for ['s3:*']",
    ]
    problems = s3_scope_problems(statements, ("${local.data_prefix}",))
    assert "WholeBucket: ${local.bucket_arn}/* outside ('${local.data_prefix}',)" in problems
    assert "WholeBucket: bucket-level ${local.bucket_arn} without an s3:prefix condition" in problems


def test_trust_problems_finds_a_trust_without_external_id_or_trusting_anyone() -> None:
    problems = trust_problems(snippet(BAD_TRUST).statements("t"), "AWS", ("sts:ExternalId",))
    assert problems == ["NoExternalId: trusts any principal", "NoExternalId: no exact sts:ExternalId condition"]


def test_bucket_problems_finds_a_public_unencrypted_unversioned_bucket() -> None:
    problems = bucket_problems(snippet(BAD_BUCKET))
    assert "public access block: block_public_policy is not true" in problems
    assert "public access block: restrict_public_buckets is not true" in problems
    assert "default encryption is not SSE-KMS with the module's key" in problems
    assert "versioning is not enabled" in problems
    assert "the bucket policy does not deny requests without TLS" in problems


def test_variable_problems_finds_defaulted_and_unmarked_secrets_and_untyped_variables() -> None:
    assert variable_problems(snippet(BAD_VARIABLES)) == [
        "variable db_password looks secret but is not sensitive",
        "sensitive variable api_token has a default",
        "variable untyped has no type",
        "variable untyped has no description",
    ]


def test_version_and_tag_problems_find_unpinned_versions_and_untagged_resources() -> None:
    assert version_problems(snippet(BAD_VERSIONS)) == [
        "required_version '>= 1.0' is not pinned with ~>",
        "provider aws version '>= 5.0' is not pinned",
    ]
    assert tag_problems(snippet(BAD_BUCKET)) == ["aws_s3_bucket.b is not tagged with local.tags"]
