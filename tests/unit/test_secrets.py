"""The secret store's pieces: the key and its box, the scope of one run (resolving and
masking), and the names a secret may have.

The store is a dictionary here (the SQL store has its own contract tests); the cipher, the
key file and the masking are the real ones.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rota.data.references import resolve_references
from rota.model.errors import InvalidInputError, NotFoundError
from rota.model.secrets import StoredSecret, check_secret_name
from rota.secrets.box import (
    KEY_ENV,
    SecretBox,
    SecretKeyError,
    check_value,
    key_file,
    new_key,
    open_box,
    self_test,
)
from rota.secrets.scope import MASK, SecretScope, using
from rota.settings import Settings, load_settings
from rota.store.base import Store

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
KEEP = {"ROTA_TEST_POSTGRES_URL"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ``ROTA_*`` variable of the outer environment (a real ROTA_SECRET_KEY!) may leak in."""
    for name in list(os.environ):
        if name.upper().startswith("ROTA_") and name not in KEEP:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def config_for(project: Path, **values: Any) -> Settings:
    return Settings(project=project, **values)


# -- a store of ciphertexts -------------------------------------------------------------------


@dataclass
class DictStore:
    """The four secret operations of :class:`Store`, on a dictionary."""

    rows: dict[tuple[str, str], StoredSecret] = field(default_factory=dict)
    reads: int = 0

    def put(self, box: SecretBox, name: str, value: str, tenant: str = "default") -> None:
        old = self.rows.get((tenant, name))
        self.rows[(tenant, name)] = StoredSecret(
            tenant=tenant,
            name=name,
            version=old.version + 1 if old else 1,
            ciphertext=box.encrypt(value),
            created_at=NOW,
            updated_at=NOW,
            updated_by="alice",
        )

    def get_secret(self, tenant: str, name: str) -> StoredSecret:
        self.reads += 1
        try:
            return self.rows[(tenant, name)]
        except KeyError:
            raise NotFoundError("secret", name) from None

    def list_secrets(self, tenant: str | None = None) -> list[StoredSecret]:
        return [s for (t, _), s in sorted(self.rows.items()) if tenant in (None, t)]


def as_store(store: DictStore) -> Store:
    return cast(Store, store)


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(new_key().encode(), "test key")


def scope_with(box: SecretBox, **values: str) -> SecretScope:
    """A scope that has resolved each of ``values`` (name=value), as a run would have."""
    store = DictStore()
    for name, value in values.items():
        store.put(box, name, value)
    scope = SecretScope(as_store(store), box, "default")
    for name in values:
        scope.value(name, f"headers.{name}")
    return scope


# -- the box ----------------------------------------------------------------------------------


def test_the_box_opens_what_it_closed(box: SecretBox) -> None:
    for value in ["s3cret", "pässwörd €", "line one\nline two", "x" * 10_000, " "]:
        token = box.encrypt(value)
        assert value not in token
        assert box.decrypt(token, "api_token") == value


def test_the_same_value_encrypts_differently_each_time(box: SecretBox) -> None:
    assert box.encrypt("s3cret") != box.encrypt("s3cret")


def test_a_wrong_key_is_refused_naming_the_secret_and_never_the_value(box: SecretBox) -> None:
    other_key = new_key()
    token = box.encrypt("hunter2-the-value")
    with pytest.raises(SecretKeyError) as caught:
        SecretBox(other_key.encode(), KEY_ENV).decrypt(token, "api_token")
    message = str(caught.value)
    assert "secret 'api_token' cannot be opened with the key from ROTA_SECRET_KEY" in message
    assert "hunter2" not in message
    assert other_key not in message


def test_damaged_ciphertext_is_refused_not_turned_into_garbage(box: SecretBox) -> None:
    token = box.encrypt("s3cret")
    damaged = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(SecretKeyError, match="'api_token' cannot be opened"):
        box.decrypt(damaged, "api_token")


def test_the_key_file_is_created_for_its_owner_only(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    path = key_file(config)
    assert path == tmp_path / ".rota" / "secret.key"
    assert open_box(config, create=False) is None  # no key yet, and none made

    made = open_box(config, create=True)

    assert made is not None and made.origin == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # The same key the next time: what was closed opens.
    again = open_box(config, create=False)
    assert again is not None
    assert again.decrypt(made.encrypt("s3cret"), "x") == "s3cret"


def test_a_relative_key_file_is_in_the_project_and_an_absolute_one_where_it_says(
    tmp_path: Path,
) -> None:
    assert key_file(config_for(tmp_path, secret_key_file=Path("keys/k"))) == tmp_path / "keys/k"
    elsewhere = tmp_path / "elsewhere" / "rota.key"
    assert key_file(config_for(tmp_path / "project", secret_key_file=elsewhere)) == elsewhere


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o620])
def test_a_key_file_others_may_read_or_write_is_refused(tmp_path: Path, mode: int) -> None:
    config = config_for(tmp_path)
    assert open_box(config, create=True) is not None
    path = key_file(config)
    path.chmod(mode)

    with pytest.raises(SecretKeyError) as caught:
        open_box(config, create=False)

    assert str(caught.value) == (
        f"{path}: the secret key may be read by others; `chmod 600 {path}` and restart"
    )
    path.chmod(0o600)
    assert open_box(config, create=False) is not None


def test_a_key_file_that_holds_no_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ".rota" / "secret.key"
    path.parent.mkdir()
    path.write_text("not a key\n")
    path.chmod(0o600)
    with pytest.raises(SecretKeyError, match="not a secret key"):
        open_box(config_for(tmp_path), create=False)


@pytest.mark.parametrize(
    "garbage",
    ["garbage", "x" * 44, "päss-wörd", "dGhpcyBpcyBub3QgMzIgYnl0ZXMgbG9uZw=="],
    ids=["word", "44-chars", "not-ascii", "base64-of-too-few-bytes"],
)
def test_a_garbage_rota_secret_key_is_refused_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, garbage: str
) -> None:
    monkeypatch.setenv(KEY_ENV, garbage)
    config = load_settings(tmp_path)

    with pytest.raises(SecretKeyError) as caught:
        open_box(config, create=True)

    message = str(caught.value)
    assert message.startswith("ROTA_SECRET_KEY: not a secret key")
    assert "rota secrets new-key" in message
    assert garbage not in message
    assert not key_file(config).exists()  # the environment's key wins: no file is made


def test_the_key_from_the_environment_wins_over_the_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_file = open_box(config_for(tmp_path), create=True)
    assert from_file is not None
    monkeypatch.setenv(KEY_ENV, new_key())

    from_env = open_box(load_settings(tmp_path), create=True)

    assert from_env is not None and from_env.origin == KEY_ENV
    with pytest.raises(SecretKeyError):
        from_env.decrypt(from_file.encrypt("s3cret"), "x")


def test_a_new_key_is_a_fernet_key() -> None:
    key = new_key()
    assert len(key) == 44 and key != new_key()
    SecretBox(key.encode(), "here")  # does not raise


def test_the_self_test_passes_without_secrets_and_with_the_right_key(tmp_path: Path) -> None:
    store = DictStore()
    assert self_test(as_store(store), config_for(tmp_path)) == 0
    assert not key_file(config_for(tmp_path)).exists()  # checking makes no key

    config = config_for(tmp_path)
    made = open_box(config, create=True)
    assert made is not None
    store.put(made, "a", "one")
    store.put(made, "b", "two", tenant="other")
    assert self_test(as_store(store), config) == 2


def test_the_self_test_refuses_secrets_the_key_cannot_open(tmp_path: Path, box: SecretBox) -> None:
    store = DictStore()
    store.put(box, "api_token", "hunter2-the-value")  # closed with another key
    assert open_box(config_for(tmp_path), create=True) is not None

    with pytest.raises(SecretKeyError) as caught:
        self_test(as_store(store), config_for(tmp_path))

    assert "secret 'api_token' cannot be opened" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_the_self_test_refuses_stored_secrets_without_any_key(
    tmp_path: Path, box: SecretBox
) -> None:
    store = DictStore()
    store.put(box, "api_token", "s3cret")
    with pytest.raises(SecretKeyError) as caught:
        self_test(as_store(store), config_for(tmp_path))
    assert str(caught.value) == (
        f"1 secrets are stored but there is no key: restore {tmp_path}/.rota/secret.key "
        "or set ROTA_SECRET_KEY"
    )
    assert not key_file(config_for(tmp_path)).exists()  # and it does not make a new one


def test_the_key_cannot_be_written_into_rota_toml(tmp_path: Path) -> None:
    (tmp_path / "rota.toml").write_text(f'[rota]\nsecret_key = "{new_key()}"\n')
    with pytest.raises(InvalidInputError) as caught:
        load_settings(tmp_path)
    assert caught.value.field == "secret_key"
    assert "ROTA_SECRET_KEY" in caught.value.reason


def test_the_key_is_not_shown_with_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = new_key()
    monkeypatch.setenv(KEY_ENV, key)
    config = load_settings(tmp_path)
    assert config.secret_key.get_secret_value() == key
    assert key not in repr(config) and key not in str(config.model_dump())


# -- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "reason"), [("", "is empty"), ("a\x00b", "NUL")])
def test_an_empty_value_or_one_with_nul_is_refused(value: str, reason: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_value(value)
    assert caught.value.field == "value" and reason in caught.value.reason


def test_any_other_value_is_taken_as_it_is() -> None:
    for value in [" ", "x", "multi\nline", "  padded  ", "ünï€ode"]:
        assert check_value(value) == value


# -- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["api_token", "API_TOKEN", "_private", "crm.token", "crm-token-2", "a", "a" * 128]
)
def test_a_secret_name_is_a_letter_or_underscore_then_letters_digits_and_dot_dash(
    name: str,
) -> None:
    assert check_secret_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "1token", "-token", ".token", "has space", "has/slash", "a:b", "tok\n", "ä", "a" * 129],
)
def test_other_secret_names_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_secret_name(name, "headers.Authorization")
    assert caught.value.field == "headers.Authorization"
    assert "is not a secret name" in caught.value.reason


def test_a_name_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        check_secret_name(42)  # type: ignore[arg-type]


# -- the scope of one run ---------------------------------------------------------------------


def test_a_reference_resolves_inside_a_scope_and_records_the_version(box: SecretBox) -> None:
    store = DictStore()
    store.put(box, "api_token", "first")
    store.put(box, "api_token", "second")  # rotated: version 2
    store.put(box, "other", "unused")
    scope = SecretScope(as_store(store), box, "default")

    with using(scope):
        header = resolve_references("Bearer ${secret:api_token}", "headers.Authorization")

    assert header == "Bearer second"
    assert scope.used == {"api_token": 2}
    with pytest.raises(InvalidInputError, match="only inside a run"):
        resolve_references("Bearer ${secret:api_token}", "headers.Authorization")


def test_each_resolution_reads_the_store_so_a_rotation_is_seen_at_once(box: SecretBox) -> None:
    store = DictStore()
    store.put(box, "api_token", "first")
    scope = SecretScope(as_store(store), box, "default")
    assert scope.value("api_token", "f") == "first"
    store.put(box, "api_token", "second")
    assert scope.value("api_token", "f") == "second"
    assert scope.used == {"api_token": 2}
    assert scope.mask("first second") == f"{MASK} {MASK}"  # both were in this run


def test_a_scope_resolves_in_its_own_tenant(box: SecretBox) -> None:
    store = DictStore()
    store.put(box, "api_token", "default-value")
    store.put(box, "api_token", "acme-value", tenant="acme")
    assert SecretScope(as_store(store), box, "acme").value("api_token", "f") == "acme-value"
    with pytest.raises(InvalidInputError, match="does not exist"):
        SecretScope(as_store(store), box, "nobody").value("api_token", "f")


def test_a_missing_secret_is_named_with_how_to_set_it(box: SecretBox) -> None:
    scope = SecretScope(as_store(DictStore()), box, "default")
    with pytest.raises(InvalidInputError) as caught:
        scope.value("api_token", "env.set.TOKEN")
    assert caught.value.field == "env.set.TOKEN"
    assert caught.value.reason == "secret 'api_token' does not exist (rota secrets set api_token)"
    assert scope.used == {}


def test_a_scope_without_a_key_says_so(box: SecretBox) -> None:
    store = DictStore()
    store.put(box, "api_token", "s3cret")
    with pytest.raises(InvalidInputError, match="no secret key here"):
        SecretScope(as_store(store), None, "default").value("api_token", "f")


def test_a_scope_with_a_wrong_key_names_the_secret_never_the_value(box: SecretBox) -> None:
    store = DictStore()
    store.put(box, "api_token", "hunter2-the-value")
    wrong = SecretBox(new_key().encode(), KEY_ENV)
    with pytest.raises(SecretKeyError) as caught:
        SecretScope(as_store(store), wrong, "default").value("api_token", "f")
    assert "'api_token'" in str(caught.value) and "hunter2" not in str(caught.value)


def test_a_scope_that_resolved_nothing_masks_nothing(box: SecretBox) -> None:
    scope = SecretScope(as_store(DictStore()), box, "default")
    assert scope.mask("anything at all") == "anything at all"
    assert scope.mask("") == ""


def test_it_masks_the_exact_value(box: SecretBox) -> None:
    assert scope_with(box, api_token="s3cr3t-Value").mask("s3cr3t-Value") == MASK


def test_it_masks_every_occurrence_inside_longer_text(box: SecretBox) -> None:
    scope = scope_with(box, api_token="s3cr3t")
    assert scope.mask("Bearer s3cr3t; again:s3cr3ts3cr3t.") == f"Bearer {MASK}; again:{MASK}{MASK}."
    assert scope.mask("S3CR3T s3cr3") == "S3CR3T s3cr3"  # only the value itself


def test_it_masks_the_url_quoted_forms(box: SecretBox) -> None:
    value = "p@ss word&x=1/2+3"
    scope = scope_with(box, api_token=value)
    quoted = quote(value, safe="")
    plus = quote_plus(value)
    assert quoted == "p%40ss%20word%26x%3D1%2F2%2B3"
    assert plus == "p%40ss+word%26x%3D1%2F2%2B3"

    assert scope.mask(f"GET https://x/?k={quoted}&page=2") == f"GET https://x/?k={MASK}&page=2"
    assert scope.mask(f"POST body: k={plus}") == f"POST body: k={MASK}"
    assert scope.mask(f"raw {value} end") == f"raw {MASK} end"


def test_it_masks_several_secrets_the_longer_one_first(box: SecretBox) -> None:
    # "abc123" is inside "abc123xyz": masking the shorter first would leave "***xyz".
    scope = scope_with(box, short="abc123", long="abc123xyz", other="qwerty")
    assert scope.mask("[abc123xyz] [abc123] [qwerty]") == f"[{MASK}] [{MASK}] [{MASK}]"
    assert "xyz" not in scope.mask("abc123xyz")


def test_the_order_of_resolution_does_not_matter_for_overlapping_secrets(
    box: SecretBox,
) -> None:
    scope = scope_with(box, long="abc123xyz", short="abc123")
    assert scope.mask("abc123xyz abc123") == f"{MASK} {MASK}"


def test_values_shorter_than_three_characters_are_not_masked(box: SecretBox) -> None:
    scope = scope_with(box, one="a", two="ab", three="abc")
    assert scope.used == {"one": 1, "two": 1, "three": 1}
    assert scope.mask("a ab abc abcd") == f"a ab {MASK} {MASK}d"
    # Two characters stay visible however often they appear: masking "ab" would hide the
    # log, not the secret.
    assert scope_with(box, two="ab").mask("ab cab abab") == "ab cab abab"


KEY_FOR_PROPERTIES = new_key().encode()
PRINTABLE = st.characters(exclude_categories=("Cs",), exclude_characters="*")
"""Any character but ``*``: a value made of the mask's own character is indistinguishable
from the mask (``***`` masked is still ``***``)."""


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    values=st.lists(st.text(PRINTABLE, min_size=3, max_size=30), min_size=1, max_size=3),
    pieces=st.lists(st.text(PRINTABLE, max_size=20), min_size=1, max_size=6),
    forms=st.lists(st.sampled_from(["raw", "quote", "quote_plus"]), min_size=1, max_size=6),
)
def test_a_masked_text_never_contains_a_secret_value(
    values: list[str], pieces: list[str], forms: list[str]
) -> None:
    box = SecretBox(KEY_FOR_PROPERTIES, "test key")
    scope = scope_with(box, **{f"s{i}": value for i, value in enumerate(values)})
    encode = {"raw": str, "quote": lambda v: quote(v, safe=""), "quote_plus": quote_plus}
    embedded = [
        encode[form](values[i % len(values)]) for i, form in enumerate(forms) if form in encode
    ]
    text = "".join(p + e for p, e in zip(pieces, embedded, strict=False)) + "".join(pieces)

    masked = scope.mask(text)

    for value in values:
        assert value not in masked
        assert quote(value, safe="") not in masked
        assert quote_plus(value) not in masked
