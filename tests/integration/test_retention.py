"""Retention in a real worker: its reaper prunes ended runs older than ``retention_days``."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from tests.integration.conftest import running_worker, wait_for_end, wait_until

from rota.model.errors import NotFoundError
from rota.model.runs import Outcome, utcnow
from rota.model.status import RunStatus
from rota.services.runs import start_run
from rota.settings import Settings
from rota.store import Store


def exists(store: Store, run_id: int) -> bool:
    try:
        store.get_run(run_id)
    except NotFoundError:
        return False
    return True


def ended_days_ago(store: Store, days: float) -> int:
    """A run of ``t.ok`` that ended ``days`` ago (claimed and finished by hand, no worker)."""
    run = start_run(store, "t.ok", {})
    now = utcnow()
    [claim] = store.claim_runs("old-worker", 1, 30.0, now)
    assert claim.run_id == run.id
    outcome = Outcome(run_id=run.id, token=claim.token, status=RunStatus.COMPLETED)
    assert store.finish_runs([outcome], now - timedelta(days=days))[run.id]
    return run.id


def test_the_worker_prunes_runs_older_than_retention_days_and_keeps_the_others(
    synced: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    old = ended_days_ago(synced, 3)
    young = ended_days_ago(synced, 0.5)
    caplog.set_level(logging.INFO, logger="rota.engine.worker")

    with running_worker(synced, settings.model_copy(update={"retention_days": 1})):
        fresh = start_run(synced, "t.ok", {"n": "2"})
        assert wait_for_end(synced, fresh.id).status is RunStatus.COMPLETED
        wait_until(lambda: not exists(synced, old), what=f"run {old} to be pruned")

    assert exists(synced, young) and exists(synced, fresh.id)
    assert len(synced.get_records(fresh.id)) == 2
    assert any("retention: pruned 1 runs" in m for m in caplog.messages), caplog.messages


def test_the_worker_keeps_everything_when_retention_days_is_0(
    synced: Store, settings: Settings
) -> None:
    assert settings.retention_days == 0
    old = ended_days_ago(synced, 3650)

    with running_worker(synced, settings):
        fresh = start_run(synced, "t.ok", {})
        wait_for_end(synced, fresh.id)
        time.sleep(3 * settings.reaper_seconds)  # three reaper sweeps pass meanwhile

    assert exists(synced, old)
