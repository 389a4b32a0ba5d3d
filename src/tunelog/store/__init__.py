"""Where tunelog keeps runs, history and artifacts: :func:`open_store` picks a backend by URL.

``sqlite:///<path>`` opens (creating, migrating) a SQLite file: ``sqlite:////abs/path.db`` or, as
``Settings.store_url`` writes it, ``"sqlite:///" + absolute path``; a relative path is taken from
the current directory. ``memory://`` is a private in-memory database (``TUNELOG_MODE=disabled``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tunelog.errors import UsageError

if TYPE_CHECKING:
    from tunelog.store.base import Store

__all__ = ["open_store"]

_SQLITE = "sqlite:///"
_MEMORY = "memory://"


def open_store(url: str) -> Store:
    """Open the store at ``url``.

    Raises:
        UsageError: the URL's scheme is not supported.
        SchemaTooNewError: the store was written by a newer tunelog.
        StoreError: the file cannot be opened as a tunelog store.
    """
    from tunelog.store.sql import SQLStore  # sqlite3 and the SQL layer load only when a store opens

    if url == _MEMORY or url == _SQLITE + ":memory:":
        return SQLStore(None)
    if url.startswith(_SQLITE) and len(url) > len(_SQLITE):
        path = Path(url[len(_SQLITE) :]).expanduser().absolute()
        path.parent.mkdir(parents=True, exist_ok=True)
        return SQLStore(path)
    raise UsageError(
        f"Unsupported store URL {url!r}. Use 'sqlite:///<path to a .db file>' (e.g. "
        "'sqlite:////home/me/tunelog/tunelog.db') or 'memory://' (in memory, nothing written)."
    )
