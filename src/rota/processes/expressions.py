"""``{{ path }}`` templates: how process steps, event triggers and webhooks pass data along.

Definitions are input, and input must not be able to run code. So this is not Jinja and not
``eval``: an expression is a *path* into plain JSON data, optionally with a fallback, and
nothing else::

    {{ params.day }}
    {{ steps.extract.result.files[0]["full name"] }}
    {{ steps.extract.info.rows | default(0) }}

Grammar (whitespace is allowed just inside the braces and around ``|``, ``(`` and ``)``)::

    expression := path ( "|" "default" "(" literal ")" )?
    path       := name ( "." name | "[" digits "]" | "[" json-string "]" )*
    name       := [A-Za-z][A-Za-z0-9_-]*
    literal    := a JSON string, number, true, false or null

Names never start with ``_``, lookups are ``dict[key]`` and ``list[index]`` only (never
``getattr``), and there are no calls, operators or other filters: the scope is JSON data,
so the worst an expression can do is name a value that is not there.

Rendering (:func:`render`) walks dicts (values only; keys stay as written), lists and strings:

- a string that is exactly one ``{{ expr }}`` becomes the value itself, type kept (an int stays
  an int, a dict a dict), so a step can pass a whole result on;
- a string with text around expressions stays a string: text values go in as they are, null
  as nothing, everything else as compact JSON (``true``, ``3``, ``{"a":1}``);
- ``default(v)`` applies only when the path is missing (a key that is not there, an index out
  of range, a lookup inside a non-container); a present ``null`` stays ``null``.

The pairs ``{{``, ``}}``, ``{%`` and ``{#`` are reserved: outside a well-formed expression
they are refused rather than passed through, so a typo (``{ x }}``) or a Jinja habit
(``{% for %}``) fails when the definition loads, not as odd text in a run. Single braces are
plain text. There is no escape: write structured values as YAML/JSON rather than as JSON
text inside a string.

Every problem raises :class:`ExpressionError`, an :class:`InvalidInputError` whose field is
the expression text. :func:`references` lists the paths of a template without data, so
definitions are checked when they load.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rota.model.errors import InvalidInputError
from rota.model.params import JsonValue

MAX_TEMPLATE_LENGTH = 4096
"""Characters per string holding ``{{``: templates are short; a huge one is a mistake."""
MAX_PATH_DEPTH = 32
"""Segments per path, the root included."""

Segment = str | int
"""A key of an object (``str``) or an index into a list (``int``)."""

_MARKERS = re.compile(r"\{\{|\}\}|\{%|\{#")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_INDEX = re.compile(r"[0-9]+")
_MAX_INDEX_DIGITS = 9
_WHITESPACE = " \t\r\n"
_LITERAL_STARTS = '"-0123456789tfn'
_OPERATORS = "+-*/%<>=!&~^,:;?@$'`\\"
_DECODER = json.JSONDecoder()
_EXCERPT_LENGTH = 80


class ExpressionError(InvalidInputError):
    """A template is malformed or names a value that is not there.

    ``field`` is the expression text (``steps.extract.result.path``), or an excerpt of the
    whole string when the problem is outside any expression (an unbalanced ``}}``).
    """


@dataclass(frozen=True, kw_only=True)
class Expression:
    """One parsed ``{{ ... }}``: ``text`` is what stood between the braces, trimmed."""

    text: str
    path: tuple[Segment, ...]
    has_default: bool = False
    default: JsonValue = None


def parse(text: str) -> list[str | Expression]:
    """Split a template string into literal text and expressions, in order.

    A string without expressions comes back as ``[text]`` (or ``[]`` when empty). The length
    limit applies only to strings that open an expression: long plain text (a query, a
    message) is data, not a template, and is only scanned for reserved pairs.
    """
    if len(text) > MAX_TEMPLATE_LENGTH and "{{" in text:
        raise ExpressionError(
            _excerpt(text),
            f"a template is at most {MAX_TEMPLATE_LENGTH} characters long, this one {len(text)}",
        )
    parts: list[str | Expression] = []
    pos = 0
    while (found := _MARKERS.search(text, pos)) is not None:
        if found.start() > pos:
            parts.append(text[pos : found.start()])
        marker = found.group()
        if marker == "{{":
            expression, pos = _Parser(text, found.end()).parse()
            parts.append(expression)
        elif marker == "}}":
            raise ExpressionError(_excerpt(text), "'}}' without a matching '{{'")
        else:
            raise ExpressionError(
                _excerpt(text),
                f"{marker!r} is not supported: only {{{{ path }}}} and "
                "{{ path | default(value) }} are",
            )
    if pos < len(text):
        parts.append(text[pos:])
    return parts


def expressions(template: JsonValue) -> list[Expression]:
    """Every expression of a template (strings inside dict values and lists), in order."""
    return [e for s in _strings(template) for e in parse(s) if isinstance(e, Expression)]


def references(template: JsonValue) -> list[tuple[Segment, ...]]:
    """The path of every expression in ``template``, for checking a definition without data.

    ``"{{ steps.a.result[0] }}"`` gives ``[("steps", "a", "result", 0)]``. Malformed
    expressions raise :class:`ExpressionError`.
    """
    return [e.path for e in expressions(template)]


def render(template: JsonValue, scope: Mapping[str, JsonValue]) -> JsonValue:
    """``template`` with every expression replaced by its value from ``scope`` (see module doc).

    The result shares nothing mutable with ``scope`` or ``template``: values are copied.
    """
    if isinstance(template, str):
        return _render_string(template, scope)
    if isinstance(template, Mapping):
        return {key: render(value, scope) for key, value in template.items()}
    if isinstance(template, list | tuple):
        return [render(value, scope) for value in template]
    return template


def format_path(path: tuple[Segment, ...]) -> str:
    """A path as it would be written in an expression: ``steps.a.files[0]["full name"]``."""
    out = ""
    for i, segment in enumerate(path):
        if isinstance(segment, int):
            out += f"[{segment}]"
        elif _NAME.fullmatch(segment):
            out += f".{segment}" if i else segment
        else:
            out += f"[{json.dumps(segment, ensure_ascii=False)}]"
    return out


def _render_string(text: str, scope: Mapping[str, JsonValue]) -> JsonValue:
    parts = parse(text)
    if not any(isinstance(part, Expression) for part in parts):
        return text
    if len(parts) == 1:
        only = parts[0]
        assert isinstance(only, Expression)
        return copy.deepcopy(_evaluate(only, scope))
    return "".join(
        part if isinstance(part, str) else _as_text(_evaluate(part, scope), part) for part in parts
    )


def _evaluate(expression: Expression, scope: Mapping[str, JsonValue]) -> JsonValue:
    """Follow the path with ``[]`` lookups on dicts and lists only: never attributes."""
    path = expression.path
    value: Any = scope
    for depth, segment in enumerate(path):
        where = format_path(path[:depth])
        if isinstance(segment, int):
            if not isinstance(value, list | tuple):
                return _missing(expression, f"{where} is {_kind(value)}, not a list")
            if segment >= len(value):
                return _missing(
                    expression,
                    f"index {segment} is out of range for {where} (length {len(value)})",
                )
            value = value[segment]
        else:
            if not isinstance(value, Mapping):
                return _missing(
                    expression, f"{where} is {_kind(value)}, not an object (looking up {segment!r})"
                )
            if segment not in value:
                if depth == 0:
                    known = ", ".join(sorted(str(k) for k in value)) or "nothing"
                    return _missing(expression, f"{segment!r} is not defined (known: {known})")
                return _missing(expression, f"{segment!r} is not in {where}")
            value = value[segment]
    return value


def _missing(expression: Expression, reason: str) -> JsonValue:
    if expression.has_default:
        return expression.default
    raise ExpressionError(expression.text, reason)


def _as_text(value: JsonValue, expression: Expression) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ExpressionError(
            expression.text, f"the value cannot be written as text: {exc}"
        ) from None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _strings(template: JsonValue) -> Iterator[str]:
    if isinstance(template, str):
        yield template
    elif isinstance(template, Mapping):
        for value in template.values():
            yield from _strings(value)
    elif isinstance(template, list | tuple):
        for value in template:
            yield from _strings(value)


def _excerpt(text: str) -> str:
    return text if len(text) <= _EXCERPT_LENGTH else text[: _EXCERPT_LENGTH - 3] + "..."


class _Parser:
    """Reads one expression of ``text`` from just after its ``{{`` through its ``}}``.

    Hand-written rather than one regex so quoted keys may hold any text (``"}}"`` too) and
    each refusal can say what was wrong.
    """

    def __init__(self, text: str, start: int) -> None:
        self.text = text
        self.start = start
        self.pos = start

    def parse(self) -> tuple[Expression, int]:
        """The expression and the position just after its closing ``}}``."""
        self._skip_whitespace()
        begin = self.pos
        if self._at("}}"):
            raise self._error("empty expression")
        if self._at("{{"):
            raise self._error("'{{' inside an expression")
        path = self._path()
        end = self.pos
        self._skip_whitespace()
        has_default = False
        default: JsonValue = None
        if self._at("|"):
            self.pos += 1
            self._skip_whitespace()
            name = _NAME.match(self.text, self.pos)
            if name is None or name.group() != "default":
                what = repr(name.group()) if name else self._here()
                raise self._error(f"unknown filter {what}: only default(...) is allowed")
            self.pos = name.end()
            self._skip_whitespace()
            self._expect("(", "expected '(' after default")
            self._skip_whitespace()
            default = self._literal()
            self._skip_whitespace()
            self._expect(")", "expected ')' after the default value")
            has_default = True
            end = self.pos
            self._skip_whitespace()
        if not self._at("}}"):
            raise self._error(self._unexpected())
        expression = Expression(
            text=self.text[begin:end], path=path, has_default=has_default, default=default
        )
        return expression, self.pos + 2

    def _path(self) -> tuple[Segment, ...]:
        root = _NAME.match(self.text, self.pos)
        if root is None:
            raise self._error(self._bad_name("an expression starts with a name"))
        segments: list[Segment] = [root.group()]
        self.pos = root.end()
        while True:
            segment: Segment
            if self._at("."):
                name = _NAME.match(self.text, self.pos + 1)
                if name is None:
                    self.pos += 1
                    raise self._error(self._bad_name("expected a name after '.'"))
                segment = name.group()
                self.pos = name.end()
            elif self._at("["):
                self.pos += 1
                digits = _INDEX.match(self.text, self.pos)
                if digits is not None:
                    if len(digits.group()) > _MAX_INDEX_DIGITS:
                        raise self._error(f"index {digits.group()} is too large")
                    segment = int(digits.group())
                    self.pos = digits.end()
                elif self._at('"'):
                    segment = self._quoted_key()
                else:
                    raise self._error(
                        f"expected an index or a quoted key after '[', got {self._here()}"
                    )
                self._expect("]", "expected ']'")
            else:
                return tuple(segments)
            segments.append(segment)
            if len(segments) > MAX_PATH_DEPTH:
                raise self._error(f"a path has at most {MAX_PATH_DEPTH} segments")

    def _quoted_key(self) -> str:
        try:
            key, self.pos = _DECODER.raw_decode(self.text, self.pos)
        except ValueError:
            raise self._error("a quoted key is a JSON string in double quotes") from None
        assert isinstance(key, str)
        return key

    def _literal(self) -> JsonValue:
        # Only scalar starts: a '[' or '{' would let raw_decode nest (and recurse) freely.
        if self.pos >= len(self.text) or self.text[self.pos] not in _LITERAL_STARTS:
            raise self._error(self._not_a_literal())
        try:
            value, end = _DECODER.raw_decode(self.text, self.pos)
        except ValueError:
            raise self._error(self._not_a_literal()) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise self._error("a default number must be finite")
        self.pos = end
        return value

    def _not_a_literal(self) -> str:
        return f"default(...) takes a JSON string, number, true, false or null, got {self._here()}"

    def _bad_name(self, context: str) -> str:
        if self._at("_"):
            return "names may not start with '_'"
        return f"{context}, got {self._here()}"

    def _unexpected(self) -> str:
        if self.pos >= len(self.text):
            return "'{{' is not closed by '}}'"
        if self._at("{{"):
            return "'{{' inside an expression"
        char = self.text[self.pos]
        if char == "}":
            return "'{{' is not closed by '}}'"
        if char == "|":
            return "only one | default(...) is allowed"
        if char == "(":
            return "unexpected '(': calls are not allowed"
        if char in _OPERATORS:
            return f"unexpected {char!r}: operators are not allowed"
        return (
            f"unexpected {self._here()}: an expression is a path with an optional | default(value)"
        )

    def _here(self) -> str:
        if self.pos >= len(self.text):
            return "the end of the text"
        return repr(self.text[self.pos])

    def _at(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def _expect(self, token: str, reason: str) -> None:
        if not self._at(token):
            raise self._error(f"{reason}, got {self._here()}")
        self.pos += len(token)

    def _skip_whitespace(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
            self.pos += 1

    def _error(self, reason: str) -> ExpressionError:
        """Field: what stands between the ``{{`` and the next ``}}``, the best guess at what
        the author meant as one expression."""
        close = self.text.find("}}", self.start)
        fragment = self.text[self.start : close if close != -1 else len(self.text)].strip()
        return ExpressionError(_excerpt(fragment or self.text), reason)
