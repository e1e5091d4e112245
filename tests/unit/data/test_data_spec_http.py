"""Data jobs with an HTTP source or target: checked when loaded (no network, no variables), and
stored with their ``${env:...}`` references unresolved, so no secret reaches the job's spec."""

from __future__ import annotations

from typing import Any

import pytest

from rota.data.spec import data_spec
from rota.jobs.yamljobs import parse_definitions
from rota.model.errors import DefinitionError, InvalidInputError

SOURCE = {
    "type": "http",
    "url": "https://api.invalid/members",
    "headers": {"Authorization": "Bearer ${env:CRM_TOKEN}"},
    "records": "data.items",
    "pagination": {"type": "next_url", "path": "links.next"},
}
HTTP_TARGET = {
    "type": "http",
    "url": "https://erp.invalid/api/members/bulk",
    "headers": {"Authorization": "Bearer ${env:ERP_TOKEN}"},
    "batch_size": 200,
    "wrap": "items",
}
MAPPING = {"member_no": {"field": "id", "type": "int"}, "email": {"field": "mail"}}


def spec(**changes: Any) -> dict[str, Any]:
    raw = {
        "source": SOURCE,
        "target": {"connection": "crm", "table": "members"},
        "action": "upsert",
        "match": ["member_no"],
        "mapping": MAPPING,
        **changes,
    }
    return dict(data_spec(raw))


def test_an_http_source_loads_with_its_reference_unresolved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRM_TOKEN", "must-not-be-stored")
    stored = spec()
    assert stored["source"] == SOURCE
    assert "must-not-be-stored" not in repr(stored)


def test_an_http_source_loads_where_the_variable_is_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CRM_TOKEN", raising=False)
    assert spec()["source"]["type"] == "http"


def test_a_transfer_to_an_http_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ERP_TOKEN", raising=False)
    stored = spec(target=HTTP_TARGET, action="transfer", match=[])
    assert stored["target"] == HTTP_TARGET
    assert stored["action"] == "transfer"


def test_a_file_transfer_still_loads() -> None:
    target = {"type": "json", "path": "out/members.json"}
    assert spec(target=target, action="transfer", match=[])["target"] == target


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"source": {**SOURCE, "pagination": {"type": "cursor"}}}, "source.pagination.type", ""),
        ({"source": {**SOURCE, "headers": {"X": "${vault:x}"}}}, "source.headers.X", "env"),
        ({"source": {**SOURCE, "url": "ftp://x.invalid/"}}, "source.url", "http or https"),
        ({"target": {**HTTP_TARGET, "method": "DELETE"}}, "target.method", "POST, PUT, PATCH"),
        ({"target": {**HTTP_TARGET, "batch_size": 0}}, "target.batch_size", "from 1"),
        ({"target": {**HTTP_TARGET, "path": "x.json"}}, "target.path", "not an option"),
        ({"target": {"type": "parquet", "path": "x"}}, "target.type", "file"),
        ({"target": {"type": "parquet", "path": "x"}}, "target.type", "http"),
    ],
)
def test_mistakes_name_the_option(changes: dict[str, Any], field: str, words: str) -> None:
    if "target" in changes:
        changes = {**changes, "action": "transfer", "match": []}
    with pytest.raises(InvalidInputError) as caught:
        spec(**changes)
    assert caught.value.field == field, (caught.value.field, caught.value.reason)
    assert words in caught.value.reason


def test_an_http_target_is_for_transfers_only() -> None:
    with pytest.raises(InvalidInputError) as caught:
        spec(target=HTTP_TARGET)
    assert caught.value.field == "target.connection"


def test_a_yaml_job_with_http_source_and_target() -> None:
    text = (
        "id: members.sync\n"
        "kind: data\n"
        "source: {type: http, url: 'https://api.invalid/m', records: data,\n"
        "         headers: {Authorization: 'Bearer ${env:CRM_TOKEN}'},\n"
        "         pagination: {type: page, size_param: per_page, size: 100}}\n"
        "target: {type: http, url: 'https://erp.invalid/bulk', method: PUT}\n"
        "action: transfer\n"
        "mapping: {member_no: {field: id, type: int}}\n"
    )
    (definition,) = parse_definitions(text, "jobs/members.yaml")
    assert definition.spec["target"] == {
        "type": "http",
        "url": "https://erp.invalid/bulk",
        "method": "PUT",
    }
    with pytest.raises(DefinitionError) as caught:
        parse_definitions(text.replace("method: PUT", "method: GET"), "jobs/members.yaml")
    assert caught.value.field == "target.method"
