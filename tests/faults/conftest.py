"""Fixtures of the fault-injection suite: rounds, a seeded random source, the history.

``ROTA_FAULTS_ROUNDS`` (default 10) sets the rounds of the kill scenarios; ``ROTA_FAULTS_SEED``
replays a run (each test prints its seed); ``ROTA_FAULTS_SCHEDULER_SECONDS`` sets how long the
scheduler scenario runs (default 60, 600 when ``ROTA_FAULTS_ROUNDS`` is 100 or more).
Installations come from the acceptance suite's ``make_rota`` (a copy of examples/, the
processes stopped at the end whatever the test did).
"""

from __future__ import annotations

import os
import random
import re
import time
from pathlib import Path

import pytest
from tests.acceptance.conftest import make_rota  # noqa: F401  (the fixture, reused)
from tests.faults.history import History
from tests.faults.support import rounds_setting


@pytest.fixture
def rounds() -> int:
    return rounds_setting()


@pytest.fixture
def seed() -> int:
    return int(os.environ.get("ROTA_FAULTS_SEED") or time.time_ns() % 1_000_000_007)


@pytest.fixture
def rng(seed: int) -> random.Random:
    return random.Random(seed)


@pytest.fixture
def history(request: pytest.FixtureRequest, tmp_path: Path, seed: int) -> History:
    """What the test did; saved with its figures as ``tmp_path/NAME.json``."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:80]
    return History(name=name, folder=tmp_path, seed=seed)
