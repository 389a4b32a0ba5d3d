"""tunelog's OpenAI integration: ``autolog`` (record every SDK call) and fine-tune sync.

``autolog`` is imported eagerly (a few cheap imports, no openai): the package also has a submodule
named ``autolog``, and a lazy attribute would lose to it once the submodule is loaded.
``FineTuneLogger`` is imported on first use (``fine_tuning`` has no such name clash), so importing
autolog does not import the fine-tune sync, nor the other way round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunelog.integration.openai.autolog import autolog

__all__ = ["FineTuneLogger", "autolog"]

if TYPE_CHECKING:
    from tunelog.integration.openai.fine_tuning import FineTuneLogger


def __getattr__(name: str) -> Any:
    if name == "FineTuneLogger":
        from tunelog.integration.openai.fine_tuning import FineTuneLogger

        globals()[name] = FineTuneLogger  # later lookups skip this function
        return FineTuneLogger
    raise AttributeError(f"module 'tunelog.integration.openai' has no attribute {name!r}")
