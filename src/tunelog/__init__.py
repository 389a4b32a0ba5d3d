"""tunelog: a self-hosted tracker for work done with the OpenAI API.

::

    import tunelog

    with tunelog.init(project="GPT-3", config={"lr": 0.1}) as run:
        run.log({"loss": 0.5})

The public API is what ``__all__`` lists. Everything is imported lazily, so ``import tunelog`` stays
fast and does no I/O; ``tunelog.run`` is the active run (``None`` when there is none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Api",
    "Artifact",
    "Run",
    "Table",
    "__version__",
    "failures",
    "finish",
    "flush",
    "init",
    "log",
    "run",
    "trace",
    "traced",
]

if TYPE_CHECKING:
    from tunelog.api import Api
    from tunelog.artifact import Artifact
    from tunelog.runs import Run
    from tunelog.session import finish, flush, init, log
    from tunelog.table import Table
    from tunelog.tracing import trace, traced

    run: Run | None

_LAZY = {
    "Api": ("tunelog.api", "Api"),
    "Artifact": ("tunelog.artifact", "Artifact"),
    "Run": ("tunelog.runs", "Run"),
    "Table": ("tunelog.table", "Table"),
    "init": ("tunelog.session", "init"),
    "log": ("tunelog.session", "log"),
    "finish": ("tunelog.session", "finish"),
    "flush": ("tunelog.session", "flush"),
    "trace": ("tunelog.tracing", "trace"),
    "traced": ("tunelog.tracing", "traced"),
}


def __getattr__(name: str) -> Any:
    if name == "run":
        from tunelog.session import active_run

        return active_run()
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'tunelog' has no attribute {name!r}")
    # __import__ rather than importlib.import_module: nothing else on the way to init imports the
    # importlib package, and it costs ~1 ms.
    value = getattr(__import__(target[0], fromlist=[target[1]]), target[1])
    globals()[name] = value  # later lookups skip this function
    return value


def failures() -> int:
    """How many storage or I/O failures tunelog swallowed so that your program could go on."""
    from tunelog.backend import backends

    return sum(b.failures.count for b in backends().all())


def __dir__() -> list[str]:
    return sorted(__all__)
