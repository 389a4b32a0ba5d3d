"""Which SDK methods autolog patches, and the wrappers it patches them with.

Methods are patched on the resource classes (``openai.resources.chat.completions.Completions`` …),
so every client — made before or after ``autolog``, ``OpenAI`` or ``AzureOpenAI`` — is covered, and
``with_raw_response`` / ``.stream()`` helpers, which call the same methods, are too. Targets that an
SDK version lacks are skipped, so one table serves openai 1.x to 3.x; openai 0.28's module-level
API is in :mod:`~tunelog.integration.openai.legacy`.

A wrapper marks itself with ``__tunelog_original__``: patching never wraps a wrapper (re-running a
notebook cell, reloading tunelog), and unpatching restores exactly what was there.

A resource's ``with_raw_response`` and ``with_streaming_response`` helpers are made once per resource
(a cached property; in openai 1.0 by the resource's ``__init__``) and hold the methods they found
then, so a helper made before ``autolog()`` would call the unpatched methods for good. While
patched, those two attributes are answered by :class:`_Helper`, which hands out a helper made after
patching instead.

The SDK imports most resource modules only when a client first uses them (``client.embeddings``…).
Importing them all to patch them would cost every program ~3.5 MiB and their import time, so a module
not yet imported is patched right after its first import, by a finder on ``sys.meta_path`` that only
ever answers for those modules and otherwise leaves the import as it is.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import inspect
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tunelog.integration.openai import call_records
from tunelog.integration.openai.recorder import Endpoint

if TYPE_CHECKING:
    from tunelog.integration.openai.recorder import Recorder

ORIGINAL = "__tunelog_original__"
_BASE_CLIENT = "openai._base_client"
_CAPTURING = call_records.CAPTURING
_HELPERS = ("with_raw_response", "with_streaming_response")
#: Classes whose helpers lead to the patched resources' helpers (``client.with_raw_response.chat…``,
#: ``client.chat.with_raw_response.completions``): theirs are answered by :class:`_Helper` too.
_HOLDERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("openai._client", ("OpenAI", "AsyncOpenAI")),
    ("openai.resources.chat.chat", ("Chat", "AsyncChat")),
    ("openai.resources.beta.beta", ("Beta", "AsyncBeta")),
)
_ABSENT = object()  # what a class had where it had nothing (openai 1.0 sets the helpers per instance)

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
        self._seen: set[int] = set()
        self._lock = threading.RLock()
        self._hook: _AfterImport | None = None

    @property
    def installed(self) -> list[str]:
        return [f"{cls.__module__}.{cls.__qualname__}.{name}" for cls, name, _ in self._installed]

    def install(self) -> None:
        """Patch every target the installed SDK has (idempotent): now if its module is imported,
        else right after its first import."""
        with self._lock:
            if self._installed or self._hook is not None:
                return
            later: set[str] = set()
            for module in dict.fromkeys([t[0] for t in _TARGETS] + [h[0] for h in _HOLDERS] + [_BASE_CLIENT]):
                if module in sys.modules:
                    self._patch_module(module)
                else:  # one this SDK lacks is never imported, so never patched
                    later.add(module)
            if later:
                self._hook = _AfterImport(self, later)
                sys.meta_path.insert(0, self._hook)

    def _patch_module(self, module: str) -> None:
        with self._lock:
            for mod, cls_name, method, name, api, kind, include_usage in _TARGETS:
                if mod != module:
                    continue
                for prefix in ("", "Async"):
                    cls = _find_class(module, prefix + cls_name)
                    if cls is None:
                        continue
                    current = cls.__dict__.get(method)
                    if current is None or not callable(current):
                        continue
                    original = getattr(current, ORIGINAL, current)
                    if id(original) in self._seen:
                        continue  # the same function reached through two module paths
                    self._seen.add(id(original))
                    # Async resources' methods return awaitables (not always from an ``async def``).
                    is_async = bool(prefix) or inspect.iscoroutinefunction(original)
                    takes_options = _takes(original, "stream_options")
                    journal = method == "create" and api in call_records.APIS
                    ep = Endpoint(name, api, kind, is_async, include_usage, takes_options, journal=journal)
                    self.patch(cls, method, original, self.wrap(original, ep))
                    self._patch_helpers(cls)
            if module == _BASE_CLIENT:
                self._hook_responses()
            for mod, class_names in _HOLDERS:
                if mod == module:
                    for cls_name in class_names:
                        holder = _find_class(module, cls_name)
                        if holder is not None:
                            self._patch_helpers(holder)

    def _patch_helpers(self, cls: type[Any]) -> None:
        for name in _HELPERS:
            current = cls.__dict__.get(name, _ABSENT)
            if isinstance(current, _Helper):
                continue
            if current is _ABSENT and not _sets_helper(cls, name):
                continue  # an SDK without the helper
            self.patch(cls, name, current, _Helper(name, current))

    def _hook_responses(self) -> None:
        """Hook the clients' ``_process_response``, which gets the HTTP response a call's result is
        parsed from: a call autolog journals from its bytes keeps them (see ``call_records``)."""
        for name in ("SyncAPIClient", "AsyncAPIClient"):
            cls = _find_class(_BASE_CLIENT, name)
            current = getattr(cls, "_process_response", None) if cls is not None else None
            if cls is None or current is None or getattr(current, ORIGINAL, None) is not None:
                continue
            # Inherited in openai 1.0 (BaseClient's, not a coroutine even for the async client).
            had = cls.__dict__.get("_process_response", _ABSENT)
            self.patch(cls, "_process_response", had, _response_hook(current))

    def patch(self, cls: type[Any], method: str, original: Any, wrapper: Any) -> None:
        setattr(cls, method, wrapper)
        self._installed.append((cls, method, original))

    def uninstall(self) -> None:
        with self._lock:
            if self._hook is not None:
                try:
                    sys.meta_path.remove(self._hook)
                except ValueError:
                    pass
                self._hook = None
            for cls, method, original in reversed(self._installed):
                if original is _ABSENT:
                    delattr(cls, method)
                else:
                    setattr(cls, method, original)
            self._installed.clear()
            self._seen.clear()

    def wrap(self, original: Callable[..., Any], ep: Endpoint) -> Callable[..., Any]:
        wrapper = _async_wrapper(original, ep, self) if ep.is_async else _sync_wrapper(original, ep, self)
        setattr(wrapper, ORIGINAL, original)
        return wrapper


class _Helper:
    """``with_raw_response`` / ``with_streaming_response`` of a patched resource class.

    A data descriptor, so it is asked before what the instance holds (the helper the SDK cached, made
    before ``autolog()`` perhaps): it returns a helper of the same class made now, whose methods are
    the patched ones, kept on the instance for as long as this patching lasts."""

    def __init__(self, name: str, original: Any) -> None:
        self.name = name
        self.original = original  # a cached_property, or _ABSENT (openai 1.0 sets it in __init__)
        self._key = f"__tunelog_{name}"

    def __get__(self, obj: Any, owner: type[Any] | None = None) -> Any:
        if obj is None:
            return self if self.original is _ABSENT else self.original.__get__(None, owner)
        own = obj.__dict__
        mine = own.get(self._key)
        if mine is not None and mine[0] is self:
            return mine[1]
        held = own.get(self.name, _ABSENT)
        try:
            if held is not _ABSENT:
                helper = type(held)(obj)
            elif isinstance(self.original, functools.cached_property):
                helper = self.original.func(obj)
            else:
                helper = self.original.__get__(obj, type(obj))
        except Exception:  # a helper this SDK makes differently: the SDK's own, unrecorded
            if held is not _ABSENT:
                return held
            raise
        own[self._key] = (self, helper)
        return helper

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value


def _sets_helper(cls: type[Any], name: str) -> bool:
    """Whether the class's ``__init__`` assigns the helper (openai 1.0)."""
    code = getattr(cls.__dict__.get("__init__"), "__code__", None)
    return code is not None and name in code.co_names


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: for the modules it waits for, it asks the finders after it and makes the
    module's loader call the patcher once the module has run."""

    def __init__(self, patcher: Patcher, modules: set[str]) -> None:
        self._patcher = patcher
        self._waiting = modules

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if fullname not in self._waiting:
            return None
        try:
            spec = None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return None
            spec.loader = _PatchAfter(spec.loader, self._patcher, fullname)
            return spec
        except Exception:  # never in the way of an import: the module then goes unpatched
            return None


class _PatchAfter(importlib.abc.Loader):
    """The module's own loader, and then the patch (every other attribute is the loader's)."""

    def __init__(self, loader: Any, patcher: Patcher, name: str) -> None:
        self._loader = loader
        self._patcher = patcher
        self._name = name

    def create_module(self, spec: Any) -> ModuleType | None:
        return self._loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        try:
            self._patcher._patch_module(self._name)
        except Exception as exc:  # a call then goes unrecorded; the import itself succeeded
            import logging

            logging.getLogger("tunelog").warning("tunelog: could not patch %s (%s)", self._name, exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


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
        token = _CAPTURING.set(call) if call.capture else None
        try:
            result = original(self, *args, **call.send_kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            if token is not None:
                _CAPTURING.reset(token)
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
        token = _CAPTURING.set(call) if call.capture else None
        try:
            result = await original(self, *args, **call.send_kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            if token is not None:
                _CAPTURING.reset(token)
        return call.finish(result)

    return wrapper


def _response_hook(original: Callable[..., Any]) -> Callable[..., Any]:
    capture = call_records.capture
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def hook_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            call = _CAPTURING.get()
            if call is not None:
                capture(call, kwargs)
            return await original(self, *args, **kwargs)

        setattr(hook_async, ORIGINAL, original)
        return hook_async

    @functools.wraps(original)
    def hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = _CAPTURING.get()
        if call is not None:
            capture(call, kwargs)
        return original(self, *args, **kwargs)

    setattr(hook, ORIGINAL, original)
    return hook
