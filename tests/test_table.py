"""Table, its storage format and the paging reader, over real blob stores in temporary directories."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from tunelog.blobs.local import LocalBlobStore
from tunelog.blobs.memory import MemoryBlobStore
from tunelog.errors import StoreError, UsageError
from tunelog.table import (
    Table,
    TableReader,
    load_table,
    register_row_transform,
    store_source_table,
    store_table,
)


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", fsync=False)


class CountingBlobs:
    """A real LocalBlobStore that counts the bytes read from it."""

    def __init__(self, inner: LocalBlobStore) -> None:
        self.inner = inner
        self.bytes_read = 0
        self.opened: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def read_range(self, sha256: str, start: int, length: int) -> bytes:
        data = self.inner.read_range(sha256, start, length)
        self.bytes_read += len(data)
        return data

    def open(self, sha256: str) -> BinaryIO:
        self.opened.append(sha256)
        counter = self

        class Counted:
            def __init__(self, f: BinaryIO) -> None:
                self.f = f

            def read(self, n: int = -1) -> bytes:
                data = self.f.read(n)
                counter.bytes_read += len(data)
                return data

            def __iter__(self) -> Iterator[bytes]:
                for line in self.f:
                    counter.bytes_read += len(line)
                    yield line

            def seek(self, pos: int) -> int:
                return self.f.seek(pos)

            def __enter__(self) -> Counted:
                return self

            def __exit__(self, *exc: object) -> None:
                self.f.close()

        return Counted(self.inner.open(sha256))  # type: ignore[return-value]


def same(a: Any, b: Any) -> bool:
    """Equal with types kept and NaN equal to NaN."""
    return Table(columns=["x"], data=[[a]], allow_mixed_types=True) == Table(
        columns=["x"], data=[[b]], allow_mixed_types=True
    )


EVERY_CELL: list[Any] = [
    "plain",
    "",
    "ünïcødé 中文 🚀",
    "line one\nline two\r\nline three",
    'quotes " and \\ backslash',
    "\u2028 and \u0085 are not newlines for JSONL",
    "lone surrogate \ud800",
    "_tl",
    0,
    -17,
    2**70,
    True,
    False,
    None,
    1.5,
    -0.0,
    1e308,
    math.nan,
    math.inf,
    -math.inf,
    [],
    {},
    [1, "two", None, [3.5, math.nan], {"k": True}],
    {"a": 1, "nested": {"b": [1, 2, {"c": None}]}, "é": "ü"},
    {"_tl": "float", "v": "NaN"},  # a user dict that looks like our tag
    {"_tl": "dict", "items": [["x", 1]], "inner": {"_tl": 1, "f": math.inf}},
]


def test_every_cell_type_round_trips_unchanged(blobs: LocalBlobStore) -> None:
    table = Table(columns=[f"c{i}" for i in range(len(EVERY_CELL))], data=[EVERY_CELL, EVERY_CELL])
    stored = store_table(table, blobs)
    back = load_table(blobs, stored.header_sha256)
    assert back == table
    for original, read in zip(EVERY_CELL, back.data[0], strict=True):
        assert same(original, read), (original, read)
    reader = TableReader(blobs, stored.header_sha256)
    assert reader.page(1, 1) == [back.data[1]]
    assert [type(c) for c in reader.row(0)] == [type(c) for c in EVERY_CELL]


def test_one_cell_per_column_each_type(blobs: LocalBlobStore) -> None:
    for cell in EVERY_CELL:
        table = Table(columns=["only"], data=[[cell]])
        back = load_table(blobs, store_table(table, blobs).header_sha256)
        assert same(back.data[0][0], cell), cell


def test_storage_layout_header_rows_and_index(blobs: LocalBlobStore) -> None:
    table = Table(columns=["prompt", "completion"], data=[["hi", "hello"], ["a\nb", None]])
    stored = store_table(table, blobs)
    assert stored.nrows == 2 and stored.columns == ["prompt", "completion"]
    roles = {ref.role: ref for ref in stored.blobs}
    assert set(roles) == {"header", "rows", "index"}
    assert roles["header"].sha256 == stored.header_sha256
    for ref in stored.blobs:
        assert blobs.size(ref.sha256) == ref.size
    header = json.loads(blobs.open(stored.header_sha256).read())
    assert header == {
        "_type": "table",
        "format_version": 1,
        "columns": ["prompt", "completion"],
        "nrows": 2,
        "rows": {"format": "json-array", "sha256": roles["rows"].sha256, "size": roles["rows"].size},
        "index": {"sha256": roles["index"].sha256, "size": 24},
    }
    rows = blobs.open(roles["rows"].sha256).read()
    assert rows == b'["hi","hello"]\n["a\\nb",null]\n'
    index = blobs.open(roles["index"].sha256).read()
    assert [int.from_bytes(index[i : i + 8], "little") for i in range(0, 24, 8)] == [0, 15, len(rows)]
    assert store_table(table, blobs).header_sha256 == stored.header_sha256, "same table, same blobs"


def test_empty_tables(blobs: LocalBlobStore) -> None:
    for table in (Table(columns=["a", "b"]), Table(columns=[])):
        stored = store_table(table, blobs)
        reader = TableReader(blobs, stored.header_sha256)
        assert (reader.nrows, reader.columns, len(reader)) == (0, table.columns, 0)
        assert reader.page(0, 10) == [] and list(reader.iter_rows()) == []
        assert reader.search("x") == []
        assert load_table(blobs, stored.header_sha256) == table


def test_100k_rows_are_paged_reading_only_a_slice(blobs: LocalBlobStore) -> None:
    n = 100_000
    table = Table(columns=["i", "text", "meta"])
    for i in range(n):
        table.add_data(i, f"row {i}\nsecond line ü", {"even": i % 2 == 0})
    stored = store_table(table, blobs)
    assert stored.nrows == n
    counting = CountingBlobs(blobs)
    reader = TableReader(counting, stored.header_sha256)
    header_bytes = counting.bytes_read
    page = reader.page(99_990, 10)
    assert [r[0] for r in page] == list(range(99_990, 100_000))
    assert page[-1] == [99_999, "row 99999\nsecond line ü", {"even": False}]
    assert counting.bytes_read - header_bytes < 11 * 8 + 10 * 60, "only the index slice and the rows"
    assert counting.opened == [stored.header_sha256], "paging uses ranged reads, not whole blobs"
    assert reader.page(99_995, 100) == table.data[99_995:]
    assert reader.page(100_000, 10) == [] and reader.page(500_000, 1) == []
    assert reader.page(0, 3) == table.data[:3]
    assert reader.row(12_345) == table.data[12_345]
    streamed = reader.iter_rows()
    assert next(streamed) == table.data[0]
    assert sum(1 for _ in streamed) == n - 1
    with pytest.raises(UsageError):
        reader.page(-1, 5)
    with pytest.raises(UsageError):
        reader.row(n)


def test_search_is_streamed_and_case_insensitive(blobs: LocalBlobStore) -> None:
    table = Table(columns=["name", "note"])
    for i in range(1000):
        table.add_data(f"user {i}", "Café au lait" if i % 100 == 7 else "tea")
    reader = TableReader(blobs, store_table(table, blobs).header_sha256)
    hits = reader.search("CAFÉ", limit=3)
    assert [i for i, _ in hits] == [7, 107, 207]
    assert hits[0][1] == ["user 7", "Café au lait"]
    assert [i for i, _ in reader.search("café", limit=2, start=200)] == [207, 307]
    assert reader.search("CAFÉ", case_sensitive=True) == []
    assert len(reader.search("user 99", limit=100)) == 11  # user 99, 990 … 999
    assert reader.search("user", limit=0) == []


def test_table_api_like_wandb() -> None:
    prompts, results = ["p1", "p2"], ["r1", "r2"]
    table = Table(columns=["prompt", "completion"], data=list(zip(prompts, results, strict=True)))
    assert table.data == [["p1", "r1"], ["p2", "r2"]]
    table.add_data("p3", "r3")
    table.add_column("score", [0.1, 0.2, 0.3])
    assert table.columns == ["prompt", "completion", "score"]
    assert table.get_column("score") == [0.1, 0.2, 0.3]
    assert list(table.iterrows())[2] == (2, ["p3", "r3", 0.3])
    assert len(table) == 3 and table.get_index() == [0, 1, 2]
    assert Table().columns == ["Input", "Output", "Expected"]
    assert Table(data=[[1, 2]]).columns == ["Column 1", "Column 2"]
    assert Table(rows=[["a", "b", "c"]]).data == [["a", "b", "c"]]
    empty = Table(columns=["a"])
    empty.add_column("b", [1, 2])
    assert empty.data == [[None, 1], [None, 2]]


def test_clear_errors_for_bad_shapes() -> None:
    table = Table(columns=["a", "b", "c"], data=[[1, 2, 3]] * 3)
    with pytest.raises(UsageError, match=r"Row 3 has 2 cells but the table has 3 columns: \['a', 'b', 'c'\]"):
        table.add_data(1, 2)
    with pytest.raises(ValueError, match="Row 1 has 1 cells"):
        Table(columns=["a", "b"], data=[[1, 2], [1]])
    with pytest.raises(UsageError, match="appears twice"):
        Table(columns=["a", "a"])
    with pytest.raises(UsageError, match="already exists"):
        table.add_column("a", [1, 2, 3])
    with pytest.raises(UsageError, match="has 2 cells but the table has 3 rows"):
        table.add_column("d", [1, 2])
    with pytest.raises(UsageError, match="No column 'zz'"):
        table.get_column("zz")
    with pytest.raises(UsageError, match="not a list of cells"):
        Table(columns=["a"], data=["not a row"])
    with pytest.raises(UsageError, match="Dict keys"):
        Table(columns=["a"], data=[[{1: "x"}]])
    table.data.append([1])  # edited by hand: caught when stored
    with pytest.raises(UsageError, match="Row 3 has 1 cells"):
        store_table(table, MemoryBlobStore())


def test_mixed_types_need_allow_mixed_types() -> None:
    table = Table(columns=["x"], data=[[1], [2.5], [None]])
    with pytest.raises(UsageError, match="allow_mixed_types=True"):
        table.add_data("three")
    with pytest.raises(UsageError, match="mixes"):
        table.add_column("y", [1, "a", None])
    mixed = Table(columns=["x"], data=[[1], ["two"], [{"three": 3}], [True]], allow_mixed_types=True)
    blobs = MemoryBlobStore()
    assert load_table(blobs, store_table(mixed, blobs).header_sha256) == mixed


def test_numpy_values_become_plain_cells() -> None:
    numpy = pytest.importorskip("numpy")
    table = Table(columns=["a", "b", "c"], data=numpy.array([[1, 2, 3], [4, 5, 6]]))
    assert table.data == [[1, 2, 3], [4, 5, 6]] and type(table.data[0][0]) is int
    table.add_data(numpy.int64(7), numpy.float32(0.5), numpy.array([1, 2]).sum())
    assert table.data[-1] == [7, 0.5, 3] and type(table.data[-1][1]) is float
    table.add_column("d", numpy.array([True, False, True]))
    assert table.get_column("d") == [True, False, True]
    assert list(table.get_column("a", convert_to="numpy")) == [1, 4, 7]


def test_pandas_round_trip() -> None:
    pandas = pytest.importorskip("pandas")
    df = pandas.DataFrame({"users": ["geoff", "juergen", "ada"], "feature_01": [1, 117, 42]})
    table = Table(dataframe=df)
    assert table.columns == ["users", "feature_01"]
    assert table.get_column("feature_01") == [1, 117, 42]
    assert type(table.get_column("feature_01")[0]) is int
    assert Table(data=df) == table
    assert table.to_pandas().equals(df)
    assert table.get_dataframe().shape == (3, 2)


def test_to_pandas_without_pandas_says_how_to_install() -> None:
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"pip install 'tunelog\[pandas\]'"):
            Table(columns=["a"]).to_pandas()
    else:
        pytest.skip("pandas is installed")


# -- source tables ----------------------------------------------------------------------------------

SOURCE_LINES = [
    {"prompt": "Say hi", "completion": "hi", "weight": 1},
    "",
    {"prompt": "ünï\ncode", "completion": "✓"},
    "   ",
    "{not json",
    [1, 2, 3],
    {"prompt": "last", "completion": None, "extra": {"k": [1]}},
]


def write_source(blobs: LocalBlobStore, tmp_path: Path, crlf: bool = False) -> tuple[str, bytes]:
    text = "\r\n" if crlf else "\n"
    body = text.join(x if isinstance(x, str) else json.dumps(x) for x in SOURCE_LINES)
    raw = ("\n" + body).encode()  # a leading blank line, and no newline at the end
    path = tmp_path / "train.jsonl"
    path.write_bytes(raw)
    sha, _ = blobs.put_file(path)
    return sha, raw


@pytest.mark.parametrize("crlf", [False, True])
def test_source_table_over_raw_jsonl(blobs: LocalBlobStore, tmp_path: Path, crlf: bool) -> None:
    source, raw = write_source(blobs, tmp_path, crlf)
    before = set(blobs.iter_shas())
    stored = store_source_table(source, ["prompt", "completion", "other"], "json-object", blobs)
    written = set(blobs.iter_shas()) - before
    assert written == {r.sha256 for r in stored.blobs if r.role in ("header", "index")}
    assert {r.role for r in stored.blobs} == {"header", "index", "source"}
    assert next(r for r in stored.blobs if r.role == "source")[1:] == (source, len(raw))
    header = json.loads(blobs.open(stored.header_sha256).read())
    assert header["rows"] == {
        "format": "jsonl-source",
        "sha256": source,
        "size": len(raw),
        "transform": "json-object",
    }
    assert stored.nrows == 5  # blank lines are not rows
    reader = TableReader(blobs, stored.header_sha256)
    rows = list(reader.iter_rows())
    assert rows[0] == ["Say hi", "hi", '{"weight": 1}']
    assert rows[1] == ["ünï\ncode", "✓", None]
    assert rows[2][:2] == [None, None] and rows[2][2]["error"].startswith("row 2: not valid JSON")
    assert rows[2][2]["line"] == "{not json"
    assert rows[3] == [None, None, "[1, 2, 3]"]
    assert rows[4] == ["last", None, '{"extra": {"k": [1]}}']
    assert reader.page(0, 100) == rows
    assert [reader.page(i, 1)[0] for i in range(5)] == rows
    assert reader.page(3, 2) == rows[3:]
    assert [i for i, _ in reader.search("LAST")] == [4]
    assert [i for i, _ in reader.search("json")] == [2]
    assert reader.to_table().data == rows


def test_source_table_search_sees_through_unicode_escapes(blobs: LocalBlobStore) -> None:
    raw = (json.dumps({"text": "café"}) + "\n" + json.dumps({"text": "tea"}) + "\n").encode()
    assert b"\\u00e9" in raw
    source, _ = blobs.put_bytes(raw)
    stored = store_source_table(source, ["text", "rest"], "json-object", blobs)
    reader = TableReader(blobs, stored.header_sha256)
    assert reader.search("CAFÉ") == [(0, ["café", None])]


def test_registered_transforms_and_their_failures(blobs: LocalBlobStore) -> None:
    def lengths(obj: Any, columns: Sequence[str]) -> list[Any]:
        if obj.get("boom"):
            raise RuntimeError("cannot handle boom")
        return [obj["a"], len(obj["a"])]

    register_row_transform("test-lengths", lengths)
    source, _ = blobs.put_bytes(b'{"a": "xyz"}\n{"boom": 1}\n{"a": "q"}\n')
    stored = store_source_table(source, ["a", "len"], "test-lengths", blobs)
    rows = TableReader(blobs, stored.header_sha256).page(0, 10)
    assert rows[0] == ["xyz", 3] and rows[2] == ["q", 1]
    assert rows[1][0] is None and "cannot handle boom" in rows[1][1]["error"]

    register_row_transform("test-wrong-width", lambda obj, columns: [1, 2, 3])
    stored = store_source_table(source, ["a", "b"], "test-wrong-width", blobs)
    assert "3 cells for 2 columns" in TableReader(blobs, stored.header_sha256).row(0)[1]["error"]


def test_unknown_and_unloadable_transforms(blobs: LocalBlobStore) -> None:
    source, _ = blobs.put_bytes(b'{"a": 1}\n')
    with pytest.raises(UsageError, match=r"Unknown row transform 'nope'.*json-object.*openai-dataset"):
        store_source_table(source, ["a"], "nope", blobs)
    with pytest.raises(UsageError, match="at least one column"):
        store_source_table(source, [], "json-object", blobs)
    with pytest.raises(FileNotFoundError):
        store_source_table("0" * 64, ["a"], "json-object", blobs)
    with pytest.raises(UsageError):
        register_row_transform("", lambda obj, columns: [])
    # Built-in names resolve only when rows are read: storing works, reading says what is wrong
    # (unless the module exists by the time this runs).
    stored = store_source_table(source, ["a"], "openai-dataset", blobs)
    reader = TableReader(blobs, stored.header_sha256)
    assert (reader.columns, reader.nrows) == (["a"], 1)
    try:
        import tunelog.integration.openai.datasets as datasets
    except ImportError:
        datasets = None
    if datasets is None or not hasattr(datasets, "table_row"):
        with pytest.raises(StoreError, match="could not be loaded"):
            reader.page(0, 1)


def test_reader_rejects_what_is_not_a_table(blobs: LocalBlobStore) -> None:
    not_json, _ = blobs.put_bytes(b"\x00\x01")
    other, _ = blobs.put_bytes(b'{"_type": "something-else"}')
    newer, _ = blobs.put_bytes(
        json.dumps(
            {
                "_type": "table",
                "format_version": 99,
                "columns": [],
                "nrows": 0,
                "rows": {"format": "parquet", "sha256": "0" * 64},
                "index": {"sha256": "0" * 64},
            }
        ).encode()
    )
    for sha in (not_json, other):
        with pytest.raises(StoreError, match="not a tunelog table header"):
            TableReader(blobs, sha)
    with pytest.raises(StoreError, match="upgrade tunelog"):
        TableReader(blobs, newer)
    with pytest.raises(FileNotFoundError):
        TableReader(blobs, "1" * 64)


def test_memory_blob_store_holds_tables_too() -> None:
    blobs = MemoryBlobStore()
    table = Table(columns=["a", "b"], data=[[1, {"x": [math.nan]}], [2, None]])
    stored = store_table(table, blobs)
    reader = TableReader(blobs, stored.header_sha256)
    assert reader.page(1, 5) == [[2, None]]
    assert load_table(blobs, stored.header_sha256) == table
