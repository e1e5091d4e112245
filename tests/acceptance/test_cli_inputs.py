"""Bad input through the CLI: exit code 2 (4 for the store), a message naming the problem on
standard error, and nothing changed."""

from __future__ import annotations

import pytest
from tests.acceptance.harness import MakeRota, Rota

pytestmark = pytest.mark.acceptance

BAD_RUNS = [
    pytest.param(["no.such.job"], "job 'no.such.job' not found", id="unknown-job"),
    pytest.param(
        ["rates.import", "-p", "nope=1"],
        "params.nope: unknown parameter (known: currency, date, pace)",
        id="unknown-parameter",
    ),
    pytest.param(
        ["rates.import", "-p", "date=yesterday"],
        "params.date: expected a date as YYYY-MM-DD, got 'yesterday'",
        id="ill-typed-parameter",
    ),
    pytest.param(
        ["archive.rebuild", "-p", "items=0"],
        "params.items: 0 is below the minimum 1",
        id="parameter-below-its-minimum",
    ),
    pytest.param(
        ["cleanup.nightly", "-p", "days=7"],
        "job 'cleanup.nightly' is destructive: confirm explicitly (--yes)",
        id="destructive-job-without-yes",
    ),
    pytest.param(
        ["rates.import", "-p", "date"], "params: 'date' is not NAME=VALUE", id="malformed-parameter"
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_RUNS)
def test_it_rejects_a_bad_run_request_and_enqueues_nothing(
    synced_rota: Rota, args: list[str], message: str
) -> None:
    rota = synced_rota

    result = rota("run", *args, "--wait")

    assert result.code == 2, result
    assert result.out == ""
    assert result.err_words.startswith("error: "), result
    assert message in result.err_words, result
    assert rota.json("runs", "list") == []


def test_it_enqueues_a_destructive_job_confirmed_with_yes(synced_rota: Rota) -> None:
    rota = synced_rota

    created = rota.json("run", "cleanup.nightly", "-p", "days=7", "--yes")

    assert (created["job"], created["status"]) == ("cleanup.nightly", "queued")
    assert created["params"] == {"days": 7, "folder": "exports"}
    assert [r["id"] for r in rota.json("runs", "list")] == [created["id"]]


def test_it_says_a_run_that_does_not_exist_is_not_found(synced_rota: Rota) -> None:
    result = synced_rota("runs", "show", "999")

    assert result.code == 2, result
    assert "error: run 999 not found" in result.err_words


def test_it_prints_an_error_on_one_line_however_long(synced_rota: Rota) -> None:
    result = synced_rota("run", "cleanup.nightly")

    assert result.code == 2, result
    assert result.err.count("\n") == 1, result.err


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def never_upgraded(request: pytest.FixtureRequest, make_rota: MakeRota) -> Rota:
    """An installation whose database exists but never got ``rota db upgrade``."""
    if request.param == "sqlite":
        return make_rota()
    url: str = request.getfixturevalue("empty_postgres_database")
    return make_rota(database_url=url)


def test_it_exits_4_and_says_to_upgrade_a_database_without_the_schema(
    never_upgraded: Rota,
) -> None:
    rota = never_upgraded

    for command in (["runs", "list"], ["run", "rates.import", "-p", "date=2026-11-19"]):
        result = rota(*command)

        assert result.code == 4, result
        assert "the database has no Rota schema yet" in result.err_words
        assert "run `rota db upgrade`" in result.err_words


def test_it_exits_4_when_the_database_cannot_be_reached(make_rota: MakeRota) -> None:
    # Port 1 on the loopback: nothing listens there, so the connection is refused at once.
    rota = make_rota(database_url="postgresql://rota@127.0.0.1:1/rota")

    result = rota("runs", "list")

    assert result.code == 4, result
    assert "error: database error:" in result.err_words


def test_it_rejects_a_lease_that_is_not_longer_than_the_heartbeat(synced_rota: Rota) -> None:
    result = synced_rota(
        "runs", "list", env={"ROTA_HEARTBEAT_SECONDS": "0.5", "ROTA_LEASE_SECONDS": "0.5"}
    )

    assert result.code == 2, result
    assert "lease_seconds" in result.err_words
    assert "must be longer than heartbeat_seconds" in result.err_words
