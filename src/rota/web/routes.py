"""The dashboard's pages: server-rendered HTML over the services, with the API's login session.

Every page reads through :mod:`rota.services` with the logged-in principal, so the dashboard
shows and does exactly what the API would let the same person do; it checks no permission of
its own. State changes are POSTed forms carrying the session's CSRF token in a field (a
cross-site page can neither read it nor send the SameSite cookie). Templates escape
everything (job output, log lines and names are text, never HTML) and the pages forbid inline
scripts through their Content-Security-Policy: the little JavaScript there is lives in
``static/``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

from rota.api.deps import (
    FIRST_ADMIN,
    SESSION_COOKIE,
    Caller,
    get_store,
    session_caller,
    source_of,
)
from rota.api.errors import ApiError
from rota.auth.roles import Principal
from rota.model.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDenied,
    RotaError,
)
from rota.model.jobs import JobKind, StoredJob
from rota.model.params import ParamSpec, ParamType
from rota.model.runs import Run, Trigger
from rota.model.status import RunStatus
from rota.services import access, jobs, runs, schedules
from rota.store.base import Store

STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
"""No inline script or style anywhere: an injected ``<script>`` would not run even if some
text escaped escaping."""
CSRF_FIELD = "csrf_token"
PAGE_SIZE = 50
RECORDS_SHOWN = 500

TEMPLATES = Environment(
    loader=PackageLoader("rota.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

router = APIRouter(include_in_schema=False)


class _LoginRequired(Exception):
    """No live session (or no administrator yet): the page answers a redirect to /login."""


class _CsrfRefused(Exception):
    """A form posted without the session's token: refused, nothing changed."""


def install(app: FastAPI) -> None:
    """Mount the pages and their static files on the API's application (one app, one port,
    one session cookie)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(_LoginRequired, _to_login)
    app.add_exception_handler(_CsrfRefused, _csrf_refused)


async def _to_login(request: Request, exc: Exception) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    query = urlencode({"next": target}) if target not in ("/", "/login") else ""
    return RedirectResponse("/login" + (f"?{query}" if query else ""), status_code=303)


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    return _render(
        "error.html",
        None,
        status=403,
        title="Form expired",
        message="The form was sent without a valid token and changed nothing: reload the "
        "page and try again.",
    )


# -- helpers -----------------------------------------------------------------------------------


def _caller(request: Request, sent_csrf: str = "") -> Caller:
    """The logged-in caller, or a redirect to /login (by exception, so pages stay linear)."""
    try:
        return session_caller(request, sent_csrf)
    except ApiError as exc:
        if exc.type == "csrf":
            raise _CsrfRefused from None
        raise _LoginRequired from None
    except (AuthenticationError, NotFoundError):
        raise _LoginRequired from None


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(run: Run) -> str:
    if run.started_at is None:
        return "—"
    end = run.finished_at or datetime.now(UTC)
    seconds = max(0.0, (end - run.started_at).total_seconds())
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


TEMPLATES.filters["when"] = _when
TEMPLATES.filters["duration"] = _duration


def _render(
    template: str,
    caller: Caller | None,
    *,
    status: int = 200,
    tenants: list[str] | None = None,
    **context: Any,
) -> HTMLResponse:
    html = TEMPLATES.get_template(template).render(
        me=caller.principal if caller else None,
        csrf=caller.csrf_token if caller else None,
        csrf_field=CSRF_FIELD,
        tenants=tenants or [],
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": CSP})


def _tenants(store: Store, principal: Principal) -> list[str]:
    """The tenants shown in the header: what this person sees."""
    if principal.sees_every_tenant:
        return ["all tenants"]
    return [t.id for t in access.list_tenants(store, principal=principal)]


def _page(
    request: Request, template: str, build: Callable[[Store, Principal], dict[str, Any]]
) -> HTMLResponse:
    """A read-only page: the caller, the context from the services, errors as pages."""
    caller = _caller(request)
    store = get_store(request)
    try:
        context = build(store, caller.principal)
    except RotaError as exc:
        return _error_page(caller, store, exc)
    return _render(template, caller, tenants=_tenants(store, caller.principal), **context)


def _error_page(caller: Caller, store: Store, exc: RotaError) -> HTMLResponse:
    status = 500
    title = "Error"
    if isinstance(exc, NotFoundError):
        status, title = 404, "Not found"
    elif isinstance(exc, PermissionDenied):
        status, title = 403, "Not allowed"
    elif isinstance(exc, InvalidInputError):
        status, title = 422, "Invalid request"
    elif isinstance(exc, ConflictError):
        status, title = 409, "Not possible now"
    return _render(
        "error.html",
        caller,
        status=status,
        tenants=_tenants(store, caller.principal),
        title=title,
        message=str(exc),
    )


async def _form(request: Request) -> dict[str, list[str]]:
    """An urlencoded form body (the dashboard's forms send nothing else)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return parse_qs(body, keep_blank_values=True)


def _first(form: Mapping[str, list[str]], name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


def _safe_next(target: str) -> str:
    """Only a path of this site: ``next`` must not send a fresh login elsewhere."""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


# -- login -------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    """The login form; before the first administrator exists, how to create one."""
    setup = not access.has_admin(get_store(request))
    return _render("login.html", None, setup=setup, first_admin=FIRST_ADMIN, next=next)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Log in with a form; the same session (cookie and CSRF token) as ``POST /api/v1/session``."""
    form = await _form(request)
    store = get_store(request)
    name, password = _first(form, "name"), _first(form, "password")
    target = _safe_next(_first(form, "next", "/"))
    try:
        result = await run_in_threadpool(
            access.login, store, name, password, source=source_of(request)
        )
    except (AuthenticationError, InvalidInputError) as exc:
        # The service's message never says whether the name or the password was wrong.
        setup = not access.has_admin(store)
        return _render(
            "login.html",
            None,
            status=401,
            setup=setup,
            first_admin=FIRST_ADMIN,
            error=str(exc) if isinstance(exc, AuthenticationError) else "wrong name or password",
            name=name,
            next=target,
        )
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(
        SESSION_COOKIE,
        result.session_id,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return answer


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (CSRF-checked, so another site cannot log anyone out)."""
    form = await _form(request)
    caller = _caller(request, _first(form, CSRF_FIELD))
    if caller.session_id:
        await run_in_threadpool(access.logout, get_store(request), caller.session_id)
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return answer


# -- overview ----------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    """What needs attention now: today's runs by status, failures, running, next fires."""

    def build(store: Store, principal: Principal) -> dict[str, Any]:
        now = store.now()
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        today = runs.list_runs(store, since=midnight, limit=10_000, principal=principal)
        by_status = Counter(r.status.value for r in today)
        recent_day = runs.list_runs(
            store, since=now - timedelta(hours=24), limit=1000, principal=principal
        )
        attention = [r for r in recent_day if r.status in (RunStatus.FAILED, RunStatus.PARTIAL)]
        running = runs.list_runs(store, status="running", limit=50, principal=principal)
        fires = sorted(
            (
                s
                for s in schedules.list_schedules(store, principal=principal)
                if s.next_fire_at is not None and not s.paused and not s.removed
            ),
            key=lambda s: s.next_fire_at or now,
        )[:10]
        return {
            "statuses": [s.value for s in RunStatus],
            "by_status": by_status,
            "today_total": len(today),
            "attention": attention[:20],
            "running": running,
            "fires": fires,
            "recent": runs.list_runs(store, limit=15, principal=principal),
            "nav": "overview",
        }

    return _page(request, "overview.html", build)


# -- jobs --------------------------------------------------------------------------------------


def _matches(job: StoredJob, text: str, tag: str, kind: str) -> bool:
    d = job.definition
    if tag and tag not in d.tags:
        return False
    if kind and d.kind.value != kind:
        return False
    if text:
        haystack = " ".join([d.id, d.name, d.description, d.owner, *d.tags]).lower()
        return all(word in haystack for word in text.lower().split())
    return True


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, q: str = "", tag: str = "", kind: str = "") -> HTMLResponse:
    """Every job the caller sees, searched by text (id, name, description, owner, tags) and
    filtered by tag and kind."""

    def build(store: Store, principal: Principal) -> dict[str, Any]:
        every = jobs.list_jobs(store, principal=principal)
        return {
            "jobs": [j for j in every if _matches(j, q, tag, kind)],
            "total": len(every),
            "tags": sorted({t for j in every for t in j.definition.tags}),
            "kinds": [k.value for k in JobKind],
            "q": q,
            "tag": tag,
            "kind": kind,
            "nav": "jobs",
        }

    return _page(request, "jobs.html", build)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str) -> HTMLResponse:
    """A job's metadata, parameters, schedules with their next fire times, recent runs."""

    def build(store: Store, principal: Principal) -> dict[str, Any]:
        job = jobs.get_job(store, job_id, principal=principal)
        d = job.definition
        return {
            "job": job,
            "d": d,
            "schedules": schedules.list_schedules(store, job=job_id, principal=principal),
            "runs": runs.list_runs(store, job=job_id, limit=20, principal=principal),
            "may_run": principal.may_run(d.tenant, d.required_role) and d.active,
            "nav": "jobs",
        }

    return _page(request, "job.html", build)


def _field(spec: ParamSpec, value: object, today: str) -> dict[str, Any]:
    """How a parameter shows in the run-now form: HTML input type and the attributes the
    browser validates (the server validates again, whatever the browser did)."""
    attrs: dict[str, str] = {}
    if value is None and spec.has_default:
        value = today if spec.default == "today" and spec.type is ParamType.DATE else spec.default
    control = "input"
    input_type = "text"
    if spec.type is ParamType.BOOL:
        control, input_type = "checkbox", "checkbox"
    elif spec.type is ParamType.CHOICE:
        control = "select"
    elif spec.type in (ParamType.INT, ParamType.FLOAT):
        input_type = "number"
        attrs["step"] = "1" if spec.type is ParamType.INT else "any"
        if spec.min is not None:
            attrs["min"] = f"{spec.min:g}"
        if spec.max is not None:
            attrs["max"] = f"{spec.max:g}"
    elif spec.type is ParamType.DATE:
        input_type = "date"
    elif spec.type is ParamType.DATETIME:
        attrs["placeholder"] = "2026-01-31T08:00:00Z"
    elif spec.type is ParamType.LIST:
        attrs["placeholder"] = f"{spec.items.value}, {spec.items.value}, ..."
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
    if spec.type is ParamType.STR:
        if spec.pattern is not None:
            attrs["pattern"] = spec.pattern
        if spec.min is not None:
            attrs["minlength"] = f"{spec.min:g}"
        if spec.max is not None:
            attrs["maxlength"] = f"{spec.max:g}"
    if spec.required and control != "checkbox":
        attrs["required"] = "required"
    checked = value is True or (isinstance(value, str) and value.lower() in ("true", "on", "1"))
    return {
        "name": spec.name,
        "type": spec.type.value,
        "control": control,
        "input_type": input_type,
        "attrs": attrs,
        "value": "" if value is None else str(value),
        "checked": checked,
        "choices": spec.choices,
        "description": spec.description,
        "required": spec.required,
    }


def _run_form(
    job: StoredJob, given: Mapping[str, str | None], now: datetime
) -> list[dict[str, Any]]:
    today = now.astimezone(UTC).date().isoformat()
    return [_field(s, given.get(s.name), today) for s in job.definition.params.specs]


@router.get("/jobs/{job_id}/run", response_class=HTMLResponse)
def run_form(request: Request, job_id: str) -> HTMLResponse:
    """The run-now form generated from the job's parameter schema, defaults filled."""

    def build(store: Store, principal: Principal) -> dict[str, Any]:
        job = jobs.get_job(store, job_id, principal=principal)
        return _run_context(job, {}, {}, store.now(), principal)

    return _page(request, "run_form.html", build)


def _run_context(
    job: StoredJob,
    given: Mapping[str, str | None],
    errors: Mapping[str, str],
    now: datetime,
    principal: Principal,
    *,
    confirm: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    d = job.definition
    return {
        "job": job,
        "d": d,
        "fields": _run_form(job, given, now),
        "errors": errors,
        "confirm": confirm,
        "dry_run": dry_run,
        "data_job": d.kind is JobKind.DATA,
        "may_run": principal.may_run(d.tenant, d.required_role),
        "nav": "jobs",
    }


def _params_of(job: StoredJob, form: Mapping[str, list[str]]) -> dict[str, str | None]:
    """The form's values by parameter; an empty field means "the default" (or, without one,
    missing: the service names it as required)."""
    out: dict[str, str | None] = {}
    for spec in job.definition.params.specs:
        if spec.type is ParamType.BOOL:
            out[spec.name] = "true" if _first(form, spec.name) else "false"
            continue
        value = _first(form, spec.name)
        out[spec.name] = value if value.strip() else None
    return out


def _field_of(job: StoredJob, field: str) -> str:
    """Where an error shows: next to its parameter (``params.count`` or ``params.days[2]``),
    the confirmation or dry-run box, or above the form."""
    name = field.removeprefix("params.").split(".")[0].split("[")[0]
    if job.definition.params.get(name) is not None or name in ("confirm", "dry_run"):
        return name
    return "_form"


@router.post("/jobs/{job_id}/run", response_class=HTMLResponse)
async def run_now(request: Request, job_id: str) -> Response:
    """Start a run from the form; a bad value is shown next to its field, nothing started."""
    form = await _form(request)
    caller = _caller(request, _first(form, CSRF_FIELD))
    store = get_store(request)
    principal = caller.principal
    confirm = bool(_first(form, "confirm"))
    dry_run = bool(_first(form, "dry_run"))

    def start() -> Response:
        try:
            job = jobs.get_job(store, job_id, principal=principal)
        except RotaError as exc:
            return _error_page(caller, store, exc)
        given = _params_of(job, form)
        params = {k: v for k, v in given.items() if v is not None}
        try:
            run = runs.start_run(
                store,
                job_id,
                params,
                trigger=Trigger.MANUAL,
                confirm=confirm,
                dry_run=dry_run,
                principal=principal,
            )
        except RotaError as exc:
            errors: dict[str, str] = {}
            status = 422
            if isinstance(exc, InvalidInputError):
                errors[_field_of(job, exc.field)] = exc.reason
            else:
                errors["_form"] = str(exc)
                status = 403 if isinstance(exc, PermissionDenied) else 409
            context = _run_context(
                job, given, errors, store.now(), principal, confirm=confirm, dry_run=dry_run
            )
            return _render(
                "run_form.html",
                caller,
                status=status,
                tenants=_tenants(store, principal),
                **context,
            )
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    return await run_in_threadpool(start)


# -- runs --------------------------------------------------------------------------------------


@router.get("/runs", response_class=HTMLResponse)
def runs_page(
    request: Request, job: str = "", status: str = "", before: int | None = None
) -> HTMLResponse:
    """Every run the caller sees, newest first, filtered by job and status, a page at a time."""

    def build(store: Store, principal: Principal) -> dict[str, Any]:
        page = runs.list_runs(
            store,
            job=job or None,
            status=status or None,
            before_id=before,
            limit=PAGE_SIZE + 1,
            principal=principal,
        )
        more = len(page) > PAGE_SIZE
        page = page[:PAGE_SIZE]
        next_query = None
        if more and page:
            next_query = urlencode(
                {k: v for k, v in (("job", job), ("status", status)) if v}
                | {"before": str(page[-1].id)}
            )
        return {
            "runs": page,
            "job": job,
            "status": status,
            "statuses": [s.value for s in RunStatus],
            "job_ids": sorted(j.id for j in jobs.list_jobs(store, principal=principal)),
            "next_query": next_query,
            "nav": "runs",
        }

    return _page(request, "runs.html", build)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: int, failed: bool = False) -> HTMLResponse:
    """One run: status, who and as whom, timing, attempts, history, counters, progress, the
    live log, record results (failed first), steps of a process, cancel and retry."""

    def build(store: Store, principal: Principal) -> dict[str, Any]:
        run = runs.get_run(store, run_id, principal=principal)
        failed_records = runs.get_records(
            store, run_id, failed_only=True, limit=RECORDS_SHOWN, principal=principal
        )
        records = list(failed_records)
        if not failed and len(records) < RECORDS_SHOWN:
            others = runs.get_records(store, run_id, limit=RECORDS_SHOWN, principal=principal)
            records += [r for r in others if r.error is None][: RECORDS_SHOWN - len(records)]
        try:
            job = jobs.get_job(store, run.job, principal=principal)
            may_run = principal.may_run(run.tenant, job.definition.required_role)
            destructive = job.definition.destructive
        except NotFoundError:
            may_run, destructive = False, False
        return {
            "run": run,
            "attempts": runs.get_attempts(store, run_id, principal=principal),
            "history": runs.get_history(store, run_id, principal=principal),
            "records": records,
            "failed_count": len(failed_records),
            "failed_only": failed,
            "may_run": may_run,
            "destructive": destructive,
            "nav": "runs",
        }

    return _page(request, "run.html", build)


@router.get("/runs/{run_id}/live")
def run_live(request: Request, run_id: int) -> JSONResponse:
    """Status and progress for the run page's script (polled while the page is visible)."""
    caller = _caller(request)
    try:
        run = runs.get_run(get_store(request), run_id, principal=caller.principal)
    except RotaError:
        return JSONResponse({"error": "not found"}, status_code=404)
    return JSONResponse(
        {
            "status": run.status.value,
            "terminal": run.status.terminal,
            "progress": run.progress.to_json(),
            "counters": run.counters.to_json(),
        }
    )


async def _run_action(
    request: Request, run_id: int, act: Callable[[Store, Principal, bool], Run]
) -> Response:
    form = await _form(request)
    caller = _caller(request, _first(form, CSRF_FIELD))
    store = get_store(request)
    confirm = bool(_first(form, "confirm"))

    def call() -> Response:
        try:
            run = act(store, caller.principal, confirm)
        except RotaError as exc:
            return _error_page(caller, store, exc)
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    return await run_in_threadpool(call)


@router.post("/runs/{run_id}/cancel")
async def cancel(request: Request, run_id: int) -> Response:
    """Ask the run to stop (a running one ends ``canceled`` once its worker notices)."""
    return await _run_action(
        request, run_id, lambda s, p, _c: runs.cancel_run(s, run_id, principal=p)
    )


@router.post("/runs/{run_id}/retry")
async def retry(request: Request, run_id: int) -> Response:
    """A new run with the same parameters; opens the new run's page."""
    return await _run_action(
        request, run_id, lambda s, p, c: runs.retry_run(s, run_id, confirm=c, principal=p)
    )
