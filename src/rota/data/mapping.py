"""The ``mapping:`` of a data job: which value each target column gets, and when a record fails.

A column has one source: a ``field``, a constant ``value``, or a ``concat`` of fields (missing
and empty parts left out, the rest joined by ``separator``, ``""`` unless declared). Then:

1. ``transform``: text operations in the order written (:mod:`rota.data.transforms`);
2. ``lookup``: a value not in the table is a record error, unless a ``default`` is declared;
3. no value (missing, ``None``, ``""``): the ``default``, else a record error if ``required``,
   else ``None`` (text and untyped columns keep ``""``: ``null_if_empty`` says otherwise);
4. ``pattern`` (full match of the value's text), conversion to ``type``, ``allowed``.

Without ``type`` a value stays as the source read it (CSV text, XLSX/JSON numbers) and the
target converts it. Nothing is guessed: numbers use the declared ``decimal``/``thousands``,
dates are ISO 8601 unless a ``format`` is declared, yes/no come from the declared words.
A declaration is checked whole when parsed, defaults, allowed values and constants included,
so a mistake fails before the first record, naming its path (``mapping.joined.format``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from rota.data import transforms as tf
from rota.data.records import RecordError
from rota.data.transforms import as_text
from rota.model.errors import InvalidInputError

Compute = Callable[[Mapping[str, Any]], Any]


class ColumnType(StrEnum):
    STR = "str"
    INT = "int"
    FLOAT = "float"
    DECIMAL = "decimal"
    BOOL = "bool"
    DATE = "date"
    DATETIME = "datetime"


_SOURCES = ("field", "value", "concat")
_KEYS = (
    *_SOURCES,
    *("separator", "type", "format", "transform", "lookup", "default", "required", "pattern"),
    *("allowed", "decimal", "thousands", "true_values", "false_values"),
)
_NUMBERS = {ColumnType.INT, ColumnType.FLOAT, ColumnType.DECIMAL}
_ONLY_FOR: dict[str, tuple[set[ColumnType], str]] = {
    "format": ({ColumnType.DATE, ColumnType.DATETIME}, "type date or datetime"),
    "decimal": ({ColumnType.FLOAT, ColumnType.DECIMAL}, "type float or decimal"),
    "thousands": (_NUMBERS, "type int, float or decimal"),
    "true_values": ({ColumnType.BOOL}, "type bool"),
    "false_values": ({ColumnType.BOOL}, "type bool"),
}
_COLUMN_NAME = re.compile(r"[A-Za-z0-9_]{1,63}")
_SAMPLE = datetime(2026, 11, 23, 13, 45, 30, tzinfo=UTC)
_MISS = object()


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """One target column: where its value comes from, and the compiled function computing it."""

    name: str
    source: str
    """``field``, ``value`` or ``concat``."""
    fields: tuple[str, ...]
    """The source fields read (none for a constant)."""
    type: ColumnType | None
    required: bool
    compute: Compute = field(repr=False, compare=False)
    """Values of a record -> the column value, or ``RecordError`` naming this column."""


@dataclass(frozen=True, slots=True)
class RecordMapping:
    """All columns of a mapping, in declaration order; ``where`` prefixes error paths."""

    columns: tuple[FieldMapping, ...]
    where: str = "mapping"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def source_fields(self) -> tuple[str, ...]:
        """Every source field referenced, once each, in order of first use."""
        return tuple(dict.fromkeys(f for c in self.columns for f in c.fields))

    def check_fields(self, available: Sequence[str]) -> None:
        """Refuse, before the first record, a field the source does not have (a header typo)."""
        known = set(available)
        for column in self.columns:
            for i, name in enumerate(column.fields):
                at = "field" if column.source == "field" else f"concat[{i}]"
                if name not in known:
                    hint = f"is not a field of the source{tf.hint_for(name, available)}"
                    raise InvalidInputError(f"{self.where}.{column.name}.{at}", f"{name!r} {hint}")

    def apply(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The column values of one record, or ``RecordError`` for the first bad column."""
        return {c.name: c.compute(values) for c in self.columns}


def parse_mapping(raw: Mapping[str, Any], field: str = "mapping") -> RecordMapping:
    """Validate and compile a ``mapping:`` declaration; errors name ``<field>.<column>.<key>``."""
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidInputError(field, "needs columns, e.g. {member_no: {field: 'Member No'}}")
    return RecordMapping(tuple(_column(name, spec, field) for name, spec in raw.items()), field)


def _column(name: Any, spec: Any, where: str) -> FieldMapping:
    path = f"{where}.{name}"
    if not isinstance(name, str) or not _COLUMN_NAME.fullmatch(name):
        raise InvalidInputError(path, "a column name is letters, digits and _ (at most 63)")
    if not isinstance(spec, Mapping):
        raise InvalidInputError(path, "must be a mapping, e.g. {field: 'Member No'}")
    for key in spec:
        if key not in _KEYS:
            raise InvalidInputError(f"{path}.{key}", f"unknown key{tf.hint_for(str(key), _KEYS)}")
    sources = [k for k in _SOURCES if k in spec]
    if len(sources) != 1:
        raise InvalidInputError(path, "needs exactly one of field, value, concat")
    source, ctype = sources[0], _type(spec, path)
    get, fields = _source(source, spec, path)

    pre: list[tf.Convert] = []  # before the empty check
    if "transform" in spec:
        pre.append(tf.text_chain(tf.parse_transforms(spec["transform"], f"{path}.transform")))
    if "lookup" in spec:
        pre.append(_lookup(spec["lookup"], "default" in spec, f"{path}.lookup"))
    post: list[tf.Convert] = []  # after it
    if "pattern" in spec:
        post.append(_pattern(spec["pattern"], f"{path}.pattern"))
    convert = None if ctype is None else _converter(ctype, spec, path)
    if convert is not None:
        post.append(convert)
    if "allowed" in spec:
        post.append(_allowed(spec["allowed"], convert, f"{path}.allowed"))

    required, has_default = spec.get("required", False), "default" in spec
    if not isinstance(required, bool):
        raise InvalidInputError(f"{path}.required", "must be true or false")
    if has_default and required:
        raise InvalidInputError(f"{path}.default", "a column with a default is never missing")
    keep_empty = ctype in (None, ColumnType.STR)
    default = spec.get("default")
    if default is None or default == "":
        default = default if keep_empty else None
    else:
        default = _evaluate(post, _scalar(default, f"{path}.default"), f"{path}.default")
    what = repr(fields[0]) if source == "field" else "the value"
    missing, empty = f"is required but {what} is missing", f"is required but {what} is empty"

    def compute(values: Mapping[str, Any]) -> Any:
        try:
            value = get(values)
            for step in pre:
                value = step(value)
            if value is None or (value.__class__ is str and not value):
                if has_default:
                    return default
                if required:
                    raise tf.Reject(missing if value is None else empty)
                return value if keep_empty else None
            for step in post:
                value = step(value)
            return value
        except tf.Reject as exc:
            raise RecordError(name, exc.args[0]) from None

    if source != "value" and not pre and not has_default and not required:
        # The common columns (a field as it is, or one conversion) skip the general steps:
        # this runs once per column of every record of an import.
        if not post and keep_empty:
            return FieldMapping(name, source, fields, ctype, required, get)
        if len(post) == 1:
            step = post[0]

            def convert_one(values: Mapping[str, Any]) -> Any:
                value = get(values)
                if value is None or (value.__class__ is str and not value):
                    return value if keep_empty else None
                try:
                    return step(value)
                except tf.Reject as exc:
                    raise RecordError(name, exc.args[0]) from None

            return FieldMapping(name, source, fields, ctype, required, convert_one)

    if source == "value":  # computed once, now: a bad constant fails the definition
        try:
            constant = compute({})
        except RecordError as exc:
            raise InvalidInputError(f"{path}.value", exc.reason) from None
        return FieldMapping(name, source, fields, ctype, required, lambda values: constant)
    return FieldMapping(name, source, fields, ctype, required, compute)


def _source(kind: str, spec: Mapping[str, Any], path: str) -> tuple[Compute, tuple[str, ...]]:
    raw = spec[kind]
    if kind != "concat" and "separator" in spec:
        raise InvalidInputError(f"{path}.separator", "applies only to concat")
    if kind == "field":
        if not isinstance(raw, str) or not raw:
            raise InvalidInputError(f"{path}.field", "must be the name of a source field")
        return (lambda values: values.get(raw)), (raw,)
    if kind == "value":
        constant = _scalar(raw, f"{path}.value")
        return (lambda values: constant), ()
    if not isinstance(raw, list) or not raw or not all(isinstance(f, str) and f for f in raw):
        raise InvalidInputError(f"{path}.concat", "must be a list of source fields")
    names = tuple(raw)
    separator = spec.get("separator", "")
    if not isinstance(separator, str):
        raise InvalidInputError(f"{path}.separator", "must be text")

    def concat(values: Mapping[str, Any]) -> Any:
        parts = [
            part if part.__class__ is str else as_text(part)
            for name in names
            if (part := values.get(name)) is not None and part != ""
        ]
        return separator.join(parts) if parts else None

    return concat, names


def _scalar(value: Any, at: str) -> Any:
    if isinstance(value, list | dict):
        raise InvalidInputError(at, "must be a single value")
    return value


def _evaluate(steps: Sequence[tf.Convert], value: Any, at: str) -> Any:
    """Run ``steps`` on a declared value now, so a bad default fails the definition."""
    try:
        for step in steps:
            value = step(value)
    except tf.Reject as exc:
        raise InvalidInputError(at, exc.args[0]) from None
    return value


def _type(spec: Mapping[str, Any], path: str) -> ColumnType | None:
    raw = spec.get("type")
    try:
        ctype = None if raw is None else ColumnType(raw)
    except ValueError:
        known = ", ".join(ColumnType)
        raise InvalidInputError(f"{path}.type", f"{raw!r} is not one of {known}") from None
    for key, (types, which) in _ONLY_FOR.items():
        if key in spec and ctype not in types:
            raise InvalidInputError(f"{path}.{key}", f"applies only to {which}")
    return ctype


def _converter(ctype: ColumnType, spec: Mapping[str, Any], path: str) -> tf.Convert:
    if ctype in _NUMBERS:
        decimal, thousands = spec.get("decimal", "."), spec.get("thousands")
        if decimal not in (".", ","):
            raise InvalidInputError(f"{path}.decimal", "must be '.' or ','")
        if thousands is not None and not re.fullmatch(r"[^0-9+-]", str(thousands)):
            raise InvalidInputError(f"{path}.thousands", "must be one character, e.g. '.' or ' '")
        if thousands == decimal and ctype is not ColumnType.INT:
            raise InvalidInputError(f"{path}.thousands", "must differ from the decimal separator")
        if ctype is ColumnType.INT:
            return tf.to_int(thousands)
        return tf.to_number(ctype is ColumnType.DECIMAL, decimal, thousands)
    if ctype is ColumnType.BOOL:
        trues = _words(spec.get("true_values", tf.TRUE_WORDS), f"{path}.true_values")
        falses = _words(spec.get("false_values", tf.FALSE_WORDS), f"{path}.false_values")
        both = {w.lower() for w in trues} & {w.lower() for w in falses}
        if both:
            raise InvalidInputError(f"{path}.false_values", f"{min(both)!r} is also a true value")
        return tf.to_bool(trues, falses)
    if ctype in (ColumnType.DATE, ColumnType.DATETIME):
        fmt = spec.get("format")
        if fmt is not None:
            _check_format(fmt, ctype, f"{path}.format")
        return tf.to_date(fmt, with_time=ctype is ColumnType.DATETIME)
    return as_text


def _words(raw: Any, at: str) -> list[str]:
    if isinstance(raw, list | tuple) and raw and all(isinstance(w, str | int) for w in raw):
        return [as_text(w) for w in raw]
    raise InvalidInputError(at, "must be a list of words, e.g. [ja, j]")


def _check_format(fmt: Any, ctype: ColumnType, at: str) -> None:
    """A format must read back the date it writes: no directive may be missing or unknown.

    ``%d.%m`` alone would read every date into 1900, ``%m/%Y`` onto the 1st: guesses.
    """
    if not isinstance(fmt, str) or "%" not in fmt:
        raise InvalidInputError(at, "must be a strptime format, e.g. '%d.%m.%Y'")
    try:
        back = datetime.strptime(_SAMPLE.strftime(fmt), fmt)
    except ValueError as exc:
        raise InvalidInputError(at, f"not a usable format: {exc}") from None
    if back.date() != _SAMPLE.date():
        raise InvalidInputError(at, f"must contain the year, month and day (a {ctype} is read)")


def _pattern(raw: Any, at: str) -> tf.Convert:
    if not isinstance(raw, str):
        raise InvalidInputError(at, "must be a regular expression")
    try:
        rx = re.compile(raw)
    except re.error as exc:
        raise InvalidInputError(at, f"not a regular expression: {exc}") from None

    def check(value: Any) -> Any:
        text = value if value.__class__ is str else as_text(value)
        if rx.fullmatch(text) is None:
            raise tf.Reject(f"{text!r} does not match pattern {raw!r}")
        return value

    return check


def _allowed(raw: Any, convert: tf.Convert | None, at: str) -> tf.Convert:
    """Allowed values compare after conversion (so ``1`` and ``"1"`` agree for an int column);
    without a type, by their text."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInputError(at, "must be a list of values")
    key = as_text if convert is None else convert
    allowed = {_evaluate([key], _scalar(v, f"{at}[{i}]"), f"{at}[{i}]") for i, v in enumerate(raw)}
    shown = ", ".join(as_text(v) for v in raw[:10]) + (", ..." if len(raw) > 10 else "")

    def check(value: Any) -> Any:
        if (value if convert is not None else as_text(value)) not in allowed:
            raise tf.Reject(f"{as_text(value)!r} is not allowed (allowed: {shown})")
        return value

    return check


def _lookup(raw: Any, has_default: bool, at: str) -> tf.Convert:
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidInputError(at, "must be a mapping of source value: target value")
    table: dict[str, Any] = {}
    for key, value in raw.items():
        if key.__class__ is not str and key.__class__ is not int:
            raise InvalidInputError(at, f"key {key!r} must be text or a whole number")
        if str(key) in table:
            raise InvalidInputError(f"{at}.{key}", "declared twice")
        table[str(key)] = _scalar(value, f"{at}.{key}")
    shown = ", ".join(list(table)[:10]) + (", ..." if len(table) > 10 else "")

    def look(value: Any) -> Any:
        if value is None:
            return None
        key = value if value.__class__ is str else as_text(value)
        found = table.get(key, _MISS)
        if found is not _MISS:
            return found
        if not key or has_default:  # no value, or the default applies
            return None if key else value
        raise tf.Reject(f"{key!r} is not in the lookup (known: {shown}) and there is no default")

    return look
