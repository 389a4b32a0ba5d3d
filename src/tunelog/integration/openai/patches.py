"""Which SDK methods autolog patches, and the wrappers it patches them with.

Methods are patched on the resource classes (``openai.resources.chat.completions.Completions`` …),
so every client — made before or after ``autolog``, ``OpenAI`` or ``AzureOpenAI`` — is covered, and
``with_raw_response`` / ``.stream()`` helpers, which call the same methods, are too. Targets that an
SDK version lacks are skipped, so one table serves openai 1.x to 3.x; openai 0.28's module-level
API is in :mod:`~tunelog.integration.openai.legacy`.

A wrapper marks itself with ``__tunelog_original__``: patching never wraps a wrapper (re-running a
notebook cell, reloading tunelog), and unpatching restores exactly what was there.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tunelog.integration.openai.recorder import Endpoint

if TYPE_CHECKING:
    from tunelog.integration.openai.recorder import Recorder

ORIGINAL = "__tunelog_original__"

# (module, class, method, endpoint name, api, kind, include_usage)
_TARGETS: tuple[tuple[str, str, str, str, str, str, bool], ...] = (
    (
        "openai.resources.chat.completions",
        "Completions",
        "create",
        "chat.completions.create",
        "chat",
        "llm",
        True,
    ),
    (
        "openai.resources.chat.completions",
        "Completions",
        "parse",
        "chat.completions.parse",
        "chat",
        "llm",
        False,
    ),
    (
        "openai.resources.beta.chat.completions",
        "Completions",
        "parse",
        "chat.completions.parse",
        "chat",
        "llm",
        False,
    ),
    ("openai.resources.responses", "Responses", "create", "responses.create", "responses", "llm", False),
    ("openai.resources.responses", "Responses", "parse", "responses.parse", "responses", "llm", False),
    (
        "openai.resources.completions",
        "Completions",
        "create",
        "completions.create",
        "completions",
        "llm",
        True,
    ),
    (
        "openai.resources.embeddings",
        "Embeddings",
        "create",
        "embeddings.create",
        "embeddings",
        "embedding",
        False,
    ),
    (
        "openai.resources.moderations",
        "Moderations",
        "create",
        "moderations.create",
        "moderations",
        "moderation",
        False,
    ),
    ("openai.resources.images", "Images", "generate", "images.generate", "images", "image", False),
    ("openai.resources.images", "Images", "edit", "images.edit", "images", "image", False),
)


class Patcher:
    """Installs and removes wrappers; the wrappers read ``self.recorder`` on every call, so a wrapper
    still referenced somewhere (a raw-response helper made while enabled) passes through once off."""

    def __init__(self) -> None:
        self.recorder: Recorder | None = None
        self._installed: list[tuple[type[Any], str, Any]] = []

    @property
    def installed(self) -> list[str]:
        return [f"{cls.__module__}.{cls.__qualname__}.{name}" for cls, name, _ in self._installed]

    def install(self) -> None:
        """Patch every target the installed SDK has (idempotent)."""
        if self._installed:
            return
        seen: set[int] = set()
        for module, cls_name, method, name, api, kind, include_usage in _TARGETS:
            for prefix in ("", "Async"):
                cls = _find_class(module, prefix + cls_name)
                if cls is None:
                    continue
                current = cls.__dict__.get(method)
                if current is None or not callable(current):
                    continue
                original = getattr(current, ORIGINAL, current)
                if id(original) in seen:
                    continue  # the same function reached through two module paths
                seen.add(id(original))
                # Async resources' methods return awaitables (not always from an ``async def``).
                is_async = bool(prefix) or inspect.iscoroutinefunction(original)
                takes_options = _takes(original, "stream_options")
                ep = Endpoint(name, api, kind, is_async, include_usage, takes_options)
                self.patch(cls, method, original, self.wrap(original, ep))

    def patch(self, cls: type[Any], method: str, original: Any, wrapper: Any) -> None:
        setattr(cls, method, wrapper)
        self._installed.append((cls, method, original))

    def uninstall(self) -> None:
        for cls, method, original in reversed(self._installed):
            setattr(cls, method, original)
        self._installed.clear()

    def wrap(self, original: Callable[..., Any], ep: Endpoint) -> Callable[..., Any]:
        wrapper = _async_wrapper(original, ep, self) if ep.is_async else _sync_wrapper(original, ep, self)
        setattr(wrapper, ORIGINAL, original)
        return wrapper


def _find_class(module: str, name: str) -> type[Any] | None:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    cls = getattr(mod, name, None)
    return cls if isinstance(cls, type) else None


def _takes(fn: Callable[..., Any], param: str) -> bool:
    try:
        return param in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _sync_wrapper(original: Callable[..., Any], ep: Endpoint, patcher: Patcher) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        rec = patcher.recorder
        if rec is None:
            return original(self, *args, **kwargs)
        call = rec.begin(ep, self, kwargs)
        if call is None:
            return original(self, *args, **kwargs)
        try:
            result = original(self, *args, **call.send_kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        return call.finish(result)

    return wrapper


def _async_wrapper(original: Callable[..., Any], ep: Endpoint, patcher: Patcher) -> Callable[..., Any]:
    @functools.wraps(original)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        rec = patcher.recorder
        if rec is None:
            return await original(self, *args, **kwargs)
        call = rec.begin(ep, self, kwargs)
        if call is None:
            return await original(self, *args, **kwargs)
        try:
            result = await original(self, *args, **call.send_kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        return call.finish(result)

    return wrapper
