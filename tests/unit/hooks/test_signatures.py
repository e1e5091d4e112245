"""Webhook signatures: both forms against their published examples, every way a request is
refused, secret rotation, and a property that no input escapes as anything but SignatureError.

The published examples (Standard Webhooks' and GitHub's documentation) check the byte layout
against someone else's implementation; the round trips alone would pass with a consistent
mistake on both sides.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rota.hooks.signatures import (
    SECRET_PREFIX,
    SignatureError,
    Verified,
    generate_secret,
    sign_github,
    sign_standard,
    verify,
)

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
BODY = b'{"ref": "refs/heads/main", "run": true}'
SECRET = SECRET_PREFIX + base64.b64encode(bytes(range(32))).decode()
OLD_SECRET = SECRET_PREFIX + base64.b64encode(bytes(range(100, 132))).decode()
OTHER_SECRET = SECRET_PREFIX + base64.b64encode(b"\x07" * 32).decode()

# https://www.standardwebhooks.com (spec and reference libraries' test vector)
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TIMESTAMP = 1614265330
SW_BODY = b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

# https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
GH_SECRET = "It's a Secret to Everybody"
GH_BODY = b"Hello, World!"
GH_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def standard(
    secret: str = SECRET, *, body: bytes = BODY, at: datetime = NOW, message_id: str = "msg_1"
) -> dict[str, str]:
    return sign_standard(secret, message_id, at, body)


def refused(
    headers: dict[str, str],
    body: bytes = BODY,
    secrets: list[str] | None = None,
    now: datetime = NOW,
) -> str:
    """The reason verify gives, after checking it never reveals a secret."""
    used = [SECRET] if secrets is None else secrets
    with pytest.raises(SignatureError) as caught:
        verify(headers, body, used, now)
    reason = caught.value.reason
    assert str(caught.value) == reason
    for secret in used:
        if secret:
            assert secret not in reason
            assert secret.removeprefix(SECRET_PREFIX) not in reason
    return reason


# Published examples


def test_it_accepts_the_standard_webhooks_example() -> None:
    headers = {
        "webhook-id": SW_ID,
        "webhook-timestamp": str(SW_TIMESTAMP),
        "webhook-signature": SW_SIGNATURE,
    }
    now = datetime.fromtimestamp(SW_TIMESTAMP, UTC)

    assert verify(headers, SW_BODY, [SW_SECRET], now) == Verified(
        scheme="standard", delivery_id=SW_ID, timestamp=now
    )


def test_it_signs_the_standard_webhooks_example_byte_for_byte() -> None:
    at = datetime.fromtimestamp(SW_TIMESTAMP, UTC)

    assert sign_standard(SW_SECRET, SW_ID, at, SW_BODY) == {
        "webhook-id": SW_ID,
        "webhook-timestamp": str(SW_TIMESTAMP),
        "webhook-signature": SW_SIGNATURE,
    }


def test_it_accepts_the_github_example() -> None:
    headers = {"X-Hub-Signature-256": GH_SIGNATURE}

    assert verify(headers, GH_BODY, [GH_SECRET], NOW) == Verified(
        scheme="github", delivery_id=None, timestamp=None
    )


def test_it_signs_the_github_example_byte_for_byte() -> None:
    assert sign_github(GH_SECRET, GH_BODY) == {"X-Hub-Signature-256": GH_SIGNATURE}


def test_it_takes_the_delivery_id_from_github_when_sent() -> None:
    headers = {
        "X-Hub-Signature-256": GH_SIGNATURE,
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    }

    verified = verify(headers, GH_BODY, [GH_SECRET], NOW)

    assert verified.delivery_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def test_github_keys_the_hmac_with_the_whole_pasted_secret() -> None:
    # What GitHub computes after a user pastes our whsec_ secret into its form.
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()

    verified = verify({"X-Hub-Signature-256": f"sha256={digest}"}, BODY, [SECRET], NOW)

    assert verified.scheme == "github"


# Round trips


def test_a_standard_signature_round_trips() -> None:
    secret = generate_secret()

    verified = verify(standard(secret), BODY, [secret], NOW)

    assert verified == Verified(scheme="standard", delivery_id="msg_1", timestamp=NOW)
    assert verified.timestamp is not None
    assert verified.timestamp.tzinfo is UTC


def test_a_github_signature_round_trips() -> None:
    secret = generate_secret()

    assert verify(sign_github(secret, BODY), BODY, [secret], NOW).scheme == "github"


def test_the_timestamp_is_reported_in_utc_whatever_the_zone_of_now() -> None:
    now = NOW.astimezone(timezone(timedelta(hours=-5)))

    verified = verify(standard(at=now), BODY, [SECRET], now)

    assert verified.timestamp == NOW
    assert verified.timestamp is not None
    assert verified.timestamp.utcoffset() == timedelta(0)


def test_signing_drops_fractions_of_a_second() -> None:
    headers = standard(at=NOW + timedelta(milliseconds=999))

    assert headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert verify(headers, BODY, [SECRET], NOW).timestamp == NOW


@given(
    body=st.binary(max_size=512),
    message_id=st.from_regex(r"[\x21-\x7e]{1,256}", fullmatch=True),
    skew=st.integers(-300, 300),
)
def test_any_signed_request_verifies_and_any_changed_body_does_not(
    body: bytes, message_id: str, skew: int
) -> None:
    at = NOW + timedelta(seconds=skew)
    headers = sign_standard(SECRET, message_id, at, body)

    assert verify(headers, body, [SECRET], NOW).delivery_id == message_id
    with pytest.raises(SignatureError):
        verify(headers, body + b"\n", [SECRET], NOW)
    with pytest.raises(SignatureError):
        verify(sign_github(SECRET, body), body + b"\n", [SECRET], NOW)


# Secrets


def test_a_generated_secret_is_32_random_bytes_in_standard_base64() -> None:
    secret = generate_secret()

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert generate_secret() != secret


def test_a_secret_without_the_prefix_is_decoded_as_base64() -> None:
    bare = SECRET.removeprefix(SECRET_PREFIX)

    assert standard(bare) == standard(SECRET)
    assert verify(standard(SECRET), BODY, [bare], NOW).scheme == "standard"


def test_a_secret_that_is_not_base64_keys_the_hmac_with_its_utf8_bytes() -> None:
    secret = "correct horse battery staple é"
    content = b"msg_1." + str(int(NOW.timestamp())).encode() + b"." + BODY
    mac = hmac.new(secret.encode(), content, hashlib.sha256).digest()
    headers = standard(secret)

    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()
    assert verify(headers, BODY, [secret], NOW).scheme == "standard"


def test_a_prefixed_secret_whose_rest_is_not_base64_is_still_usable() -> None:
    secret = "whsec_not base64!"

    assert verify(standard(secret), BODY, [secret], NOW).scheme == "standard"


@pytest.mark.parametrize("secrets", [[], [""]])
def test_a_hook_without_a_secret_refuses_everything(secrets: list[str]) -> None:
    assert refused(standard(), secrets=secrets) == "hook has no secret"
    assert refused(sign_github(SECRET, BODY), secrets=secrets) == "hook has no secret"


def test_an_empty_secret_next_to_a_real_one_is_ignored() -> None:
    assert verify(standard(), BODY, ["", SECRET], NOW).scheme == "standard"


# Wrong secret, tampering


def test_it_refuses_a_standard_signature_made_with_another_secret() -> None:
    reason = refused(standard(OTHER_SECRET))

    assert "no v1 signature matches" in reason


def test_it_refuses_a_github_signature_made_with_another_secret() -> None:
    reason = refused(sign_github(OTHER_SECRET, BODY))

    assert "X-Hub-Signature-256 does not match" in reason


def test_it_refuses_a_tampered_body_in_both_forms() -> None:
    tampered = BODY.replace(b"main", b"evil")

    assert "no v1 signature matches" in refused(standard(), tampered)
    assert "does not match" in refused(sign_github(SECRET, BODY), tampered)


@pytest.mark.parametrize(
    ("header", "value"),
    [("webhook-id", "msg_2"), ("webhook-timestamp", str(int(NOW.timestamp()) + 1))],
)
def test_the_standard_signature_covers_the_id_and_the_timestamp(header: str, value: str) -> None:
    headers = standard() | {header: value}

    assert "no v1 signature matches" in refused(headers)


def test_the_timestamp_is_checked_as_sent_with_its_leading_zeros() -> None:
    # A signature made over "0…" would not cover the same digits without the zero.
    headers = standard() | {"webhook-timestamp": "0" + str(int(NOW.timestamp()))}

    assert "no v1 signature matches" in refused(headers)


# Timestamps


@pytest.mark.parametrize(
    ("offset", "words"), [(-301, "301 seconds in the past"), (301, "301 seconds in the future")]
)
def test_it_refuses_a_timestamp_outside_the_tolerance(offset: int, words: str) -> None:
    headers = standard(at=NOW + timedelta(seconds=offset))

    reason = refused(headers)

    assert words in reason
    assert "300-second tolerance" in reason


def test_it_reports_the_skew_rounded_to_whole_seconds() -> None:
    headers = standard(at=NOW)

    reason = refused(headers, now=NOW + timedelta(seconds=3600, milliseconds=600))

    assert "3601 seconds in the past" in reason


@pytest.mark.parametrize("offset", [-300, 300])
def test_it_accepts_a_timestamp_exactly_at_the_tolerance(offset: int) -> None:
    headers = standard(at=NOW + timedelta(seconds=offset))

    assert verify(headers, BODY, [SECRET], NOW).scheme == "standard"


def test_the_tolerance_can_be_narrowed() -> None:
    headers = standard(at=NOW - timedelta(seconds=31))

    with pytest.raises(SignatureError, match="31 seconds in the past, outside the 30-second"):
        verify(headers, BODY, [SECRET], NOW, tolerance=30)
    assert verify(headers, BODY, [SECRET], NOW, tolerance=31).scheme == "standard"


def test_a_nan_tolerance_refuses_rather_than_accepts() -> None:
    with pytest.raises(SignatureError, match="tolerance"):
        verify(standard(), BODY, [SECRET], NOW, tolerance=float("nan"))


def test_a_far_timestamp_is_refused_with_a_reason() -> None:
    headers = standard() | {"webhook-timestamp": "9" * 20}

    assert "in the future" in refused(headers)


def test_a_far_timestamp_within_an_unlimited_tolerance_is_refused_with_a_reason() -> None:
    headers = standard() | {"webhook-timestamp": "9" * 20}

    with pytest.raises(SignatureError, match="out of range"):
        verify(headers, BODY, [SECRET], NOW, tolerance=float("inf"))


# Rotation and several signatures


def test_during_rotation_both_the_new_and_the_previous_secret_are_accepted() -> None:
    valid = [SECRET, OLD_SECRET]

    for secret in valid:
        assert verify(standard(secret), BODY, valid, NOW).scheme == "standard"
        assert verify(sign_github(secret, BODY), BODY, valid, NOW).scheme == "github"
    assert "no v1 signature matches" in refused(standard(OTHER_SECRET), secrets=valid)
    assert "does not match" in refused(sign_github(OTHER_SECRET, BODY), secrets=valid)


def test_any_matching_signature_in_the_header_accepts() -> None:
    good = standard()["webhook-signature"]
    wrong = standard(OTHER_SECRET)["webhook-signature"]

    for value in (f"{wrong} {good}", f"{good} {wrong}", f"  {wrong}   {good}  "):
        headers = standard() | {"webhook-signature": value}
        assert verify(headers, BODY, [SECRET], NOW).scheme == "standard"


def test_signatures_of_other_versions_are_skipped() -> None:
    good = standard()["webhook-signature"]
    headers = standard() | {"webhook-signature": f"v1a,c29tZXRoaW5nIGVsc2U= {good} v2,xyz"}

    assert verify(headers, BODY, [SECRET], NOW).scheme == "standard"


def test_a_malformed_entry_does_not_hide_a_good_one() -> None:
    good = standard()["webhook-signature"]
    headers = standard() | {"webhook-signature": f"v1,!!not-base64!! v1 {good}"}

    assert verify(headers, BODY, [SECRET], NOW).scheme == "standard"


@pytest.mark.parametrize("value", ["", "v2,abc", "v1a,abc v1b,def", "v1", "nonsense"])
def test_it_refuses_a_header_without_a_v1_signature(value: str) -> None:
    headers = standard() | {"webhook-signature": value}

    assert "webhook-signature has no v1 signature" in refused(headers)


@pytest.mark.parametrize("value", ["v1,!!!", "v1,abc", "v1,é"])
def test_it_says_when_the_only_v1_signatures_are_not_base64(value: str) -> None:
    headers = standard() | {"webhook-signature": value}

    assert "must be standard base64" in refused(headers)


# Missing and malformed headers


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp"])
def test_it_names_a_missing_standard_header(header: str) -> None:
    headers = standard()
    del headers[header]

    assert refused(headers) == f"missing {header} header"


def test_it_refuses_a_request_without_any_signature() -> None:
    headers = {"Content-Type": "application/json", "X-GitHub-Delivery": "abc"}

    reason = refused(headers)

    assert reason.startswith("no signature: send webhook-signature")
    assert reason.endswith("or X-Hub-Signature-256")


def test_the_id_and_timestamp_alone_are_no_signature() -> None:
    headers = standard()
    del headers["webhook-signature"]

    assert refused(headers).startswith("no signature")


ARABIC_INDIC_DIGITS = "\u0661\u0667" + "\u0660" * 8
"""1700000000 in another script's digits, which ``int()`` alone would take."""


@pytest.mark.parametrize(
    "value", ["", "soon", "-5", "+1700000000", "1700000000.5", "1_700_000_000", ARABIC_INDIC_DIGITS]
)
def test_it_refuses_a_timestamp_that_is_not_whole_seconds(value: str) -> None:
    headers = standard() | {"webhook-timestamp": value}

    assert "webhook-timestamp must be whole seconds" in refused(headers)


@pytest.mark.parametrize("value", ["", "a" * 257, "msg 1", "msg_é", "msg\x00", "msg\n1"])
def test_it_refuses_a_malformed_webhook_id(value: str) -> None:
    headers = standard() | {"webhook-id": value}

    assert refused(headers).startswith("webhook-id must be 1 to 256")


def test_an_id_of_256_characters_is_accepted() -> None:
    message_id = "m" * 256

    assert verify(standard(message_id=message_id), BODY, [SECRET], NOW).delivery_id == message_id


@pytest.mark.parametrize(
    "value",
    [
        "",
        "sha256",
        "sha1=" + "0" * 40,
        "SHA256=" + "0" * 64,
        "sha256=" + "0" * 63,
        "sha256=" + "0" * 65,
        "sha256=" + "g" * 64,
        "sha256=" + "00 " * 21 + "0",
        "sha256=" + "\u0660" * 64,
    ],
)
def test_it_refuses_a_malformed_github_signature(value: str) -> None:
    assert "must be sha256= followed by 64 hex digits" in refused({"X-Hub-Signature-256": value})


def test_it_accepts_a_github_digest_in_upper_case() -> None:
    algorithm, _, digest = GH_SIGNATURE.partition("=")
    headers = {"X-Hub-Signature-256": f"{algorithm}={digest.upper()}"}

    assert verify(headers, GH_BODY, [GH_SECRET], NOW).scheme == "github"


def test_it_refuses_a_malformed_github_delivery_id() -> None:
    headers = {"X-Hub-Signature-256": GH_SIGNATURE, "X-GitHub-Delivery": "two words"}

    assert refused(headers, GH_BODY, [GH_SECRET]).startswith("X-GitHub-Delivery must be")


# Header names and values


def test_header_names_are_matched_whatever_their_case() -> None:
    signed = standard()
    shouting = {name.upper(): value for name, value in signed.items()}
    titled = {name.title(): value for name, value in signed.items()}
    github = {"x-hub-signature-256": GH_SIGNATURE, "x-github-delivery": "d1"}

    assert verify(shouting, BODY, [SECRET], NOW).delivery_id == "msg_1"
    assert verify(titled, BODY, [SECRET], NOW).delivery_id == "msg_1"
    assert verify(github, GH_BODY, [GH_SECRET], NOW).delivery_id == "d1"


def test_a_non_ascii_look_alike_header_name_is_not_matched() -> None:
    # "\u212a" (KELVIN SIGN) lowers to an ASCII "k".
    headers = {name.replace("k", "\u212a"): value for name, value in standard().items()}

    assert refused(headers).startswith("no signature")


def test_a_header_value_that_is_not_text_is_refused() -> None:
    # Some servers hand over raw bytes; the type says str, the request decides.
    headers = cast(dict[str, str], standard() | {"webhook-id": b"msg_1"})

    assert refused(headers) == "webhook-id header is not text"


def test_surrounding_spaces_in_values_are_ignored() -> None:
    headers = {name: f" {value}\t" for name, value in standard().items()}

    assert verify(headers, BODY, [SECRET], NOW).delivery_id == "msg_1"


def test_one_header_given_twice_with_different_values_is_refused() -> None:
    headers = standard() | {"Webhook-Id": "msg_2"}

    assert refused(headers) == "webhook-id header given twice with different values"


def test_one_header_given_twice_with_the_same_value_is_fine() -> None:
    headers = standard() | {"WEBHOOK-ID": "msg_1"}

    assert verify(headers, BODY, [SECRET], NOW).delivery_id == "msg_1"


def test_the_standard_form_wins_when_both_are_present() -> None:
    good_standard = standard() | {"X-Hub-Signature-256": "sha256=" + "0" * 64}
    good_github = sign_github(SECRET, BODY) | standard(OTHER_SECRET)

    assert verify(good_standard, BODY, [SECRET], NOW).scheme == "standard"
    assert "no v1 signature matches" in refused(good_github)


# Caller mistakes are not request failures


def test_a_naive_now_is_a_bug_in_the_caller() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        verify(standard(), BODY, [SECRET], NOW.replace(tzinfo=None))


def test_one_string_instead_of_a_list_of_secrets_is_a_bug_in_the_caller() -> None:
    with pytest.raises(TypeError, match="sequence of secrets"):
        verify(standard(), BODY, SECRET, NOW)


@pytest.mark.parametrize("message_id", ["", "a b", "x" * 257, "é"])
def test_signing_refuses_an_id_receivers_would_refuse(message_id: str) -> None:
    with pytest.raises(ValueError, match="message id"):
        sign_standard(SECRET, message_id, NOW, BODY)


def test_signing_refuses_a_naive_timestamp_and_an_empty_secret() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_standard(SECRET, "msg_1", NOW.replace(tzinfo=None), BODY)
    with pytest.raises(ValueError, match="empty secret"):
        sign_standard("", "msg_1", NOW, BODY)
    with pytest.raises(ValueError, match="empty secret"):
        sign_github("", BODY)


def test_verified_refuses_a_naive_timestamp() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Verified(scheme="standard", delivery_id="m", timestamp=NOW.replace(tzinfo=None))


# Hostile input


HEADER_NAMES = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "X-Hub-Signature-256",
    "X-GitHub-Delivery",
]

any_text = st.text(alphabet=st.characters(exclude_categories=()))
"""Lone surrogates included: a server may hand over headers that are not valid Unicode."""
header_names = st.one_of(
    st.sampled_from(HEADER_NAMES).flatmap(
        lambda name: st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in name)).map(
            "".join
        )
    ),
    any_text,
)
header_values = st.one_of(
    any_text,
    st.text(alphabet=st.characters(max_codepoint=0x7F)),
    st.integers().map(str),
    st.floats().map(str),
    st.from_regex(r"(v1[a-z]?,[A-Za-z0-9+/=!]{0,48} ?){1,4}", fullmatch=True),
    st.from_regex(r"sha256=[0-9a-fA-Fg]{60,66}", fullmatch=True),
    st.just(str(int(NOW.timestamp()))),
    st.just("9" * 5000),
)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    headers=st.dictionaries(header_names, header_values, max_size=8),
    body=st.binary(max_size=256),
    secrets=st.lists(st.one_of(any_text, st.just(SECRET)), max_size=3),
)
def test_any_request_is_either_verified_or_refused_with_a_signature_error(
    headers: dict[str, str], body: bytes, secrets: list[str]
) -> None:
    try:
        verified = verify(headers, body, secrets, NOW)
    except SignatureError as error:
        assert error.reason
        assert str(error) == error.reason
    else:
        assert verified.scheme in ("standard", "github")
