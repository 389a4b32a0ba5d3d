"""``run.config`` and ``run.summary``: dict-like views that tell their run when they change."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

from tunelog.history import json_safe


class Config(MutableMapping[str, Any]):
    """A run's configuration, with attribute and item access.

    ``run.config.lr``, ``run.config["lr"]`` and ``run.config.update({...})`` all work; values that are
    not JSON-serialisable are stored as their ``repr`` with one warning.
    """

    __slots__ = ("_data", "_on_change", "_warned")

    def __init__(self, data: Mapping[str, Any] | None, on_change: Callable[[], None]) -> None:
        object.__setattr__(self, "_warned", set())
        object.__setattr__(self, "_on_change", on_change)
        clean = {
            str(k): json_safe(v, what=f"config[{k!r}]", warned=self._warned) for k, v in (data or {}).items()
        }
        object.__setattr__(self, "_data", clean)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[str(key)] = json_safe(value, what=f"config[{key!r}]", warned=self._warned)
        self._on_change()

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._on_change()

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}; keys: {sorted(self._data)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        del self[name]

    def update(self, other: Any = (), /, **kwargs: Any) -> None:  # one change notification, not many
        items = dict(other, **kwargs) if not hasattr(other, "keys") else {**other, **kwargs}
        for k, v in items.items():
            self._data[str(k)] = json_safe(v, what=f"config[{k!r}]", warned=self._warned)
        self._on_change()

    def setdefaults(self, defaults: Mapping[str, Any]) -> None:
        """Set keys that are not set yet (wandb's ``config.setdefaults``)."""
        self.update({k: v for k, v in defaults.items() if k not in self._data})

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __repr__(self) -> str:
        return f"Config({self._data!r})"


class Summary(MutableMapping[str, Any]):
    """A run's summary: the last logged value of each key unless set explicitly.

    Keys set through ``run.summary[...] = ...`` or ``update`` stay as set; later ``run.log`` calls do
    not overwrite them.
    """

    __slots__ = ("_data", "_explicit", "_on_change", "_warned")

    def __init__(self, data: Mapping[str, Any] | None, on_change: Callable[[], None]) -> None:
        self._data: dict[str, Any] = dict(data or {})
        self._explicit: set[str] = set()
        self._on_change = on_change
        self._warned: set[str] = set()

    def _logged(self, values: Mapping[str, Any]) -> None:
        """Take the values of one ``run.log`` call (the caller tells the run it changed)."""
        if self._explicit:
            for k, v in values.items():
                if k not in self._explicit:
                    self._data[k] = v
        else:
            self._data.update(values)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = json_safe(value, what=f"summary[{key!r}]", warned=self._warned)
        self._explicit.add(key)
        self._on_change()

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._explicit.add(key)
        self._on_change()

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        for k, v in dict(other, **kwargs).items():
            self._data[k] = json_safe(v, what=f"summary[{k!r}]", warned=self._warned)
            self._explicit.add(k)
        self._on_change()

    def snapshot(self) -> dict[str, Any]:
        return {k: _jsonable(v) for k, v in self._data.items()}

    def __repr__(self) -> str:
        return f"Summary({self._data!r})"


def _jsonable(v: Any) -> Any:
    item = getattr(v, "item", None)
    if item is not None and getattr(v, "ndim", 1) == 0:
        return item()
    if isinstance(v, float) and v != v:
        return None
    return v
