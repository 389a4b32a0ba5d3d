"""How a span's JSON fields become the text a store writes, and how a built span holds them meanwhile.

Every JSON column of a span is encoded with one function (:func:`fast_dumps`, orjson when it is
installed, as it is with ``tunelog[openai]``) and one ``default`` for what JSON cannot hold. The
autolog builder encodes a call's request and response right away (:func:`encoded`) and keeps the
JSON text, as an ``orjson.Fragment``, until the store writes it. Why: a built span waits for its
commit (a tenth of a second; longer while a caller that never waits starves the writer of the GIL),
and its request and response as dicts and lists are several objects per call that live long enough
for the garbage collector to move them to its oldest generation; enough of those make it run a full
collection, which in a process that has imported openai walks its pydantic schemas (~40 ms, most of
it not tunelog's). A fragment holds text, which the collector never walks. Orjson (and so the store's
writer and the journal) writes a fragment's JSON as it is; anything else that needs the value reads
it back with :func:`plain`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

_MAX_REPR = 2000


def default(value: Any) -> Any:
    """What JSON cannot encode by itself: models dumped, sets listed, types named, the rest repr'd
    (so callers may hand over request values as they are; see ``tracing.to_json``)."""
    if isinstance(value, type):
        return value.__qualname__
    if type(value) is _fragment_type():
        return plain(value)
    dump = getattr(value, "model_dump", None)
    if dump is not None and callable(dump):
        try:
            return dump(mode="json", exclude_unset=True, warnings=False)
        except Exception:  # a model that will not dump is recorded by its repr
            return repr(value)[:_MAX_REPR]
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return repr(value)[:_MAX_REPR]


@functools.cache
def fast_dumps() -> Callable[[Any], bytes] | None:
    """orjson (with tunelog[openai]) encodes a span's columns several times faster; imported at the
    first span rather than with the store, since loading it costs every ``init()`` ~5 ms."""
    try:
        import orjson
    except ImportError:  # pragma: no cover
        return None
    # NaN becomes null, as ``sql_common.dumps`` does; keys that are not strings become strings, as
    # json's do.
    return functools.partial(orjson.dumps, default=default, option=orjson.OPT_NON_STR_KEYS)


@functools.cache
def _fragment_type() -> type[Any] | None:
    try:
        from orjson import Fragment
    except ImportError:  # pragma: no cover - no orjson (3.9, the oldest tunelog[openai] takes, has it)
        return None
    return Fragment  # type: ignore[no-any-return]


@functools.cache
def _encoder() -> Callable[[Any], Any] | None:
    """What :func:`encoded` does, resolved once (it runs twice for every recorded call)."""
    fast, fragment = fast_dumps(), _fragment_type()
    if fast is None or fragment is None:
        return None

    def encode(value: Any) -> Any:
        try:
            # As text: orjson's bytes keep the 4 KiB buffer they were written in (its allocation
            # is never shrunk), which a backlog of held calls would multiply; a str is allocated
            # to size.
            return fragment(fast(value).decode())
        except TypeError:
            return value

    return encode


def encoded(value: Any) -> Any:
    """``value`` encoded now, as the store will write it (an ``orjson.Fragment``); ``value`` itself
    if it is None, if orjson is not installed, or if orjson refuses it (an integer past 64 bits, a
    lone surrogate: the store then encodes it its own way)."""
    encode = _encoder()
    return value if value is None or encode is None else encode(value)


def plain(value: Any) -> Any:
    """A JSON field as plain values: an encoded one (:func:`encoded`) decoded, anything else as is."""
    if value is not None and type(value) is _fragment_type():
        import orjson  # there, since a fragment is one of its objects

        return orjson.loads(orjson.dumps(value))  # a fragment shows its JSON only to orjson
    return value
