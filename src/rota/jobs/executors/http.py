"""HTTP jobs: one request, its status checked, a bounded excerpt of the answer recorded.

Parameters are URL-encoded into the URL; in a ``json`` body a string that is exactly
``{name}`` becomes the parameter's typed value, so numbers stay numbers.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import quote, urlsplit

import httpx2

from rota.data.references import resolve_references
from rota.jobs.executors.base import Attempt, Executor, HardStop, Reporter, RunControl
from rota.model.errors import InvalidInputError, JobFailed, RunCancelled
from rota.net.guard import OutgoingRefused, guarded_client

EXCERPT_CHARS = 2000
DEFAULT_TIMEOUT = 30.0
_REF = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class HttpExecutor(Executor):
    def execute(self, attempt: Attempt, reporter: Reporter, control: RunControl) -> Any:
        spec = attempt.definition.spec
        params = attempt.params
        url = _REF.sub(lambda m: _url_part(m, params), spec["url"])
        body = spec.get("body")
        content = _REF.sub(lambda m: _text(params.get(m.group(1))), body) if body else None
        payload = _fill(spec.get("json"), params)
        remaining = control.remaining()
        timeout = DEFAULT_TIMEOUT if remaining is None else max(0.1, remaining)
        method = spec.get("method", "GET")
        reporter.external_call(urlsplit(url).netloc, f"{method} {url}")
        reporter.log("INFO", f"{method} {url}")
        try:
            headers = {
                name: resolve_references(str(value), f"headers.{name}")
                for name, value in (spec.get("headers") or {}).items()
            }
        except InvalidInputError as exc:
            raise JobFailed(str(exc), retryable=False) from None
        started = time.monotonic()
        try:
            with guarded_client(timeout=timeout) as client:
                response = client.request(
                    method,
                    url,
                    headers=headers,
                    content=content,
                    json=payload if payload is not None else None,
                )
        except httpx2.TimeoutException:
            if control.remaining() == 0.0:
                raise HardStop("timeout") from None
            raise JobFailed(f"{method} {url} timed out after {timeout:g}s") from None
        except OutgoingRefused as exc:  # an address the [outgoing] policy forbids
            raise JobFailed(f"{method} {url}: {exc}", retryable=False) from None
        except httpx2.HTTPError as exc:
            raise JobFailed(f"{method} {url} failed: {exc}") from None
        reason = control.stop_reason()
        if reason is not None:
            raise HardStop(reason)
        if control.cancel_requested:
            raise RunCancelled(f"canceled during {method} {url} (answered {response.status_code})")
        elapsed = time.monotonic() - started
        excerpt = response.text[:EXCERPT_CHARS]
        reporter.log("INFO", f"-> {response.status_code} in {elapsed * 1000:.0f} ms")
        result = {
            "status": response.status_code,
            "excerpt": excerpt,
            "elapsed_ms": round(elapsed * 1000),
        }
        reporter.info({"http_status": response.status_code})
        if response.status_code not in spec.get("expect_status", [200]):
            reporter.log("ERROR", excerpt)
            raise JobFailed(
                f"{method} {url} answered {response.status_code}, expected "
                + " or ".join(str(s) for s in spec.get("expect_status", [200])),
                retryable=response.status_code >= 500 or response.status_code == 429,
            )
        return result


def _url_part(match: re.Match[str], params: dict[str, Any]) -> str:
    """A placeholder that starts the URL is its base (``{base_url}/path``), taken as is once
    it proves to be an http(s) URL; anywhere else a value is percent-encoded."""
    value = _text(params.get(match.group(1)))
    if match.start() == 0:
        if not value.startswith(("http://", "https://")):
            raise JobFailed(
                f"{match.group(1)} must be an http(s) URL, got {value!r}", retryable=False
            )
        return value.rstrip("/")
    return quote(value, safe="")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(template: Any, params: dict[str, Any]) -> Any:
    if isinstance(template, str):
        whole = re.fullmatch(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", template)
        if whole:
            return params.get(whole.group(1))
        return _REF.sub(lambda m: _text(params.get(m.group(1))), template)
    if isinstance(template, list):
        return [_fill(v, params) for v in template]
    if isinstance(template, dict):
        return {k: _fill(v, params) for k, v in template.items()}
    return template
