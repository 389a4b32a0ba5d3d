"""An OpenAI and Azure OpenAI HTTP API simulator: a real server for tests, benchmarks and the demo.

``from tunelog.simulator import Simulator`` — imported lazily, so ``import tunelog`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunelog.simulator.server import Simulator, serve

__all__ = ["Simulator", "serve"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tunelog.simulator import server

        return getattr(server, name)
    raise AttributeError(f"module 'tunelog.simulator' has no attribute {name!r}")
