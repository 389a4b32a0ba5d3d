"""The exceptions tunelog raises, and only for a programmer's mistake at call time.

Storage, I/O and serialisation failures on the logging path never raise into user code: they are
counted and reported once through :mod:`logging` (see :mod:`tunelog.writer`). What does raise::

    TunelogError                      base of everything below
    ├── UsageError (ValueError)       an invalid name, alias, reference, argument or filter
    │   └── ReferenceNotFound (LookupError)   a run, artifact or version that does not exist
    ├── RunExistsError                init(id=...) of an existing run with resume="never"
    ├── StoreError                    a read could not be served: the store is unreadable
    └── SchemaTooNewError             the store was written by a newer tunelog

Messages say what happened, then how to fix it.
"""

from __future__ import annotations


class TunelogError(Exception):
    """Base class of every error tunelog raises."""


class UsageError(TunelogError, ValueError):
    """An argument, name, alias, reference or filter is invalid; the message says how to fix it."""


class ReferenceNotFound(UsageError, LookupError):
    """A run, artifact collection or version that the reference names does not exist."""


class RunExistsError(UsageError):
    """A run with this id already exists and ``resume`` does not allow reopening it."""


class StoreError(TunelogError):
    """The store could not serve a read (corrupt, missing or locked beyond the timeout)."""


class SchemaTooNewError(StoreError):
    """The store's schema is newer than this tunelog understands."""


def warn(message: str, *args: object) -> None:
    """Log a warning on the ``tunelog`` logger: how tunelog reports what it does not raise.

    :mod:`logging` is imported here, at the first warning, rather than by every module on the way
    to ``tunelog.init``: with the modules it pulls in (traceback, string, …) it costs ~5 ms.
    """
    import logging

    logging.getLogger("tunelog").warning(message, *args, stacklevel=2)
