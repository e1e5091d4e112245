"""CSV sources: real-world bad files fail one row each, never the run, and never the memory."""

from __future__ import annotations

import csv
import io
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rota.data.records import SourceError, SourceRow
from rota.data.sources import CsvSource, check_source_config, open_source
from rota.model.errors import InvalidInputError


def read(tmp_path: Path, data: bytes, **options: Any) -> tuple[list[str], list[SourceRow]]:
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    with CsvSource(path, **options) as source:
        assert source.total() is None
        return source.fields, list(source.rows())


def values(rows: list[SourceRow]) -> list[dict[str, Any] | None]:
    return [row.values for row in rows]


def test_it_reads_records_by_header_name(tmp_path: Path) -> None:
    fields, rows = read(tmp_path, b"id,name\r\n1,Ada\r\n2,Grace\r\n")
    assert fields == ["id", "name"]
    assert rows == [
        SourceRow(1, {"id": "1", "name": "Ada"}),
        SourceRow(2, {"id": "2", "name": "Grace"}),
    ]


def test_windows_1252_bytes_in_a_utf8_file_fail_only_their_row(tmp_path: Path) -> None:
    data = "id,name\n1,Zoë\n2,caf".encode() + b"\xe9" + b" cr\x92me\n3,ok\n"
    _, rows = read(tmp_path, data)
    assert rows[0].values == {"id": "1", "name": "Zoë"}
    assert rows[1].values is None
    assert rows[1].error == "row 2: bytes not valid utf-8 at line 3, byte 6: b'\\xe9'"
    assert rows[2] == SourceRow(3, {"id": "3", "name": "ok"})


def test_the_bad_byte_position_counts_bytes_not_characters(tmp_path: Path) -> None:
    data = "id,name\n1,€€".encode() + b"\xff\xfe\n"
    _, rows = read(tmp_path, data)
    assert rows[0].error == "row 1: bytes not valid utf-8 at line 2, byte 9: b'\\xff\\xfe'"


def test_bad_bytes_inside_a_multiline_field_name_their_line(tmp_path: Path) -> None:
    data = b'id,note\n1,"first\nsecond \xe9\nthird"\n2,ok\n'
    _, rows = read(tmp_path, data)
    assert rows[0].error is not None
    assert "line 3, byte 8" in rows[0].error
    assert rows[1].values == {"id": "2", "note": "ok"}


def test_a_windows_1252_file_reads_fine_when_declared(tmp_path: Path) -> None:
    data = "id,name,price\n1,Café crème,5 €\n2,“quoted”,3\n".encode("cp1252")
    _, rows = read(tmp_path, data, encoding="cp1252")
    assert values(rows) == [
        {"id": "1", "name": "Café crème", "price": "5 €"},
        {"id": "2", "name": "“quoted”", "price": "3"},
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "UTF8", "utf_8", "utf-8-sig"])
def test_a_utf8_bom_is_not_part_of_the_first_name(tmp_path: Path, encoding: str) -> None:
    fields, rows = read(tmp_path, b"\xef\xbb\xbfid,name\n1,a\n", encoding=encoding)
    assert fields == ["id", "name"]
    assert rows[0].values == {"id": "1", "name": "a"}


def test_a_utf16_file_with_its_bom(tmp_path: Path) -> None:
    fields, rows = read(tmp_path, "id;name\r\n1;Łódź\r\n".encode("utf-16"), encoding="utf-16")
    assert fields == ["id;name"]  # the default delimiter
    _, rows = read(
        tmp_path, "id;name\r\n1;Łódź\r\n".encode("utf-16"), encoding="utf-16", delimiter=";"
    )
    assert values(rows) == [{"id": "1", "name": "Łódź"}]


def test_ragged_rows_fail_with_both_counts(tmp_path: Path) -> None:
    _, rows = read(tmp_path, b"a,b,c\n1,2,3\n1,2\n1,2,3,4\n7,8,9\n")
    assert [row.error for row in rows] == [
        None,
        "row 2 has 2 fields, the header has 3 (line 3)",
        "row 3 has 4 fields, the header has 3 (line 4)",
        None,
    ]
    assert rows[3].values == {"a": "7", "b": "8", "c": "9"}


def test_an_unterminated_quote_at_the_end_is_an_error_row(tmp_path: Path) -> None:
    _, rows = read(tmp_path, b'id,name\n1,ok\n2,"never closed\n3,swallowed\n')
    assert rows[0].values == {"id": "1", "name": "ok"}
    assert len(rows) == 2
    assert rows[1].values is None
    assert rows[1].error is not None
    assert "not closed before the end of the file" in rows[1].error
    assert "line 3" in rows[1].error


def test_text_after_a_closing_quote_fails_the_row_and_reading_goes_on(tmp_path: Path) -> None:
    _, rows = read(tmp_path, b'id,name\n1,"a"b\n2,ok\n')
    assert rows[0].error is not None
    assert rows[0].error.startswith("row 1: text follows a closing quote at line 2")
    assert rows[1] == SourceRow(2, {"id": "2", "name": "ok"})


def test_a_runaway_quote_is_stopped_by_the_field_limit(tmp_path: Path) -> None:
    filler = b"".join(b"%d,filler line\n" % i for i in range(20_000))
    _, rows = read(tmp_path, b'id,name\n1,"oops\n' + filler)
    assert rows[0].error is not None
    assert "longer than" in rows[0].error
    # Reading went on; what follows is whatever the broken quote left.
    assert len(rows) > 1


@pytest.mark.parametrize("data", [b"", b"\n\n", b"\r\n"])
def test_an_empty_file_fails_the_source(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(SourceError, match="empty file"):
        read(tmp_path, data)


def test_a_file_without_a_header_may_be_empty(tmp_path: Path) -> None:
    assert read(tmp_path, b"", header=False, columns=["a"]) == (["a"], [])


def test_a_header_only_file_has_no_rows(tmp_path: Path) -> None:
    assert read(tmp_path, b"id,name\n") == (["id", "name"], [])
    assert read(tmp_path, b"id,name") == (["id", "name"], [])


def test_duplicate_header_names_fail_the_source_naming_the_columns(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        read(tmp_path, b"id,name,ID,name ,id\n")
    assert "'id' (columns 1, 5)" in str(caught.value)
    assert "'name' (columns 2, 4)" in str(caught.value)


def test_empty_header_names_fail_the_source_naming_the_columns(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="header column 2, 4 has no name"):
        read(tmp_path, b'id,,name,"  "\n')


def test_header_names_are_trimmed(tmp_path: Path) -> None:
    assert read(tmp_path, b" id , name\n")[0] == ["id", "name"]


def test_bad_bytes_in_the_header_fail_the_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"header: bytes not valid utf-8 at line 1, byte 4"):
        read(tmp_path, b"id,\xe9t\xe9\n1,2\n")


def test_quoted_fields_hold_newlines_delimiters_and_quotes(tmp_path: Path) -> None:
    data = b'id,text\r\n1,"a, b"\r\n2,"line one\r\nline two"\r\n3,"say ""hi"""\r\n4,"cr\ronly"\r\n'
    _, rows = read(tmp_path, data)
    assert values(rows) == [
        {"id": "1", "text": "a, b"},
        {"id": "2", "text": "line one\r\nline two"},
        {"id": "3", "text": 'say "hi"'},
        {"id": "4", "text": "cr\ronly"},
    ]


def test_semicolon_delimiter_and_single_quotes(tmp_path: Path) -> None:
    data = b"id;amount;note\n1;3,50;'a;b'\n"
    _, rows = read(tmp_path, data, delimiter=";", quotechar="'")
    assert values(rows) == [{"id": "1", "amount": "3,50", "note": "a;b"}]


def test_blank_lines_are_no_records(tmp_path: Path) -> None:
    _, rows = read(tmp_path, b"id\n\n1\n\r\n2\n\n")
    assert rows == [SourceRow(1, {"id": "1"}), SourceRow(2, {"id": "2"})]


def test_columns_name_a_file_without_header_and_skip_rows_skips_lines(tmp_path: Path) -> None:
    data = b"Export of 2026-11-20\ngenerated by X\n1,Ada\n2,Grace\n"
    fields, rows = read(tmp_path, data, header=False, columns=["id", "name"], skip_rows=2)
    assert fields == ["id", "name"]
    assert values(rows) == [{"id": "1", "name": "Ada"}, {"id": "2", "name": "Grace"}]
    fields, rows = read(tmp_path, data, skip_rows=2)
    assert fields == ["1", "Ada"]
    assert values(rows) == [{"1": "2", "Ada": "Grace"}]
    _, rows = read(tmp_path, b"1,Ada,x\n", header=False, columns=["id", "name"])
    assert rows[0].error == "row 1 has 3 fields, source.columns names 2 (line 1)"


def test_skipping_every_line_leaves_an_empty_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="empty file"):
        read(tmp_path, b"a\nb\n", skip_rows=5)


def test_a_missing_file_or_a_folder_fail_the_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="file not found"):
        CsvSource(tmp_path / "nope.csv")
    with pytest.raises(SourceError, match="folder"):
        CsvSource(tmp_path)


def test_rows_can_be_read_once(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"id\n1\n")
    with CsvSource(path) as source:
        assert len(list(source.rows())) == 1
        with pytest.raises(RuntimeError):
            source.rows()


def test_two_hundred_thousand_rows_stream_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "name", "email", "note"])
        for i in range(200_000):
            writer.writerow([i, f"name {i}", f"user{i}@example.com", 'ünïcödé, "quoted"'])
    assert path.stat().st_size > 8_000_000
    tracemalloc.start()
    try:
        count = 0
        with CsvSource(path) as source:
            for row in source.rows():
                assert row.error is None
                count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert peak < 2_000_000


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"type": "csv"}, "source.path"),
        ({"type": "csv", "path": ""}, "source.path"),
        ({"type": "csv", "path": "a.csv", "delim": ";"}, "source.delim"),
        ({"type": "csv", "path": "a.csv", "delimiter": ";;"}, "source.delimiter"),
        ({"type": "csv", "path": "a.csv", "delimiter": "\n"}, "source.delimiter"),
        ({"type": "csv", "path": "a.csv", "quotechar": ","}, "source.quotechar"),
        ({"type": "csv", "path": "a.csv", "encoding": "klingon"}, "source.encoding"),
        ({"type": "csv", "path": "a.csv", "encoding": "rot13"}, "source.encoding"),
        ({"type": "csv", "path": "a.csv", "header": "yes"}, "source.header"),
        ({"type": "csv", "path": "a.csv", "header": False}, "source.columns"),
        ({"type": "csv", "path": "a.csv", "columns": ["a"]}, "source.columns"),
        ({"type": "csv", "path": "a.csv", "header": False, "columns": "a"}, "source.columns"),
        (
            {"type": "csv", "path": "a.csv", "header": False, "columns": ["a", "a"]},
            "source.columns[1]",
        ),
        ({"type": "csv", "path": "a.csv", "skip_rows": -1}, "source.skip_rows"),
        ({"type": "csv", "path": "a.csv", "skip_rows": True}, "source.skip_rows"),
        ({"type": "tsv", "path": "a.csv"}, "source.type"),
        ({"path": "a.csv"}, "source.type"),
    ],
)
def test_check_source_config_names_the_bad_option(config: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_source_config(config)
    assert caught.value.field == field


def test_check_source_config_accepts_every_csv_option() -> None:
    check_source_config(
        {
            "type": "csv",
            "path": "a.csv",
            "encoding": "latin-1",
            "delimiter": "\t",
            "quotechar": "'",
            "header": False,
            "columns": ["a", "b"],
            "skip_rows": 3,
        }
    )


def test_a_non_mapping_source_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_source_config(["csv"], "steps[0].source")  # type: ignore[arg-type]
    assert caught.value.field == "steps[0].source"


def test_open_source_confines_and_opens(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"x;y\n1;2\n")
    config = {"type": "csv", "path": "a.csv", "delimiter": ";"}
    source = open_source(config, [tmp_path])
    try:
        assert source.fields == ["x", "y"]
        assert [row.values for row in source.rows()] == [{"x": "1", "y": "2"}]
    finally:
        source.close()
    with pytest.raises(InvalidInputError) as caught:
        open_source({"type": "csv", "path": "../a.csv"}, [tmp_path], "job.source")
    assert caught.value.field == "job.source.path"


# -- round trip ---------------------------------------------------------------------------------

names = st.lists(
    st.text(st.characters(blacklist_categories=["Cs", "Zs", "Cc"]), min_size=1, max_size=8),
    min_size=1,
    max_size=5,
    unique=True,
)
cells = st.text(st.characters(blacklist_categories=["Cs"]), max_size=20)


@settings(database=None, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), delimiter=st.sampled_from([",", ";", "\t", "|"]))
def test_rows_written_by_the_csv_module_come_back_identical(
    tmp_path: Path, data: st.DataObject, delimiter: str
) -> None:
    header = [name.strip() or "x" for name in data.draw(names)]
    if len(set(header)) != len(header) or any("\ufeff" in name for name in header):
        return
    rows = data.draw(st.lists(st.lists(cells, min_size=len(header), max_size=len(header))))
    text = io.StringIO(newline="")
    writer = csv.writer(text, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path / "round.csv"
    path.write_text(text.getvalue(), encoding="utf-8", newline="")
    with CsvSource(path, delimiter=delimiter) as source:
        assert source.fields == header
        got = list(source.rows())
    expected = [dict(zip(header, row, strict=True)) for row in rows]
    assert [row.values for row in got] == expected
