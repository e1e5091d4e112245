"""``${env:NAME}`` references: resolved when a job runs, checked when it loads, and never
quoted back in an error."""

from __future__ import annotations

import pytest

from rota.data import references
from rota.data.references import check_references, references_in, resolve_references
from rota.model.errors import InvalidInputError

FIELD = "source.headers.Authorization"


def test_an_env_reference_becomes_the_variables_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_TOKEN", "s3cret")
    assert resolve_references("Bearer ${env:CRM_TOKEN}", FIELD) == "Bearer s3cret"


def test_several_references_and_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER_A", "ada")
    monkeypatch.setenv("PASS_A", "pw")
    assert resolve_references("${env:USER_A}:${env:PASS_A}!", FIELD) == "ada:pw!"
    assert resolve_references("no references $ {here}", FIELD) == "no references $ {here}"


def test_an_empty_variable_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMPTY_ONE", "")
    assert resolve_references("x${env:EMPTY_ONE}y", FIELD) == "xy"


def test_an_unset_variable_names_the_field_and_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CRM_TOKEN", raising=False)
    with pytest.raises(InvalidInputError) as caught:
        resolve_references("Bearer ${env:CRM_TOKEN}", FIELD)
    assert caught.value.field == FIELD
    assert caught.value.reason == "environment variable CRM_TOKEN is not set"


def test_a_resolved_value_never_appears_in_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SET_ONE", "top-secret-value")
    monkeypatch.delenv("UNSET_ONE", raising=False)
    with pytest.raises(InvalidInputError) as caught:
        resolve_references("${env:SET_ONE} ${env:UNSET_ONE}", FIELD)
    assert "top-secret-value" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("${vault:CRM}", "only ${env:NAME}, ${secret:NAME} references are known"),
        ("${vault:a/b}", "${vault:...} is not a known reference"),
        ("${secret:has/slash}", "is not a secret name"),
        ("${CRM_TOKEN}", "names no kind"),
        ("${env:}", "names nothing"),
        ("${env:1BAD}", "not an environment variable name"),
        ("${env:HAS-DASH}", "not an environment variable name"),
        ("Bearer ${env:CRM_TOKEN", "without its closing }"),
    ],
)
def test_mistakes_name_the_field(text: str, words: str) -> None:
    for check in (check_references, resolve_references):
        with pytest.raises(InvalidInputError) as caught:
            check(text, FIELD)
        assert caught.value.field == FIELD
        assert words in caught.value.reason, caught.value.reason


def test_checking_needs_no_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_TOKEN", raising=False)
    check_references("Bearer ${env:CRM_TOKEN}", FIELD)  # resolved later, where the job runs


def test_a_value_is_not_expanded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTER", "${env:INNER}")
    monkeypatch.setenv("INNER", "leaked")
    assert resolve_references("${env:OUTER}", FIELD) == "${env:INNER}"


def test_references_in_lists_kind_and_name() -> None:
    text = "a ${env:ONE} b ${secret:two} ${THREE} ${unclosed"
    assert references_in(text) == [("env", "ONE"), ("secret", "two"), ("", "THREE")]
    assert references_in("plain") == []


def test_a_new_kind_is_one_resolver_more(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(references.RESOLVERS, "vault", lambda name, field: name.upper())
    assert resolve_references("Bearer ${vault:crm}", FIELD) == "Bearer CRM"
    check_references("${vault:anything/goes}", FIELD)


def test_a_secret_resolves_only_inside_a_run() -> None:
    check_references("Bearer ${secret:crm_token}", FIELD)  # names are checked at load
    with pytest.raises(InvalidInputError) as caught:
        resolve_references("Bearer ${secret:crm_token}", FIELD)
    assert "only inside a run" in caught.value.reason
