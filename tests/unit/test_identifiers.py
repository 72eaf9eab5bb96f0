import pytest

from sync_contract.errors import IdentifierError
from sync_contract.identifiers import quote_ident, quote_qualified, slug, split_qualified, target_name


def test_quote_ident_doubles_embedded_quotes_so_a_name_cannot_break_out():
    assert quote_ident('a"; DROP TABLE x; --') == '"a""; DROP TABLE x; --"'


@pytest.mark.parametrize("name", ["Customer Events", "select", "CamelCase", "naïve 😀"])
def test_quote_ident_keeps_names_that_need_quoting_verbatim(name):
    assert quote_ident(name) == f'"{name}"'


@pytest.mark.parametrize("bad", ["", "a\x00b", "x" * 256])
def test_quote_ident_rejects_unusable_names_with_the_reason(bad):
    with pytest.raises(IdentifierError, match="identifier"):
        quote_ident(bad)


def test_quote_qualified_quotes_every_part():
    assert quote_qualified("DB", "My Schema", "T") == '"DB"."My Schema"."T"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("public.orders", ("public", "orders")),
        ('"Sales"."Customer Events"', ("Sales", "Customer Events")),
        ('public."a.b"', ("public", "a.b")),
        ('public."say ""hi"""', ("public", 'say "hi"')),
    ],
)
def test_split_qualified(text, expected):
    assert split_qualified(text) == expected


@pytest.mark.parametrize("text", ["orders", "a.b.c", '"unterminated.x', ".x"])
def test_split_qualified_rejects_names_that_are_not_schema_dot_name(text):
    with pytest.raises(IdentifierError, match="schema.name|unterminated|non-empty"):
        split_qualified(text)


def test_target_name_upper_cases():
    assert target_name("Customer Events") == "CUSTOMER EVENTS"


def test_slug_is_path_safe_stable_and_distinguishes_names_that_read_alike():
    a, b = slug("public", "Order Items"), slug("public", "order_items")
    assert a != b
    assert a == slug("public", "Order Items")
    for s in (a, b, slug("Sales", 'we"ird=na/me')):
        assert s.replace("_", "").replace("-", "").isalnum()
        assert "=" not in s and "/" not in s and " " not in s
