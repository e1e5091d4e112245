"""Store contract: secret rows. The store keeps ciphertext it cannot read; names, versions and
who changed what when are its part of the bargain (on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import sqlalchemy as sa

from rota.model.errors import NotFoundError
from rota.model.secrets import StoredSecret
from rota.store import Store


def test_a_new_secret_is_version_1(store: Store, now: datetime) -> None:
    made = store.put_secret("default", "api_token", "cipher-1", "alice", now)

    assert made == StoredSecret(
        tenant="default",
        name="api_token",
        version=1,
        ciphertext="cipher-1",
        created_at=now,
        updated_at=now,
        updated_by="alice",
    )
    assert store.get_secret("default", "api_token") == made


def test_setting_it_again_is_the_next_version_by_whoever_changed_it(
    store: Store, now: datetime
) -> None:
    store.put_secret("default", "api_token", "cipher-1", "alice", now)
    later = now + timedelta(hours=1)

    rotated = store.put_secret("default", "api_token", "cipher-2", "bob", later)

    assert (rotated.version, rotated.ciphertext) == (2, "cipher-2")
    assert (rotated.updated_at, rotated.updated_by) == (later, "bob")
    assert rotated.created_at == now  # created once
    assert store.get_secret("default", "api_token") == rotated
    third = store.put_secret("default", "api_token", "cipher-3", None, later + timedelta(1))
    assert (third.version, third.updated_by) == (3, None)
    assert store.get_secret("default", "api_token") == third


def test_the_same_name_in_two_tenants_is_two_secrets(store: Store, now: datetime) -> None:
    store.put_secret("default", "api_token", "d-1", "alice", now)
    store.put_secret("acme", "api_token", "a-1", "alice", now)
    store.put_secret("acme", "api_token", "a-2", "alice", now)

    assert store.get_secret("default", "api_token").version == 1
    assert store.get_secret("default", "api_token").ciphertext == "d-1"
    assert store.get_secret("acme", "api_token").version == 2


def test_it_lists_by_tenant_and_name_and_filters_by_tenant(store: Store, now: datetime) -> None:
    assert store.list_secrets() == []
    for tenant, name in [
        ("default", "zeta"),
        ("acme", "beta"),
        ("default", "Alpha"),
        ("default", "alpha"),
        ("acme", "alpha"),
    ]:
        store.put_secret(tenant, name, f"{tenant}/{name}", "alice", now)

    everything = [(s.tenant, s.name) for s in store.list_secrets()]
    assert everything == [
        ("acme", "alpha"),
        ("acme", "beta"),
        ("default", "Alpha"),
        ("default", "alpha"),
        ("default", "zeta"),
    ]
    assert [s.name for s in store.list_secrets("default")] == ["Alpha", "alpha", "zeta"]
    assert [s.name for s in store.list_secrets("acme")] == ["alpha", "beta"]
    assert store.list_secrets("nobody") == []
    assert all(s.ciphertext == f"{s.tenant}/{s.name}" for s in store.list_secrets())


def test_names_are_case_sensitive(store: Store, now: datetime) -> None:
    store.put_secret("default", "Token", "upper", "alice", now)
    store.put_secret("default", "token", "lower", "alice", now)
    assert store.get_secret("default", "Token").ciphertext == "upper"
    assert store.get_secret("default", "token").ciphertext == "lower"
    assert store.get_secret("default", "token").version == 1


def test_delete_removes_one_secret_of_one_tenant(store: Store, now: datetime) -> None:
    store.put_secret("default", "api_token", "d", "alice", now)
    store.put_secret("default", "other", "o", "alice", now)
    store.put_secret("acme", "api_token", "a", "alice", now)

    store.delete_secret("default", "api_token")

    with pytest.raises(NotFoundError):
        store.get_secret("default", "api_token")
    assert [(s.tenant, s.name) for s in store.list_secrets()] == [
        ("acme", "api_token"),
        ("default", "other"),
    ]


def test_a_secret_set_again_after_a_delete_starts_over_at_version_1(
    store: Store, now: datetime
) -> None:
    store.put_secret("default", "api_token", "c1", "alice", now)
    store.put_secret("default", "api_token", "c2", "alice", now)
    store.delete_secret("default", "api_token")

    again = store.put_secret("default", "api_token", "c3", "bob", now + timedelta(1))

    assert (again.version, again.created_at, again.updated_by) == (1, now + timedelta(1), "bob")


def test_an_unknown_secret_is_not_found_for_get_and_delete(store: Store, now: datetime) -> None:
    store.put_secret("acme", "api_token", "a", "alice", now)

    for call in (store.get_secret, store.delete_secret):
        with pytest.raises(NotFoundError) as caught:
            call("default", "api_token")  # exists, but in another tenant
        assert str(caught.value) == "secret 'api_token' not found"
        with pytest.raises(NotFoundError):
            call("acme", "nope")
    assert [s.name for s in store.list_secrets()] == ["api_token"]


def test_long_names_and_long_ciphertexts_are_kept_whole(store: Store, now: datetime) -> None:
    name = "n" * 128
    ciphertext = "gAAAA" + "x" * 20_000
    store.put_secret("t" * 64, name, ciphertext, "u" * 128, now)
    stored = store.get_secret("t" * 64, name)
    assert (stored.name, stored.ciphertext, stored.updated_by) == (name, ciphertext, "u" * 128)


def test_a_peer_sees_a_rotation_at_once(
    store: Store, open_peer: Callable[[], Store], now: datetime
) -> None:
    peer = open_peer()
    store.put_secret("default", "api_token", "c1", "alice", now)
    assert peer.get_secret("default", "api_token").version == 1
    store.put_secret("default", "api_token", "c2", "alice", now)
    assert peer.get_secret("default", "api_token").ciphertext == "c2"


def test_rotations_from_many_peers_at_once_each_count(
    store: Store, open_peer: Callable[[], Store], now: datetime
) -> None:
    store.put_secret("default", "api_token", "c0", "alice", now)
    peers = [open_peer() for _ in range(4)]
    failures: list[BaseException] = []

    def rotate(peer: Store, number: int) -> None:
        try:
            for i in range(5):
                peer.put_secret("default", "api_token", f"p{number}-{i}", f"peer{number}", now)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=rotate, args=(p, n)) for n, p in enumerate(peers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert store.get_secret("default", "api_token").version == 1 + 4 * 5


def test_a_first_set_racing_another_first_set_of_the_same_name_becomes_version_2(
    request: pytest.FixtureRequest, store: Store, database_url: str, now: datetime
) -> None:
    """Two ``rota secrets set NAME`` of a new NAME at the same moment: both must succeed, one
    as version 1 and one as version 2. Made deterministic by holding the other transaction
    open until this one waits for it."""
    other = _OtherTransaction(database_url)
    other.insert_secret_row("default", "api_token", now)
    outcome: list[object] = []

    def put() -> None:
        try:
            outcome.append(store.put_secret("default", "api_token", "mine", "bob", now))
        except BaseException as exc:  # reported below
            outcome.append(exc)

    thread = threading.Thread(target=put)
    thread.start()
    try:
        other.wait_until_someone_waits_for_it()
    finally:
        other.commit()
        thread.join(30)

    assert len(outcome) == 1
    made = outcome[0]
    assert isinstance(made, StoredSecret), repr(made)
    assert (made.version, made.ciphertext, made.updated_by) == (2, "mine", "bob")


def _libpq_url(url: str) -> str:
    return (
        sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


class _OtherTransaction:
    """Another session's uncommitted insert of a secret row (what a concurrent first
    ``put_secret`` holds between its INSERT and its COMMIT)."""

    def __init__(self, database_url: str) -> None:
        self.postgres = database_url.startswith("postgresql")
        if self.postgres:
            self._pg = psycopg.connect(_libpq_url(database_url))
            self._watch = psycopg.connect(_libpq_url(database_url), autocommit=True)
        else:
            path = database_url.removeprefix("sqlite:///")
            self._sqlite = sqlite3.connect(path, isolation_level=None)
            self._sqlite.execute("BEGIN IMMEDIATE")

    def insert_secret_row(self, tenant: str, name: str, now: datetime) -> None:
        values = (tenant, name, 1, "theirs", now, now, "alice")
        if self.postgres:
            self._pg.execute(
                "INSERT INTO secrets (tenant, name, version, ciphertext, created_at, "
                "updated_at, updated_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                values,
            )
        else:
            stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy
            self._sqlite.execute(
                "INSERT INTO secrets (tenant, name, version, ciphertext, created_at, "
                "updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*values[:4], stamp, stamp, values[6]),
            )

    def wait_until_someone_waits_for_it(self, timeout: float = 20.0) -> None:
        """PostgreSQL: until a session waits for a lock. SQLite takes no such census: the
        other writer waits on the busy timeout whenever it comes, so a short pause will do."""
        if not self.postgres:
            time.sleep(0.3)
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = self._watch.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE NOT l.granted AND a.datname = current_database()"
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.02)
        pytest.fail("the second put_secret never waited for the first one's row")

    def commit(self) -> None:
        if self.postgres:
            self._pg.commit()
            self._pg.close()
            self._watch.close()
        else:
            self._sqlite.execute("COMMIT")
            self._sqlite.close()
