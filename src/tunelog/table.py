"""Table: named columns and rows of cells, with the common surface of ``wandb.Table``.

Cells are ``str``, ``int``, ``float``, ``bool``, ``None``, or JSON values (dicts with string keys,
lists) made of those; stored and read back they come out unchanged, types included, NaN and ±inf
too. How a table is stored (rows as JSONL or as a raw source file, a row index, a header) is in
:mod:`tunelog.table_storage`, whose API is re-exported here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from typing import Any

from tunelog.errors import UsageError
from tunelog.table_storage import (
    BlobRef,
    RowTransform,
    TableManifest,
    TableReader,
    check_columns,
    load_table,
    register_row_transform,
    store_source_table,
    store_table,
)

__all__ = [
    "BlobRef",
    "RowTransform",
    "Table",
    "TableManifest",
    "TableReader",
    "load_table",
    "register_row_transform",
    "store_source_table",
    "store_table",
]

log = logging.getLogger(__name__)

_DEFAULT_COLUMNS = ("Input", "Output", "Expected")  # wandb.Table's default
_SCALARS = (str, int, float, bool, type(None))


class Table:
    """Columns and rows of cells, with the common surface of ``wandb.Table``.

    Args:
        columns: column names; default ``["Input", "Output", "Expected"]`` as in wandb, or
            ``"Column 1"…`` when ``data`` rows have another width.
        data: rows (lists or tuples, one cell per column), a numpy array or a pandas DataFrame.
        rows: an older name for ``data``.
        dataframe: a pandas DataFrame; its columns and rows become the table's.
        allow_mixed_types: allow one column to hold, say, strings and numbers. Without it, the
            first non-None cell of a column sets its kind (number, bool, string, dict or list).

    Raises:
        UsageError: a row's width differs from the number of columns, column names repeat, or a
            column mixes kinds without ``allow_mixed_types``.
    """

    def __init__(
        self,
        columns: Sequence[Any] | None = None,
        data: Any = None,
        rows: Any = None,
        dataframe: Any = None,
        allow_mixed_types: bool = False,
    ) -> None:
        self.allow_mixed_types = allow_mixed_types
        self._kinds: list[str | None] = []
        if data is None:
            data = rows
        if dataframe is None and _is_dataframe(data):
            dataframe, data = data, None
        if dataframe is not None:
            columns = [str(c) for c in dataframe.columns]
            data = dataframe.itertuples(index=False, name=None)
        elif data is not None and hasattr(data, "tolist"):  # a numpy array
            data = data.tolist()
        data = [] if data is None else [_as_row(row, i) for i, row in enumerate(data)]
        if columns is None:
            width = len(data[0]) if data else len(_DEFAULT_COLUMNS)
            columns = _DEFAULT_COLUMNS if width == 3 else [f"Column {i + 1}" for i in range(width)]
        self.columns: list[str] = check_columns(columns)
        self.data: list[list[Any]] = []
        self._kinds = [None] * len(self.columns)
        for row in data:
            self.add_data(*row)

    def add_data(self, *data: Any) -> None:
        """Append one row: one cell per column."""
        row = self._check_row(list(data), len(self.data))
        self.data.append(row)

    add_row = add_data  # an older wandb name

    def add_column(self, name: str, data: Sequence[Any]) -> None:
        """Append a column with one cell per existing row.

        On a table without rows, the cells make new rows (other columns None).
        """
        (name,) = check_columns([name])
        if name in self.columns:
            raise UsageError(f"Column {name!r} already exists in {self.columns}; choose another name.")
        cells = [_normalize(v) for v in (data.tolist() if hasattr(data, "tolist") else data)]
        if self.data and len(cells) != len(self.data):
            raise UsageError(
                f"Column {name!r} has {len(cells)} cells but the table has {len(self.data)} rows; "
                "pass one cell per row."
            )
        kind = None if self.allow_mixed_types else _column_kind(name, cells)
        if not self.data:
            self.data = [[None] * len(self.columns) for _ in cells]
        for row, cell in zip(self.data, cells, strict=True):
            row.append(cell)
        self.columns.append(name)
        self._kinds.append(kind)

    def get_column(self, name: str, convert_to: str | None = None) -> Any:
        """The cells of column ``name`` as a list (or a numpy array with ``convert_to="numpy"``)."""
        if name not in self.columns:
            raise UsageError(f"No column {name!r}: the table's columns are {self.columns}.")
        i = self.columns.index(name)
        cells = [row[i] for row in self.data]
        if convert_to == "numpy":
            import numpy

            return numpy.array(cells)
        if convert_to is not None:
            raise UsageError(f"convert_to must be None or 'numpy', not {convert_to!r}.")
        return cells

    def get_index(self) -> list[int]:
        """Row numbers ``0 … len(self) - 1``."""
        return list(range(len(self.data)))

    def iterrows(self) -> Iterator[tuple[int, list[Any]]]:
        """``(row number, row)`` pairs, as wandb's ``Table.iterrows``."""
        return enumerate(self.data)

    def to_pandas(self) -> Any:
        """A pandas DataFrame of the table (needs pandas: ``pip install 'tunelog[pandas]'``)."""
        try:
            import pandas
        except ImportError as exc:
            raise ModuleNotFoundError(
                "Table.to_pandas() needs pandas, which is not installed: pip install 'tunelog[pandas]'."
            ) from exc
        return pandas.DataFrame(self.data, columns=self.columns)

    get_dataframe = to_pandas  # wandb's name

    def __len__(self) -> int:
        return len(self.data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Table):
            return NotImplemented
        return self.columns == other.columns and _same(self.data, other.data)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Table(columns={self.columns!r}, rows={len(self.data)})"

    def _check_row(self, row: list[Any], index: int) -> list[Any]:
        if len(row) != len(self.columns):
            raise UsageError(
                f"Row {index} has {len(row)} cells but the table has {len(self.columns)} columns: "
                f"{self.columns}. Pass one value per column (None for a missing one)."
            )
        row = [c if type(c) in _SCALARS else _normalize(c) for c in row]
        if not self.allow_mixed_types:
            kinds = self._kinds
            for i, cell in enumerate(row):
                if cell is None:
                    continue
                kind = _kind(cell)
                if kinds[i] is None:
                    kinds[i] = kind
                elif kinds[i] != kind:
                    raise UsageError(
                        f"Row {index}, column {self.columns[i]!r}: a {kind} cell ({cell!r:.60}) in a column "
                        f"of {kinds[i]} cells. Convert it, or pass allow_mixed_types=True to Table()."
                    )
        return row


def _as_row(row: Any, index: int) -> list[Any]:
    if isinstance(row, list | tuple):
        return list(row)
    if hasattr(row, "tolist") and hasattr(row, "dtype"):
        return list(row.tolist())
    raise UsageError(
        f"Row {index} is a {type(row).__name__}, not a list of cells: pass data as a list of rows, "
        "each a list or tuple with one cell per column."
    )


def _is_dataframe(value: Any) -> bool:
    return hasattr(value, "itertuples") and hasattr(value, "columns")


def _kind(cell: Any) -> str:
    if isinstance(cell, bool):
        return "bool"
    if isinstance(cell, int | float):
        return "number"
    if isinstance(cell, str):
        return "string"
    return "dict" if isinstance(cell, dict) else "list"


def _column_kind(name: str, cells: list[Any]) -> str | None:
    kinds = {_kind(c) for c in cells if c is not None}
    if len(kinds) > 1:
        raise UsageError(
            f"Column {name!r} mixes {sorted(kinds)} cells. Convert them, or pass allow_mixed_types=True "
            "to Table()."
        )
    return kinds.pop() if kinds else None


def _normalize(value: Any) -> Any:
    """A cell as plain JSON types: numpy values and tuples converted, other objects as ``str``."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, bool):  # also numpy.bool_ via tolist below
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, dict):
        return {_key(k): _normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalize(v) for v in value]
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas' missing values
        return None
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy scalars and arrays
        return _normalize(value.tolist())
    log.warning("a %s table cell is stored as its str(); convert it to str or a number first", type(value))
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return str.__str__(key)
    raise UsageError(f"Dict keys in table cells must be strings (JSON objects), not {key!r}; convert them.")


def _same(a: Any, b: Any) -> bool:
    """Equality of cells with types kept (1 != True) and NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    return bool(a == b)
