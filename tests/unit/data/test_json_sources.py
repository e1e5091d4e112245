"""JSON and NDJSON sources: objects are records; anything else fails its row, not the run."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from rota.data.records import SourceError, SourceRow
from rota.data.sources import (
    JsonSource,
    NdjsonSource,
    check_source_config,
    open_source,
)
from rota.model.errors import InvalidInputError


def write(tmp_path: Path, data: bytes | str, name: str = "in.json") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# -- JSON ---------------------------------------------------------------------------------------


def test_an_array_of_objects(tmp_path: Path) -> None:
    path = write(tmp_path, '[{"id": 1, "name": "Ada"}, {"id": 2, "tags": ["x"], "n": null}]')
    source = JsonSource(path)
    assert source.total() == 2
    assert source.fields == ["id", "name", "tags", "n"]
    assert list(source.rows()) == [
        SourceRow(1, {"id": 1, "name": "Ada"}),
        SourceRow(2, {"id": 2, "tags": ["x"], "n": None}),
    ]
    source.close()


def test_non_objects_fail_their_rows(tmp_path: Path) -> None:
    path = write(tmp_path, '[{"id": 1}, 2, "x", null, [1], true, {"id": 3}]')
    rows = list(JsonSource(path).rows())
    assert [row.error for row in rows] == [
        None,
        "row 2 is a number, not an object",
        "row 3 is a string, not an object",
        "row 4 is a null, not an object",
        "row 5 is an array, not an object",
        "row 6 is a boolean, not an object",
        None,
    ]
    assert rows[6].values == {"id": 3}


def test_records_names_the_array_inside_the_document(tmp_path: Path) -> None:
    document = {"meta": {"count": 1}, "data": {"items": [{"id": 1}]}, "pages": [{"rows": [{}]}]}
    path = write(tmp_path, json.dumps(document))
    assert list(JsonSource(path, records="data.items").rows()) == [SourceRow(1, {"id": 1})]
    assert JsonSource(path, records="pages.0.rows").total() == 1
    with pytest.raises(SourceError, match=r"data \(object\) has no 'things'"):
        JsonSource(path, records="data.things")
    with pytest.raises(SourceError, match="'meta' is 'object', not an array"):
        JsonSource(path, records="meta")
    with pytest.raises(SourceError, match=r"pages \(array\) has no '3'"):
        JsonSource(path, records="pages.3")


def test_a_document_that_is_no_array_needs_records(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"source\.records"):
        JsonSource(write(tmp_path, '{"items": []}'))


def test_an_empty_array_is_no_records(tmp_path: Path) -> None:
    source = JsonSource(write(tmp_path, "[]"))
    assert (source.fields, source.total(), list(source.rows())) == ([], 0, [])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not valid JSON at line 1, column 1"),
        (b'[{"id": 1},\n {"id": 2]', "not valid JSON at line 2"),
        (b'[{"id": NaN}]', "NaN is not a JSON value"),
        (b'[{"name": "caf\xe9"}]', "bytes not valid utf-8"),
    ],
)
def test_an_unreadable_document_fails_the_source(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        JsonSource(write(tmp_path, data))


def test_utf8_with_a_bom_and_utf16_are_json_too(tmp_path: Path) -> None:
    assert JsonSource(write(tmp_path, b'\xef\xbb\xbf[{"a": "\xc3\xa9"}]')).fields == ["a"]
    assert JsonSource(write(tmp_path, '[{"é": 1}]'.encode("utf-16"))).fields == ["é"]


def test_fields_are_the_keys_of_the_first_objects_in_order(tmp_path: Path) -> None:
    items: list[Any] = [1, {"b": 1}, {"a": 1, "b": 2}] + [{"x": i} for i in range(200)]
    items.append({"late": True})
    source = JsonSource(write(tmp_path, json.dumps(items)))
    assert source.fields == ["b", "a", "x"]  # "late" is past the first 100


def test_a_missing_json_file_fails_the_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="file not found"):
        JsonSource(tmp_path / "nope.json")


# -- NDJSON -------------------------------------------------------------------------------------


def test_ndjson_one_object_per_line(tmp_path: Path) -> None:
    path = write(tmp_path, '{"id": 1}\n\n  \n{"id": 2, "x": [1]}\r\n{"id": 3}', "in.ndjson")
    source = NdjsonSource(path)
    assert source.total() is None
    assert source.fields == ["id", "x"]
    assert list(source.rows()) == [
        SourceRow(1, {"id": 1}),
        SourceRow(2, {"id": 2, "x": [1]}),
        SourceRow(3, {"id": 3}),
    ]
    source.close()


def test_ndjson_bad_lines_fail_their_rows_with_line_numbers(tmp_path: Path) -> None:
    data = b'\xef\xbb\xbf{"id": 1}\n{"id": 2,\n\n[1, 2]\n{"name": "caf\xe9"}\n{"id": Infinity}\n{"id": 7}\n'
    source = NdjsonSource(write(tmp_path, data, "in.ndjson"))
    rows = list(source.rows())
    source.close()
    assert [row.number for row in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0].values == {"id": 1}
    assert rows[1].error is not None
    assert rows[1].error.startswith("row 2: not valid JSON at line 2, column 10")
    assert rows[2].error == "row 3 is an array, not an object (line 4)"
    assert rows[3].error == "row 4: bytes not valid utf-8 at line 5, byte 14: b'\\xe9'"
    assert rows[4].error == "row 5: Infinity is not a JSON value (line 6)"
    assert rows[5].values == {"id": 7}


def test_ndjson_fields_look_past_bad_lines(tmp_path: Path) -> None:
    source = NdjsonSource(write(tmp_path, 'oops\n{"a": 1}\n{"b": 2}\n', "in.ndjson"))
    assert source.fields == ["a", "b"]
    assert [row.number for row in source.rows()] == [1, 2, 3]
    source.close()


def test_ndjson_rows_can_be_read_once(tmp_path: Path) -> None:
    source = NdjsonSource(write(tmp_path, '{"a": 1}\n', "in.ndjson"))
    list(source.rows())
    with pytest.raises(RuntimeError):
        source.rows()
    source.close()


def test_a_large_ndjson_file_streams(tmp_path: Path) -> None:
    path = tmp_path / "big.ndjson"
    with path.open("w", encoding="utf-8") as file:
        for i in range(50_000):
            file.write(json.dumps({"id": i, "name": f"name {i}", "tags": ["a", "b"]}) + "\n")
    tracemalloc.start()
    try:
        source = NdjsonSource(path)
        count = sum(1 for row in source.rows() if row.error is None)
        source.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 50_000
    assert peak < 1_000_000


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"type": "json", "path": "a.json", "records": "a..b"}, "source.records"),
        ({"type": "json", "path": "a.json", "records": 3}, "source.records"),
        ({"type": "json", "path": "a.json", "delimiter": ","}, "source.delimiter"),
        ({"type": "ndjson", "path": "a.ndjson", "records": "a"}, "source.records"),
        ({"type": "ndjson", "path": 3}, "source.path"),
    ],
)
def test_check_source_config_names_the_bad_json_option(config: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_source_config(config)
    assert caught.value.field == field


def test_open_source_dispatches_json_and_ndjson(tmp_path: Path) -> None:
    write(tmp_path, '{"data": [{"a": 1}]}', "a.json")
    write(tmp_path, '{"b": 2}\n', "b.ndjson")
    first = open_source({"type": "json", "path": "a.json", "records": "data"}, [tmp_path])
    second = open_source({"type": "ndjson", "path": "b.ndjson"}, [tmp_path])
    try:
        assert isinstance(first, JsonSource)
        assert isinstance(second, NdjsonSource)
        assert [row.values for row in first.rows()] == [{"a": 1}]
        assert [row.values for row in second.rows()] == [{"b": 2}]
    finally:
        first.close()
        second.close()
