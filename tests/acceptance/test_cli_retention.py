"""``rota db prune`` through the real CLI: ``--days 0`` prunes every run that has ended."""

from __future__ import annotations

import pytest
from tests.acceptance.harness import Rota

pytestmark = pytest.mark.acceptance


def test_db_prune_deletes_ended_runs_older_than_the_days_and_keeps_the_others(
    synced_rota: Rota,
) -> None:
    rota = synced_rota
    canceled = rota.start_run("rates.import", "date=2026-11-19")
    queued = rota.start_run("rates.import", "date=2026-11-20")
    rota.ok("runs", "cancel", str(canceled))

    # Without --days the retention_days setting applies; its default 0 keeps everything.
    refused = rota("db", "prune")
    assert refused.code == 2, refused
    assert "retention_days is 0" in refused.err_words

    # Ended a moment ago: one day of retention keeps it (the setting or --days).
    kept = rota.json("db", "prune", env={"ROTA_RETENTION_DAYS": "1"})
    assert (kept["days"], kept["runs"], kept["occurrences"]) == (1, 0, 0)
    assert rota.json("db", "prune", "--days", "7")["runs"] == 0

    # --days 0: everything that ended before now.
    pruned = rota.json("db", "prune", "--days", "0")
    assert (pruned["days"], pruned["runs"], pruned["history"], pruned["batches"]) == (0, 1, 2, 1)
    assert pruned["before"].endswith("Z")

    gone = rota("runs", "show", str(canceled))
    assert gone.code == 2, gone
    assert rota.show(queued)["status"] == "queued"
    assert [r["id"] for r in rota.json("runs", "list")] == [queued]

    again = rota.ok("db", "prune", "--days", "0")
    assert "pruned 0 runs" in again.out
    assert rota("db", "prune", "--days", "-1").code == 2
