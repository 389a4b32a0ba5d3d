"""How a :class:`~tunelog.table.Table` is stored: content-addressed blobs, read a page at a time.

Storage (``format_version`` 1) is three blobs:

- rows: JSONL, one JSON array of cells per line (``"format": "json-array"``); or, for a table
  made from an already stored JSONL file such as a fine-tuning dataset, that raw file itself
  (``"format": "jsonl-source"``), turned into cells line by line by a named row transform, so the
  data is stored once.
- index: little-endian uint64 byte offsets into the rows blob, one per row (blank source lines are
  not rows) plus the end, so any page costs two small ranged reads.
- header: ``{"_type": "table", "format_version": 1, "columns": [...], "nrows": N,
  "rows": {"format": ..., "sha256": ..., "size": ...[, "transform": ...]},
  "index": {"sha256": ..., "size": ...}}``; its hash names the table.

Non-finite floats (NaN, ±inf) round-trip as floats: JSON has no such numbers, so a cell holding one
is written as the tagged object ``{"_tl": "float", "v": "NaN"}`` (or ``"Infinity"``,
``"-Infinity"``); a user dict that itself has a ``"_tl"`` key is written as
``{"_tl": "dict", "items": [[key, value], ...]}`` so that it is never mistaken for a tag.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from tunelog.errors import StoreError, UsageError

if TYPE_CHECKING:
    from tunelog.blobs.base import BlobStore
    from tunelog.table import Table

__all__ = [
    "FORMAT_VERSION",
    "BlobRef",
    "RowTransform",
    "TableManifest",
    "TableReader",
    "check_columns",
    "json_object_row",
    "load_table",
    "register_row_transform",
    "resolve_row_transform",
    "store_source_table",
    "store_table",
]

FORMAT_VERSION = 1
_CHUNK = 1 << 20
_TAG = "_tl"
_TAG_BYTES = b'"_tl"'
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

RowTransform = Callable[[Any, Sequence[str]], Sequence[Any]]
"""Turns one parsed JSON line of a source file into the table's cells, given the columns."""


def check_columns(columns: Iterable[Any]) -> list[str]:
    if isinstance(columns, str):
        raise UsageError(f"columns must be a list of names, not the string {columns!r}.")
    names = [c if isinstance(c, str) else str(c) for c in columns]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise UsageError(f"Column {name!r} appears twice in {names}; column names must be unique.")
        seen.add(name)
    return names


# -- cell encoding ---------------------------------------------------------------------------------


def _encode_cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {
            _TAG: "float",
            "v": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity"),
        }
    if isinstance(value, dict):
        if _TAG in value:
            return {_TAG: "dict", "items": [[k, _encode_cell(v)] for k, v in value.items()]}
        return {k: _encode_cell(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode_cell(v) for v in value]
    return value


def _encode_row(row: Sequence[Any]) -> bytes:
    try:  # the common case: no NaN anywhere and no "_tl" keys (checked below)
        text = json.dumps(row, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps([_encode_cell(c) for c in row], ensure_ascii=False, separators=(",", ":"))
    else:
        if '"_tl"' in text:  # a user dict with a "_tl" key (or a string containing it: harmless)
            text = json.dumps([_encode_cell(c) for c in row], ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "surrogatepass")


def _decode_tag(obj: dict[str, Any]) -> Any:
    tag = obj.get(_TAG)
    if tag == "float" and len(obj) == 2:
        return _NON_FINITE.get(obj.get("v"), obj)  # type: ignore[arg-type]
    if tag == "dict" and len(obj) == 2 and isinstance(obj.get("items"), list):
        return {k: v for k, v in obj["items"]}
    return obj


def _decode_array_line(line: bytes) -> Any:
    if _TAG_BYTES in line:
        return json.loads(line, object_hook=_decode_tag)
    return json.loads(line)


# -- row transforms for source tables ---------------------------------------------------------------


def json_object_row(obj: Any, columns: Sequence[str]) -> list[Any]:
    """The built-in ``"json-object"`` transform: one cell per key, the rest in the last column.

    The last column is the catch-all: the line's other keys as a JSON string (None if there are
    none); a line that is not a JSON object goes there whole.
    """
    keys = columns[:-1]
    if not isinstance(obj, dict):
        return [None] * len(keys) + [json.dumps(obj, ensure_ascii=False)]
    cells = [obj.get(k) for k in keys]
    wanted = set(keys)
    rest = {k: v for k, v in obj.items() if k not in wanted}
    return [*cells, json.dumps(rest, ensure_ascii=False) if rest else None]


_ROW_TRANSFORMS: dict[str, RowTransform] = {"json-object": json_object_row}
# Transforms that live in optional modules, imported on first use only.
_LAZY_ROW_TRANSFORMS = {"openai-dataset": "tunelog.integration.openai.datasets:table_row"}


def register_row_transform(name: str, fn: RowTransform) -> None:
    """Make ``fn`` available to source tables as ``name``.

    Args:
        name: the name stored in the table's header; readers must register the same name.
        fn: called with one parsed JSON line and the table's columns; returns one cell per column.
            What it raises is shown in that row's last cell, not raised to the reader.
    """
    if not isinstance(name, str) or not name:
        raise UsageError(f"A row transform needs a non-empty string name, not {name!r}.")
    if not callable(fn):
        raise UsageError(f"Row transform {name!r} must be callable, got {type(fn).__name__}.")
    _ROW_TRANSFORMS[name] = fn


def _known_transforms() -> list[str]:
    return sorted({*_ROW_TRANSFORMS, *_LAZY_ROW_TRANSFORMS})


def _check_transform_name(name: str) -> None:
    if name not in _ROW_TRANSFORMS and name not in _LAZY_ROW_TRANSFORMS:
        raise UsageError(
            f"Unknown row transform {name!r}; known ones are {_known_transforms()}. Register it first "
            "with tunelog.table.register_row_transform(name, fn)."
        )


def resolve_row_transform(name: str) -> RowTransform:
    """The transform registered as ``name``, importing a built-in one on first use."""
    _check_transform_name(name)
    if name not in _ROW_TRANSFORMS:
        module_name, _, attr = _LAZY_ROW_TRANSFORMS[name].partition(":")
        try:
            fn = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise StoreError(
                f"Row transform {name!r} could not be loaded from {_LAZY_ROW_TRANSFORMS[name]} ({exc}); "
                "this tunelog installation may be incomplete: reinstall or upgrade tunelog."
            ) from exc
        _ROW_TRANSFORMS[name] = fn
    return _ROW_TRANSFORMS[name]


# -- storing ----------------------------------------------------------------------------------------


class BlobRef(NamedTuple):
    """A blob a stored table needs: ``role`` is ``"header"``, ``"index"``, ``"rows"`` or ``"source"``."""

    role: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class TableManifest:
    """What :func:`store_table` wrote.

    Attributes:
        header_sha256: the header blob's hash, the table's identity; open it with
            :class:`TableReader`.
        size: the header blob's size.
        columns: the column names.
        nrows: the number of rows.
        blobs: ``(role, sha256, size)`` of every blob the table needs, for artifact manifests and
            garbage collection: roles ``"header"``, ``"index"``, and ``"rows"`` (the JSONL rows) or,
            for a source table, ``"source"`` (the raw file it reads, which was not written here).
    """

    header_sha256: str
    size: int
    columns: list[str]
    nrows: int
    blobs: list[BlobRef]


def store_table(table: Table, blobs: BlobStore) -> TableManifest:
    """Write ``table`` as JSONL rows, a row index and a header; rows are streamed out in chunks.

    Raises:
        UsageError: a row's width differs from the columns (``table.data`` edited by hand).
    """
    ncols = len(table.columns)
    offsets = array("Q", [0])
    end = 0

    def chunks() -> Iterator[bytes]:
        nonlocal end
        pending: list[bytes] = []
        pending_size = 0
        for i, row in enumerate(table.data):
            if len(row) != ncols:
                raise UsageError(
                    f"Row {i} has {len(row)} cells but the table has {ncols} columns: {table.columns}. "
                    "Pass one value per column (None for a missing one)."
                )
            line = _encode_row(row) + b"\n"
            end += len(line)
            offsets.append(end)
            pending.append(line)
            pending_size += len(line)
            if pending_size >= _CHUNK:
                yield b"".join(pending)
                pending.clear()
                pending_size = 0
        if pending:
            yield b"".join(pending)

    rows_sha, rows_size = blobs.put_stream(chunks())
    rows = {"format": "json-array", "sha256": rows_sha, "size": rows_size}
    return _finish(blobs, list(table.columns), len(offsets) - 1, rows, offsets)


def store_source_table(
    source_sha256: str, columns: Sequence[str], transform: str, blobs: BlobStore
) -> TableManifest:
    """Make a table over an already stored JSONL blob, one row per non-blank line, without copying it.

    Only a row index and a header are written. Lines are turned into cells when read, by the row
    transform ``transform`` (see :func:`register_row_transform`; ``"json-object"`` is built in).

    Raises:
        UsageError: no columns, repeated column names, or an unknown transform name.
        FileNotFoundError: the source blob is not stored.
    """
    names = check_columns(columns)
    if not names:
        raise UsageError("A source table needs at least one column.")
    _check_transform_name(transform)
    offsets = array("Q")
    end = 0
    with blobs.open(source_sha256) as f:
        for line in f:
            if not line.isspace():
                offsets.append(end)
            end += len(line)
    nrows = len(offsets)
    offsets.append(end)
    rows = {"format": "jsonl-source", "sha256": source_sha256, "size": end, "transform": transform}
    return _finish(blobs, names, nrows, rows, offsets)


def _finish(
    blobs: BlobStore, columns: list[str], nrows: int, rows: dict[str, Any], offsets: array[int]
) -> TableManifest:
    if sys.byteorder == "big":
        offsets.byteswap()
    index_sha, index_size = blobs.put_bytes(offsets.tobytes())
    header = {
        "_type": "table",
        "format_version": FORMAT_VERSION,
        "columns": columns,
        "nrows": nrows,
        "rows": rows,
        "index": {"sha256": index_sha, "size": index_size},
    }
    data = json.dumps(header, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    sha, size = blobs.put_bytes(data)
    refs = [
        BlobRef("header", sha, size),
        BlobRef("source" if rows["format"] == "jsonl-source" else "rows", rows["sha256"], rows["size"]),
        BlobRef("index", index_sha, index_size),
    ]
    return TableManifest(header_sha256=sha, size=size, columns=columns, nrows=nrows, blobs=refs)


# -- reading ----------------------------------------------------------------------------------------


class TableReader:
    """Reads a stored table a page at a time, without loading it whole.

    Args:
        blobs: the blob store holding the table.
        sha256: the table's header hash (``TableManifest.header_sha256``).

    Raises:
        FileNotFoundError: the header blob is missing.
        StoreError: the blob is not a table, or was written by a newer tunelog.
    """

    def __init__(self, blobs: BlobStore, sha256: str) -> None:
        self._blobs = blobs
        self.sha256 = sha256
        with blobs.open(sha256) as f:
            raw = f.read()
        try:
            header = json.loads(raw)
            if not isinstance(header, dict) or header.get("_type") != "table":
                raise ValueError("no '_type': 'table'")
            version = int(header.get("format_version", 0))
            rows, index = header["rows"], header["index"]
            self.columns: list[str] = [str(c) for c in header["columns"]]
            self.nrows: int = int(header["nrows"])
            self.format: str = str(rows["format"])
            self._rows_sha: str = rows["sha256"]
            self._index_sha: str = index["sha256"]
            self._transform_name: str = str(rows.get("transform", ""))
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"Blob {sha256} is not a tunelog table header ({exc!r}).") from None
        if version > FORMAT_VERSION or self.format not in ("json-array", "jsonl-source"):
            raise StoreError(
                f"Table {sha256} was written in format {version} ({self.format}), which this tunelog "
                f"does not read (it reads version {FORMAT_VERSION}): upgrade tunelog."
            )
        self.header: dict[str, Any] = header
        self._transform: RowTransform | None = None

    def __len__(self) -> int:
        return self.nrows

    def page(self, offset: int = 0, limit: int = 50) -> list[list[Any]]:
        """Rows ``offset … offset + limit - 1`` (fewer at the end); reads only those bytes."""
        if offset < 0 or limit < 0:
            raise UsageError(f"page() needs offset >= 0 and limit >= 0, got {offset} and {limit}.")
        start, stop = min(offset, self.nrows), min(offset + limit, self.nrows)
        if start == stop:
            return []
        offsets = self._offsets(start, stop + 1)
        base = offsets[0]
        data = self._blobs.read_range(self._rows_sha, base, offsets[-1] - base)
        return [
            self._decode(data[offsets[i] - base : offsets[i + 1] - base], start + i)
            for i in range(stop - start)
        ]

    def row(self, index: int) -> list[Any]:
        """One row by number."""
        if not 0 <= index < self.nrows:
            raise UsageError(f"Row {index} is out of range: the table has {self.nrows} rows.")
        return self.page(index, 1)[0]

    def iter_rows(self) -> Iterator[list[Any]]:
        """Every row in order, streamed."""
        for index, line in self._iter_lines():
            yield self._decode(line, index)

    def search(
        self, text: str, limit: int = 50, *, start: int = 0, case_sensitive: bool = False
    ) -> list[tuple[int, list[Any]]]:
        """Rows whose stored line contains ``text``, as ``(row number, row)``, streamed.

        Args:
            text: the substring to look for in each row's JSON text (``\\uXXXX`` escapes in a
                source file are decoded first, so "café" finds ``caf\\u00e9``).
            limit: stop after this many matches.
            start: the row number to start scanning from (to fetch the next matches).
            case_sensitive: match case exactly.
        """
        folded = text if case_sensitive else text.casefold()
        needle = folded.encode("utf-8")
        ascii_needle = folded.isascii()
        found: list[tuple[int, list[Any]]] = []
        if limit <= 0:
            return found
        for index, line in self._iter_lines(start):
            hay = line
            if b"\\u" in hay:
                try:
                    hay = json.dumps(json.loads(hay), ensure_ascii=False).encode()
                except ValueError:
                    pass  # an unparseable line is searched as it is
            if case_sensitive:
                hit = needle in hay
            elif ascii_needle:
                hit = needle in hay.lower()
            else:
                hit = folded in hay.decode("utf-8", "replace").casefold()
            if hit:
                found.append((index, self._decode(line, index)))
                if len(found) >= limit:
                    break
        return found

    def to_table(self) -> Table:
        """The whole table in memory (for small tables)."""
        from tunelog.table import Table

        table = Table(columns=self.columns, allow_mixed_types=True)
        table.data = list(self.iter_rows())
        return table

    def _offsets(self, start: int, stop: int) -> array[int]:
        raw = self._blobs.read_range(self._index_sha, start * 8, (stop - start) * 8)
        offsets = array("Q")
        offsets.frombytes(raw)
        if sys.byteorder == "big":
            offsets.byteswap()
        if len(offsets) != stop - start:
            raise StoreError(f"Table {self.sha256} has a truncated row index: the store is damaged.")
        return offsets

    def _iter_lines(self, start: int = 0) -> Iterator[tuple[int, bytes]]:
        index = min(max(start, 0), self.nrows)
        if index == self.nrows:
            return
        with self._blobs.open(self._rows_sha) as f:
            f.seek(self._offsets(index, index + 1)[0])
            for line in f:
                if line.isspace():
                    continue
                yield index, line
                index += 1
                if index == self.nrows:
                    return

    def _decode(self, line: bytes, index: int) -> list[Any]:
        line = line.strip()
        try:
            obj = _decode_array_line(line) if self.format == "json-array" else json.loads(line)
        except ValueError as exc:
            return self._error_row(index, f"not valid JSON ({exc})", line)
        if self.format == "json-array":
            cells = obj
        else:
            transform = self._row_transform()
            try:
                cells = transform(obj, self.columns)
            except Exception as exc:  # a transform's bug must not make the whole table unreadable
                return self._error_row(index, f"row transform {self._transform_name!r} failed: {exc!r}", line)
        if not isinstance(cells, list):
            cells = list(cells) if isinstance(cells, tuple) else [cells]
        if len(cells) != len(self.columns):
            return self._error_row(index, f"{len(cells)} cells for {len(self.columns)} columns", line)
        return cells

    def _row_transform(self) -> RowTransform:
        if self._transform is None:
            try:
                self._transform = resolve_row_transform(self._transform_name)
            except UsageError:
                raise StoreError(
                    f"Table {self.sha256} turns lines into rows with the row transform "
                    f"{self._transform_name!r}, which is not registered in this process: call "
                    "tunelog.table.register_row_transform() with it before reading the table."
                ) from None
        return self._transform

    def _error_row(self, index: int, problem: str, line: bytes) -> list[Any]:
        if not self.columns:
            return []
        error = {"error": f"row {index}: {problem}", "line": line.decode("utf-8", "replace")}
        return [None] * (len(self.columns) - 1) + [error]


def load_table(blobs: BlobStore, sha256: str) -> Table:
    """The stored table with header hash ``sha256``, whole, as a :class:`Table`."""
    return TableReader(blobs, sha256).to_table()
