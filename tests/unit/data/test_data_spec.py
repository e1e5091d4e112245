"""``kind: data`` YAML jobs: a valid one loads with a ``dry_run`` parameter; each mistake is a
definition error naming the field."""

from __future__ import annotations

import pytest

from rota.jobs.yamljobs import parse_definitions
from rota.model.errors import DefinitionError
from rota.model.jobs import JobKind

GOOD = {
    "id": "members.import",
    "kind": "data",
    "source": "{type: csv, path: members.csv}",
    "target": "{connection: crm, table: members}",
    "action": "upsert",
    "match": "[member_no]",
    "mapping": '{member_no: {field: "Member No", type: int}, email: {field: "E-mail"}}',
}


def job(**changes: str | None) -> str:
    fields = {**GOOD, **changes}
    return "\n".join(f"{k}: {v}" for k, v in fields.items() if v is not None) + "\n"


def test_a_data_job_loads_with_its_spec_and_a_dry_run_parameter() -> None:
    (definition,) = parse_definitions(job(), "jobs/members.yaml")
    assert definition.kind is JobKind.DATA
    assert definition.spec["action"] == "upsert"
    assert definition.spec["match"] == ["member_no"]
    assert list(definition.spec["mapping"]) == ["member_no", "email"]  # type: ignore[arg-type]
    dry_run = definition.params.get("dry_run")
    assert dry_run is not None and dry_run.default is False


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"source": None}, "source", "needs source"),
        ({"source": "{type: parquet, path: x}"}, "source.type", "parquet"),
        ({"action": "merge"}, "action", "'merge' is not one of"),
        ({"match": "[nope]"}, "match", "not a column of the mapping"),
        ({"match": None}, "match", "upsert needs match keys"),
        ({"target": "{connection: crm}"}, "target.table", "required"),
        ({"target": "{connection: crm, table: t, schema: x}"}, "target.schema", "not a target"),
        ({"mapping": "{x: {field: a, colour: red}}"}, "mapping.x.colour", ""),
        ({"action": "transfer", "target": "{type: parquet, path: x}"}, "target.type", "file"),
        ({"duplicates": "first_wins"}, "duplicates", "reject, last_wins"),
        ({"chunk_size": "0"}, "chunk_size", "between 1 and 100000"),
        ({"command": "[echo, hi]"}, "command", "not a field of a data job"),
        ({"parallel": "0"}, "parallel", "from 1 to 16"),
        ({"parallel": "17"}, "parallel", "from 1 to 16"),
        ({"parallel": "yes"}, "parallel", ""),
        (
            {
                "action": "transfer",
                "target": "{type: csv, path: out.csv}",
                "match": None,
                "parallel": "2",
            },
            "parallel",
            "one file",
        ),
    ],
)
def test_mistakes_name_the_field(changes: dict[str, str | None], field: str, words: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definitions(job(**changes), "jobs/members.yaml")
    assert caught.value.field == field, (caught.value.field, caught.value.reason)
    assert words in caught.value.reason


def test_parallel_is_stored_only_when_it_splits() -> None:
    """Jobs written before ``parallel`` existed keep their version."""
    (plain,) = parse_definitions(job(), "jobs/members.yaml")
    (split,) = parse_definitions(job(parallel="4"), "jobs/members.yaml")
    assert "parallel" not in plain.spec
    assert split.spec["parallel"] == 4


def test_a_shell_job_refuses_data_fields() -> None:
    text = "id: s\nkind: shell\ncommand: [echo]\nsource: {type: csv, path: x.csv}\n"
    with pytest.raises(DefinitionError) as caught:
        parse_definitions(text, "jobs/s.yaml")
    assert (caught.value.field, caught.value.reason) == ("source", "is not a field of a shell job")
