"""openai 0.28's module-level API: ``openai.ChatCompletion/Completion/Edit/Embedding.create/acreate``.

So the seeds' code runs as written::

    autolog({"project": "gpt5"})
    response = openai.ChatCompletion.create(model="gpt-3.5-turbo", messages=[...])

These are classmethods; the wrapper replaces them on the class and unpatching restores the original
descriptor. Streams there are plain generators, which autolog wraps in a generator yielding the same
chunks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tunelog.integration.openai import streams
from tunelog.integration.openai.patches import ORIGINAL, Patcher
from tunelog.integration.openai.recorder import Endpoint

# class name → (span name prefix, api, kind, include_usage)
_CLASSES = {
    "ChatCompletion": ("ChatCompletion", "chat", "llm", True),
    "Completion": ("Completion", "completions", "llm", True),
    "Edit": ("Edit", "edits", "llm", False),
    "Embedding": ("Embedding", "embeddings", "embedding", False),
}


def is_legacy(openai_module: Any) -> bool:
    version = str(getattr(getattr(openai_module, "version", None), "VERSION", "") or "")
    return version.startswith("0.")


def install(patcher: Patcher, openai_module: Any) -> None:
    for cls_name, (label, api, kind, include_usage) in _CLASSES.items():
        cls = getattr(openai_module, cls_name, None)
        if cls is None:
            continue
        for method, is_async in (("create", False), ("acreate", True)):
            current = cls.__dict__.get(method)
            if not isinstance(current, classmethod):
                continue
            original = getattr(current.__func__, ORIGINAL, None)
            descriptor = cls.__dict__[method] if original is None else original
            func = descriptor.__func__
            ep = Endpoint(f"{label}.{method}", api, kind, is_async, include_usage, True, legacy=True)
            wrapper = (
                _async(func, ep, patcher, openai_module)
                if is_async
                else _sync(func, ep, patcher, openai_module)
            )
            setattr(wrapper, ORIGINAL, descriptor)
            patcher.patch(cls, method, descriptor, classmethod(wrapper))


def _sync(func: Callable[..., Any], ep: Endpoint, patcher: Patcher, module: Any) -> Callable[..., Any]:
    def create(cls: Any, *args: Any, **kwargs: Any) -> Any:
        rec = patcher.recorder
        call = rec.begin(ep, module, kwargs) if rec is not None else None
        if call is None:
            return func(cls, *args, **kwargs)
        try:
            result = func(cls, *args, **call.send_kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        if kwargs.get("stream") and hasattr(result, "__next__"):
            return streams.wrap_generator(result, call)
        return call.finish(result)

    return create


def _async(func: Callable[..., Any], ep: Endpoint, patcher: Patcher, module: Any) -> Callable[..., Any]:
    async def acreate(cls: Any, *args: Any, **kwargs: Any) -> Any:
        rec = patcher.recorder
        call = rec.begin(ep, module, kwargs) if rec is not None else None
        if call is None:
            return await func(cls, *args, **kwargs)
        try:
            result = await func(cls, *args, **call.send_kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        if kwargs.get("stream") and hasattr(result, "__anext__"):
            return streams.wrap_async_generator(result, call)
        return call.finish(result)

    return acreate
