"""``${kind:NAME}`` references in job options, so secrets live outside the job file.

A job file is versioned, fingerprinted and shown in the API; a token written into it would be
everywhere the definition goes. An option instead names where the secret is:

```yaml
headers: {Authorization: "Bearer ${env:CRM_TOKEN}"}
```

Two kinds: ``${env:NAME}`` (the worker's environment) and ``${secret:NAME}`` (Rota's secret
store, resolved only inside a run: see :mod:`rota.secrets.scope`). Each kind is one entry of
:data:`RESOLVERS`. Checkers call :func:`check_references` when a job is
loaded (kinds and names only: the value may legitimately be absent on the machine that loads
the file); runners call :func:`resolve_references` when the job runs.

A resolved value never appears in a message raised here: errors name the option and the
reference, never what it stands for.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from rota.model.errors import InvalidInputError
from rota.model.secrets import check_secret_name
from rota.secrets.scope import CURRENT

Resolver = Callable[[str, str], str]
"""``resolver(name, field)``: the value ``name`` stands for, or :class:`InvalidInputError`
naming ``field``."""

_REFERENCE = re.compile(r"\$\{([^{}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env(name: str, field: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise InvalidInputError(field, f"environment variable {name} is not set")
    return value


def _check_env_name(name: str, field: str) -> None:
    if not _ENV_NAME.fullmatch(name):
        raise InvalidInputError(
            field, f"${{env:{name}}}: {name!r} is not an environment variable name"
        )


def _secret(name: str, field: str) -> str:
    scope = CURRENT.get()
    if scope is None:
        raise InvalidInputError(
            field, f"${{secret:{name}}} is resolved only inside a run (no secret store here)"
        )
    return scope.value(name, field)


def _check_secret_name(name: str, field: str) -> None:
    check_secret_name(name, field)


RESOLVERS: dict[str, Resolver] = {"env": _env, "secret": _secret}
"""How each kind of reference is resolved, by kind."""

NAME_CHECKS: dict[str, Callable[[str, str], None]] = {
    "env": _check_env_name,
    "secret": _check_secret_name,
}
"""How each kind checks a name without resolving it (kinds without an entry accept any)."""


def _split(inner: str) -> tuple[str, str]:
    kind, colon, name = inner.partition(":")
    return (kind.strip(), name.strip()) if colon else ("", inner.strip())


def references_in(text: str) -> list[tuple[str, str]]:
    """The ``(kind, name)`` of every ``${kind:name}`` in ``text``, in order; a reference
    without a kind (``${TOKEN}``) has kind ``""``. Parses only: nothing is checked or read."""
    return [_split(match.group(1)) for match in _REFERENCE.finditer(text)]


def _known(kind: str, name: str, field: str) -> None:
    known = ", ".join(f"${{{k}:NAME}}" for k in RESOLVERS)
    if not kind:
        raise InvalidInputError(field, f"${{{name}}} names no kind of reference (known: {known})")
    if kind not in RESOLVERS:
        raise InvalidInputError(
            field, f"${{{kind}:...}} is not a known reference; only {known} references are known"
        )
    if not name:
        raise InvalidInputError(field, f"${{{kind}:}} names nothing")
    check = NAME_CHECKS.get(kind)
    if check is not None:
        check(name, field)


def check_references(text: str, field: str) -> None:
    """Refuse unknown kinds, bad names and an unclosed ``${``, without resolving anything: a
    job file is checked where it is loaded, which need not be where it runs."""
    for kind, name in references_in(text):
        _known(kind, name, field)
    if "${" in _REFERENCE.sub("", text):
        raise InvalidInputError(field, "has a ${ without its closing }")


def resolve_references(text: str, field: str) -> str:
    """``text`` with every reference replaced by its value.

    Replacement is one pass, so a value that itself contains ``${...}`` is taken literally and
    never expanded (a secret cannot smuggle in a reference to another one).
    """
    check_references(text, field)

    def replace(match: re.Match[str]) -> str:
        kind, name = _split(match.group(1))
        return RESOLVERS[kind](name, field)

    return _REFERENCE.sub(replace, text)
