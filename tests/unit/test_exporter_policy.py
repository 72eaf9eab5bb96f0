"""The exporter's environment decides where exports go and which tables it reads (lambda_exporter.policy)."""

import pytest

from lambda_exporter.errors import EventError, ExportError
from lambda_exporter.event import ExportRequest, S3Target, parse_event
from lambda_exporter.policy import AllowList, s3_endpoint

HOME = S3Target("exports", "aurora-sync/", "eu-west-1")


@pytest.mark.parametrize(
    "url",
    [
        "https://s3.eu-west-1.amazonaws.com",
        "https://S3.EU-WEST-1.amazonaws.com",  # host names are case-insensitive
        "https://s3.dualstack.eu-west-1.amazonaws.com",
        "https://s3-fips.us-east-1.amazonaws.com",
        "https://s3-fips.dualstack.us-east-2.amazonaws.com",
        "https://s3.amazonaws.com",  # legacy global endpoint
        "https://s3-external-1.amazonaws.com",
        "https://s3-us-west-2.amazonaws.com",  # legacy dash-region endpoint
        "https://s3.us-gov-west-1.amazonaws.com:443/",
        "https://bucket.vpce-0a1b2c3d-4e5f6a7b.s3.eu-west-1.vpce.amazonaws.com",
        "https://bucket.vpce-0123-abcd.s3.eu-west-1.vpce.amazonaws.com",
        "https://s3.cn-north-1.amazonaws.com.cn",
    ],
)
def test_s3_https_endpoints_of_aws_are_accepted(url):
    assert s3_endpoint(url, allow_local=False) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://abc1234567.execute-api.eu-west-1.amazonaws.com",  # API Gateway: another account's code
        "https://s3-x-1234567890.eu-west-1.elb.amazonaws.com",  # a load balancer its owner named "s3-x"
        "https://s3-us-west-2-1234567890.us-east-1.elb.amazonaws.com",  # named like a legacy endpoint
        "https://evil-s3.amazonaws.com",
        "https://s3evil.amazonaws.com",
        "https://s3.amazonaws.com.evil.example",
        "https://s3.eu-west-1.amazonaws.com.",  # a trailing dot: not the suffix
        "https://bucket.s3-website-us-east-1.amazonaws.com",  # website endpoint: GET only
        "https://bucket.s3-website.eu-west-1.amazonaws.com",
        "https://ap-123456789012.s3-object-lambda.eu-west-1.amazonaws.com",  # answers written by a function
        "https://sts.eu-west-1.amazonaws.com",
        "https://amazonaws.com",
        "https://.amazonaws.com",
        "https://s3..amazonaws.com",
        "https://ec2-52-216-0-1.compute-1.amazonaws.com",
    ],
)
def test_other_aws_hosts_are_refused_as_s3_endpoints(url):
    with pytest.raises(ExportError, match="not an https endpoint of Amazon S3") as info:
        s3_endpoint(url, allow_local=False)
    assert "AURORA_SYNC_ALLOW_LOCAL_ENDPOINT=1" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://s3.eu-west-1.amazonaws.com",  # not https
        "http://127.0.0.1:9000",
        "https://localhost:9000",
        "https://s3.amazonaws.com.attacker.example",
        "https://attacker.example/s3.amazonaws.com",
        "https://52.216.0.1",
        "https://[::1]:9000",
        "http://s3.eu-west-1.amazonaws.com:80",
    ],
)
def test_other_endpoints_need_the_explicit_local_setting(url):
    with pytest.raises(ExportError, match="AURORA_SYNC_ALLOW_LOCAL_ENDPOINT=1"):
        s3_endpoint(url, allow_local=False)
    assert s3_endpoint(url, allow_local=True) == url


@pytest.mark.parametrize("url", ["ftp://host/x", "https://user:pw@s3.amazonaws.com", "https://h?x=1", "nonsense"])
def test_malformed_endpoints_are_refused_even_locally(url):
    with pytest.raises(ExportError, match="AURORA_SYNC_S3_ENDPOINT_URL must be an http"):
        s3_endpoint(url, allow_local=True)


def test_the_allow_list_matches_exact_names_schemas_and_everything():
    allowed = AllowList.parse(' public.orders , sales.* ,"odd.schema"."a,b" ')
    for schema, table in (("public", "orders"), ("sales", "anything"), ("odd.schema", "a,b")):
        allowed.check(schema, table)
    for schema, table in (("public", "Orders"), ("public", "customers"), ("Sales", "x"), ("odd", "schema")):
        with pytest.raises(EventError, match=f"{schema}.{table} is not in the exporter's AURORA_SYNC_ALLOWED_TABLES"):
            allowed.check(schema, table)
    AllowList.parse("*").check("any", "table")


def test_an_entry_may_declare_the_reconcile_key_of_a_table_without_one():
    allowed = AllowList.parse('public.events(event_id), sales."Order Lines"( order_id , "line,no" ), public.t')
    assert allowed.declared_key("public", "events") == ("event_id",)
    assert allowed.declared_key("sales", "Order Lines") == ("order_id", "line,no")
    assert allowed.declared_key("public", "t") is None
    allowed.check("sales", "Order Lines")


@pytest.mark.parametrize("text", ["public.t()", "public.*(id)", "public.t(id", "public.t(a.b)"])
def test_a_malformed_key_declaration_is_a_configuration_error(text):
    with pytest.raises(ExportError, match="AURORA_SYNC_ALLOWED_TABLES"):
        AllowList.parse(text)


@pytest.mark.parametrize("text", [None, "", " , "])
def test_an_empty_allow_list_serves_nothing(text):
    with pytest.raises(EventError, match="AURORA_SYNC_ALLOWED_TABLES is not set"):
        AllowList.parse(text).check("public", "orders")


@pytest.mark.parametrize("text", ["orders", "a.b.c", 'public."unterminated', 'public."*"', '"*".t'])
def test_a_malformed_allow_list_is_a_configuration_error(text):
    with pytest.raises(ExportError, match="AURORA_SYNC_ALLOWED_TABLES"):
        AllowList.parse(text)


def _event(**s3):
    event = ExportRequest("public", "orders", "full", HOME).to_event()
    if s3:
        event["s3"] = s3
    else:
        del event["s3"]
    return event


def test_the_environment_location_wins_and_an_event_may_only_repeat_it():
    assert parse_event(_event(), HOME).s3 == HOME
    assert parse_event(_event(bucket="exports", prefix="aurora-sync/", region="eu-west-1"), HOME).s3 == HOME
    assert parse_event(_event(bucket="exports"), HOME).s3 == HOME  # a partial cross-check


@pytest.mark.parametrize(
    ("s3", "field"),
    [
        ({"bucket": "attacker"}, "s3.bucket"),
        ({"bucket": "exports", "prefix": ""}, "s3.prefix"),
        ({"region": "us-east-1"}, "s3.region"),
        ({"endpoint_url": "https://attacker.example"}, "s3.endpoint_url"),
        ({"endpoint_url": None, "acl": "public-read"}, "s3.acl"),
    ],
)
def test_an_event_that_redirects_is_refused_naming_the_field(s3, field):
    with pytest.raises(EventError) as info:
        parse_event(_event(**s3), HOME)
    assert info.value.field == field
