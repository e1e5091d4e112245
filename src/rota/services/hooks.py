"""Webhook triggers through every face: create a hook (its secret is shown once), rotate its
secret, and receive a delivery (verify, deduplicate, map the payload, start the run)."""

from __future__ import annotations

import json
import secrets as random
from collections.abc import Mapping
from datetime import datetime, timedelta

from rota.auth.roles import SYSTEM, Action, Principal, authorize
from rota.hooks.signatures import SignatureError, generate_secret, verify
from rota.model.errors import InvalidInputError, NotFoundError
from rota.model.hooks import MAX_BODY, Hook, check_hook_id
from rota.model.params import JsonValue
from rota.model.runs import Run, Trigger
from rota.processes.expressions import ExpressionError, references, render
from rota.secrets.box import SecretBox, SecretKeyError, open_box, self_test
from rota.services import audit
from rota.services.access import service_account_of
from rota.services.runs import new_run_request
from rota.settings import Settings
from rota.store.base import Store

HOOK_ROOTS = ("payload", "headers", "delivery_id")


def create_hook(
    store: Store,
    settings: Settings,
    job_id: str,
    *,
    hook_id: str | None = None,
    params: Mapping[str, JsonValue] | None = None,
    description: str = "",
    actor: str | None = None,
    now: datetime | None = None,
    principal: Principal = SYSTEM,
) -> tuple[Hook, str]:
    """A new hook for ``job_id`` and its secret, in clear text this one time only. Anyone
    who knows the secret can start the job, so it takes an editor of the job's tenant."""
    stored = store.get_job(job_id)
    authorize(principal, Action.EDIT, stored.definition.tenant, "job", job_id)
    actor = principal.name if not principal.local else actor
    hook_id = check_hook_id(hook_id or f"{job_id.replace('.', '-')}-{random.token_hex(4)}")
    mapped = dict(params or {})
    for name, template in mapped.items():
        try:
            paths = references(template)
        except ExpressionError as exc:
            raise InvalidInputError(f"params.{name}", exc.reason) from None
        for path in paths:
            if path[0] not in HOOK_ROOTS:
                raise InvalidInputError(
                    f"params.{name}",
                    "may refer to {{ payload... }}, {{ headers.NAME }} or {{ delivery_id }}",
                )
    secret = generate_secret()
    hook = Hook(
        id=hook_id,
        tenant=stored.definition.tenant,
        job=job_id,
        description=description,
        params=mapped,
        secret=_box(store, settings).encrypt(secret),
        previous_secret=None,
        previous_expires_at=None,
        active=True,
        created_at=now or store.now(),
        created_by=actor,
        rotated_at=None,
    )
    created = store.create_hook(hook)
    audit.record(
        store,
        principal,
        "hook.create",
        "hook",
        hook_id,
        tenant=hook.tenant,
        actor=actor,
        detail={"job": job_id, "params": mapped},
    )
    return created, secret


def rotate_hook_secret(
    store: Store,
    settings: Settings,
    hook_id: str,
    *,
    keep_previous_hours: float = 24.0,
    now: datetime | None = None,
    principal: Principal = SYSTEM,
) -> tuple[Hook, str]:
    """A new secret; the old one stays valid ``keep_previous_hours`` (0: refused at once)."""
    if not 0 <= keep_previous_hours <= 24 * 30:
        raise InvalidInputError("keep_previous_hours", "must be between 0 and 720")
    now = now or store.now()
    old = get_hook(store, hook_id, principal=principal, action=Action.EDIT)
    secret = generate_secret()
    until = now + timedelta(hours=keep_previous_hours) if keep_previous_hours else None
    hook = store.rotate_hook_secret(hook_id, _box(store, settings).encrypt(secret), until, now)
    audit.record(
        store,
        principal,
        "hook.rotate",
        "hook",
        hook_id,
        tenant=old.tenant,
        detail={"keep_previous_hours": keep_previous_hours},
    )
    return hook, secret


def get_hook(
    store: Store, hook_id: str, *, principal: Principal = SYSTEM, action: Action = Action.READ
) -> Hook:
    hook = store.get_hook(hook_id)
    authorize(principal, action, hook.tenant, "hook", hook_id)
    return hook


def delete_hook(store: Store, hook_id: str, *, principal: Principal = SYSTEM) -> None:
    hook = get_hook(store, hook_id, principal=principal, action=Action.EDIT)
    store.delete_hook(hook_id)
    audit.record(store, principal, "hook.delete", "hook", hook_id, tenant=hook.tenant)


def receive(
    store: Store,
    settings: Settings,
    hook_id: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime | None = None,
) -> tuple[Run, bool]:
    """Verify and record one delivery; answers its run and whether it was a replay.

    Unknown and inactive hooks are :class:`NotFoundError` alike, and a bad signature is a
    :class:`SignatureError` before anything else is looked at, so that a caller without the
    secret learns nothing about the job behind a hook."""
    now = now or store.now()
    if len(body) > MAX_BODY:
        raise InvalidInputError("body", f"larger than {MAX_BODY} bytes")
    try:
        hook = store.get_hook(hook_id)
    except NotFoundError:
        raise NotFoundError("hook", hook_id) from None
    if not hook.active:
        raise NotFoundError("hook", hook_id)
    box = open_box(settings, create=False)
    if box is None:
        raise SecretKeyError("no secret key: the hook's secret cannot be opened")
    valid = [box.decrypt(hook.secret, f"hook {hook.id}")]
    if hook.previous_secret and hook.previous_expires_at and now < hook.previous_expires_at:
        valid.append(box.decrypt(hook.previous_secret, f"hook {hook.id} (previous)"))
    verified = verify(headers, body, valid, now)
    if verified.delivery_id is None:
        raise SignatureError("X-GitHub-Delivery is missing: a delivery needs an id")
    try:
        payload = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise InvalidInputError("body", "is not JSON") from None
    scope: dict[str, JsonValue] = {
        "payload": payload,
        "headers": {k.lower(): v for k, v in headers.items()},
        "delivery_id": verified.delivery_id,
    }
    params = render(hook.params, scope)
    assert isinstance(params, dict)
    request = new_run_request(
        store,
        hook.job,
        params,
        trigger=Trigger.WEBHOOK,
        actor=f"hook {hook.id}",
        run_as=service_account_of(store, hook.tenant, settings.service_account),
        now=now,
    )
    return store.deliver_hook(hook.id, verified.delivery_id, request, now)


def list_hooks(store: Store, *, principal: Principal = SYSTEM) -> list[Hook]:
    return [h for h in store.list_hooks() if principal.can_see(h.tenant)]


def _box(store: Store, settings: Settings) -> SecretBox:
    self_test(store, settings)
    box = open_box(settings, create=True)
    if box is None:  # open_box(create=True) always answers a box
        raise SecretKeyError("no secret key")
    return box
