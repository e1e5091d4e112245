"""Webhook signatures: HMAC-SHA256 over the raw body, in the two forms senders actually use.

A trigger (``POST /hooks/{hook_id}``) accepts the Standard Webhooks form
(https://www.standardwebhooks.com), which most webhook senders and libraries speak and which
signs an id and a timestamp so a captured request cannot be replayed later, and GitHub's
``X-Hub-Signature-256``, because GitHub lets a user paste a secret but not choose the form.
Outgoing notifications are signed by the same code, so a receiver written against either
form can check them.

Everything here is pure: the caller passes ``now`` and the hook's valid secrets. Rotation is
then nothing more than passing the new and the previous secret together, and tests need no
frozen clock.

Every failure while checking a request is a :class:`SignatureError`, whatever the headers or
the body hold, so the HTTP face answers 401 with its reason and never 500 for a hostile
request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from secrets import token_bytes
from typing import Final, Literal

from rota.model.errors import RotaError

SECRET_PREFIX: Final = "whsec_"
SECRET_BYTES: Final = 32
"""256 bits: as long as the SHA-256 block needs to gain nothing from a longer key."""
DEFAULT_TOLERANCE: Final = 300.0
"""Five minutes, the Standard Webhooks default: long enough for sender clocks that drift and
for retries in flight, short enough that a captured request is soon useless."""
MAX_ID_LENGTH: Final = 256

WEBHOOK_ID: Final = "webhook-id"
WEBHOOK_TIMESTAMP: Final = "webhook-timestamp"
WEBHOOK_SIGNATURE: Final = "webhook-signature"
GITHUB_SIGNATURE: Final = "X-Hub-Signature-256"
GITHUB_DELIVERY: Final = "X-GitHub-Delivery"

Scheme = Literal["standard", "github"]

_NAMES: Final = {
    name.lower(): name
    for name in (
        WEBHOOK_ID,
        WEBHOOK_TIMESTAMP,
        WEBHOOK_SIGNATURE,
        GITHUB_SIGNATURE,
        GITHUB_DELIVERY,
    )
}
_ID: Final = re.compile(rf"[\x21-\x7e]{{1,{MAX_ID_LENGTH}}}")
"""Printable ASCII without spaces. An id is signed as text, so a non-ASCII one would verify or
not depending on how the HTTP server decoded the header; it also ends up in logs and in
deduplication keys, where control characters have no business."""
_SECONDS: Final = re.compile(r"[0-9]{1,20}")
"""ASCII digits only: ``int()`` alone would also take signs, underscores, spaces and other
scripts' digits, none of which a sender signs, and would spend time on a huge header."""
_HEX_DIGEST: Final = re.compile(r"[0-9a-fA-F]{64}")


class SignatureError(RotaError):
    """The request is not shown to come from a holder of the hook's secret; nothing may run.

    Its own family rather than :class:`~rota.model.errors.PermissionDenied`: the sender failed
    to authenticate (HTTP 401), which is a different answer from a known actor lacking a
    right (403). ``reason`` is written for whoever set up the sender and is safe to send back:
    it never contains a secret, and never echoes a header value, so a caller cannot write into
    our logs through it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class Verified:
    """What an authentic request told us besides its body.

    ``delivery_id`` lets the trigger drop a delivery it has already started a run for (senders
    retry). It is covered by the signature only in the standard form; GitHub signs the body
    alone, so a GitHub-form request can be replayed and its delivery id is only a hint.
    ``timestamp`` is the sender's, aware and in UTC, and only the standard form has one.
    """

    scheme: Scheme
    delivery_id: str | None
    timestamp: datetime | None

    def __post_init__(self) -> None:
        if self.timestamp is not None:
            _check_aware(self.timestamp, "timestamp")


def generate_secret() -> str:
    """A new hook secret, in the Standard Webhooks text form so senders' libraries take it as is.

    Standard base64 (not url-safe) because that is what those libraries decode.
    """
    return SECRET_PREFIX + base64.b64encode(token_bytes(SECRET_BYTES)).decode("ascii")


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    now: datetime,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Verified:
    """Check a webhook request against any of the hook's valid secrets.

    ``body`` must be the raw bytes as received: a body parsed and serialised again is another
    body. The standard form wins when both forms' headers are present, because it is the one
    that resists replay. A naive ``now`` or a lone string for ``secrets`` is a bug in the
    caller, not a bad request, so those raise ``ValueError``/``TypeError`` instead.
    """
    if isinstance(secrets, str):
        raise TypeError("secrets must be a sequence of secrets, not one string")
    _check_aware(now, "now")
    usable = [secret for secret in secrets if secret]
    if not usable:
        raise SignatureError("hook has no secret")
    found = _known_headers(headers)
    if WEBHOOK_SIGNATURE.lower() in found:
        return _verify_standard(found, body, usable, now, tolerance)
    if GITHUB_SIGNATURE.lower() in found:
        return _verify_github(found, body, usable)
    raise SignatureError(
        f"no signature: send {WEBHOOK_SIGNATURE} (with {WEBHOOK_ID} and {WEBHOOK_TIMESTAMP}) "
        f"or {GITHUB_SIGNATURE}"
    )


def sign_standard(secret: str, message_id: str, timestamp: datetime, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for an outgoing request.

    ``timestamp`` is truncated to whole seconds, as the form requires; send the request soon
    after, since receivers refuse timestamps more than a few minutes off.
    """
    if not secret:
        raise ValueError("cannot sign with an empty secret")
    if not _ID.fullmatch(message_id):
        raise ValueError(
            f"message id must be 1 to {MAX_ID_LENGTH} printable ASCII characters without spaces"
        )
    _check_aware(timestamp, "timestamp")
    seconds = int(timestamp.timestamp())
    if seconds < 0:
        raise ValueError("timestamp must not be before the Unix epoch")
    signature = _mac(_standard_key(secret), _standard_content(message_id, str(seconds), body))
    return {
        WEBHOOK_ID: message_id,
        WEBHOOK_TIMESTAMP: str(seconds),
        WEBHOOK_SIGNATURE: "v1," + base64.b64encode(signature).decode("ascii"),
    }


def sign_github(secret: str, body: bytes) -> dict[str, str]:
    """GitHub's signature header, for receivers written against GitHub webhooks."""
    if not secret:
        raise ValueError("cannot sign with an empty secret")
    return {GITHUB_SIGNATURE: "sha256=" + _mac(_github_key(secret), body).hex()}


def _verify_standard(
    found: Mapping[str, str], body: bytes, secrets: Sequence[str], now: datetime, tolerance: float
) -> Verified:
    message_id = found.get(WEBHOOK_ID.lower())
    if message_id is None:
        raise SignatureError(f"missing {WEBHOOK_ID} header")
    if not _ID.fullmatch(message_id):
        raise SignatureError(
            f"{WEBHOOK_ID} must be 1 to {MAX_ID_LENGTH} printable ASCII characters without spaces"
        )
    sent = found.get(WEBHOOK_TIMESTAMP.lower())
    if sent is None:
        raise SignatureError(f"missing {WEBHOOK_TIMESTAMP} header")
    if not _SECONDS.fullmatch(sent):
        raise SignatureError(f"{WEBHOOK_TIMESTAMP} must be whole seconds since the Unix epoch")
    seconds = int(sent)
    skew = seconds - now.timestamp()
    # Written so that a NaN tolerance refuses everything instead of accepting everything.
    if not abs(skew) <= tolerance:
        direction = "in the future" if skew > 0 else "in the past"
        raise SignatureError(
            f"{WEBHOOK_TIMESTAMP} is {_seconds(round(abs(skew)))} {direction}, outside the "
            f"{tolerance:g}-second tolerance (check the sender's clock; an old request is "
            "refused as a possible replay)"
        )
    try:
        timestamp = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise SignatureError(f"{WEBHOOK_TIMESTAMP} is out of range") from None

    offered, malformed = _v1_signatures(found[WEBHOOK_SIGNATURE.lower()])
    if not offered:
        if malformed:
            raise SignatureError(f"{WEBHOOK_SIGNATURE}: a v1 signature must be standard base64")
        raise SignatureError(f"{WEBHOOK_SIGNATURE} has no v1 signature (v1,<base64>)")
    # The content is signed with the timestamp exactly as sent, leading zeros and all.
    content = _standard_content(message_id, sent, body)
    expected = [_mac(_standard_key(secret), content) for secret in secrets]
    if not _any_match(offered, expected):
        raise SignatureError(
            f"{WEBHOOK_SIGNATURE}: no v1 signature matches the hook's secret "
            "(a wrong secret, or the body changed on the way)"
        )
    return Verified(scheme="standard", delivery_id=message_id, timestamp=timestamp)


def _verify_github(found: Mapping[str, str], body: bytes, secrets: Sequence[str]) -> Verified:
    algorithm, _, digest = found[GITHUB_SIGNATURE.lower()].partition("=")
    if algorithm != "sha256" or not _HEX_DIGEST.fullmatch(digest):
        raise SignatureError(f"{GITHUB_SIGNATURE} must be sha256= followed by 64 hex digits")
    delivery_id = found.get(GITHUB_DELIVERY.lower())
    if delivery_id is not None and not _ID.fullmatch(delivery_id):
        raise SignatureError(
            f"{GITHUB_DELIVERY} must be 1 to {MAX_ID_LENGTH} printable ASCII characters "
            "without spaces"
        )
    expected = [_mac(_github_key(secret), body) for secret in secrets]
    if not _any_match([bytes.fromhex(digest)], expected):
        raise SignatureError(
            f"{GITHUB_SIGNATURE} does not match the hook's secret "
            "(a wrong secret, or the body changed on the way)"
        )
    return Verified(scheme="github", delivery_id=delivery_id, timestamp=None)


def _known_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers this module reads, by lower-case name, values stripped of HTTP's spaces.

    Names are lowered only when ASCII: ``str.lower`` maps a few non-ASCII letters (the Kelvin
    sign) onto ASCII ones, and no real header name is spelt that way. One header given twice
    with different values is refused rather than guessed at, since which copy a signature
    covers is exactly what an attacker would like to choose.
    """
    found: dict[str, str] = {}
    for name, raw in headers.items():
        if not isinstance(name, str) or not name.isascii():
            continue
        key = name.lower()
        if key not in _NAMES:
            continue
        if not isinstance(raw, str):
            raise SignatureError(f"{_NAMES[key]} header is not text")
        value = raw.strip(" \t")
        if found.setdefault(key, value) != value:
            raise SignatureError(f"{_NAMES[key]} header given twice with different values")
    return found


def _v1_signatures(header: str) -> tuple[list[bytes], bool]:
    """The decoded ``v1`` signatures, and whether any ``v1`` entry was not valid base64.

    Entries of other versions are skipped, not refused: the form lets a sender add signatures
    of newer schemes next to ``v1`` (e.g. asymmetric ``v1a``) for receivers that know them.
    """
    offered: list[bytes] = []
    malformed = False
    for entry in header.split():
        version, comma, encoded = entry.partition(",")
        if version != "v1" or not comma:
            continue
        try:
            offered.append(base64.b64decode(encoded, validate=True))
        except ValueError:  # binascii.Error for bad base64, ValueError for non-ASCII text
            malformed = True
    return offered, malformed


def _any_match(offered: Sequence[bytes], expected: Sequence[bytes]) -> bool:
    return any(hmac.compare_digest(given, mac) for given in offered for mac in expected)


def _standard_content(message_id: str, timestamp: str, body: bytes) -> bytes:
    return f"{message_id}.{timestamp}.".encode() + body


def _standard_key(secret: str) -> bytes:
    """The HMAC key of the standard form: the bytes the base64 text stands for.

    A secret without the prefix is decoded whole, as the form's libraries do. Text that is not
    base64 (a secret typed by a person) is used as its UTF-8 bytes, like GitHub does, rather
    than refused: the hook was saved with it, so refusing every request would only break it.
    """
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError:  # binascii.Error for bad base64, ValueError for non-ASCII text
        key = b""
    return key or _utf8(secret)


def _github_key(secret: str) -> bytes:
    """GitHub keys the HMAC with the secret as typed, so a pasted ``whsec_...`` is used whole."""
    return _utf8(secret)


def _utf8(secret: str) -> bytes:
    # A str holding a lone surrogate (possible, if not valid Unicode) still gives a key rather
    # than a UnicodeEncodeError out of verify.
    return secret.encode("utf-8", "surrogatepass")


def _mac(key: bytes, content: bytes) -> bytes:
    return hmac.new(key, content, hashlib.sha256).digest()


def _check_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _seconds(count: int) -> str:
    return f"{count} second" if count == 1 else f"{count} seconds"
