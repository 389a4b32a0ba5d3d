"""The simulator's in-memory world: a clock, id minting, stored files, jobs and models.

Nothing here speaks HTTP. The route modules (``files``, ``jobs``, ``models``, the inference routes)
read and change one :class:`SimState`, reached from a request as ``request.app.state.sim``.
Handlers run on the server's event loop, so changes made by a handler are never interleaved with
another handler's; the few things tests change from other threads (faults, the clock) lock.
"""

from __future__ import annotations

import random
import string
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunelog.simulator.faults import Faults

if TYPE_CHECKING:
    from tunelog.simulator.lifecycle import Job

_ALPHABET = string.ascii_letters + string.digits
_HEX = "0123456789abcdef"

#: Models the simulator knows, with the Unix time OpenAI lists as their creation date.
BASE_MODELS: dict[str, int] = {
    "gpt-4o-mini": 1721172741,
    "gpt-4o-mini-2024-07-18": 1721172717,
    "gpt-4o": 1715367049,
    "gpt-4o-2024-08-06": 1722814719,
    "gpt-4.1": 1744316542,
    "gpt-4.1-2025-04-14": 1744315746,
    "gpt-4.1-mini": 1744318173,
    "gpt-4.1-mini-2025-04-14": 1744317547,
    "gpt-4.1-nano": 1744321707,
    "gpt-4.1-nano-2025-04-14": 1744321025,
    "gpt-5": 1754425777,
    "gpt-5-mini": 1754425928,
    "o4-mini": 1744225351,
    "o4-mini-2025-04-16": 1744133506,
    "gpt-3.5-turbo": 1677610602,
    "gpt-3.5-turbo-0125": 1706048358,
    "gpt-3.5-turbo-1106": 1698959748,
    "gpt-3.5-turbo-instruct": 1692901427,
    "gpt-35-turbo": 1677610602,
    "gpt-35-turbo-0125": 1706048358,
    "davinci-002": 1692634301,
    "babbage-002": 1692634615,
    "text-davinci-edit-001": 1649809179,
    "text-embedding-3-small": 1705948997,
    "text-embedding-3-large": 1705953180,
    "text-embedding-ada-002": 1671217299,
    "omni-moderation-latest": 1731689265,
    "text-moderation-latest": 1677610602,
    "dall-e-2": 1698798177,
    "dall-e-3": 1698785189,
    "gpt-image-1": 1745517030,
}


class Clock:
    """Simulated wall-clock time: real time since start, multiplied by ``speed``, plus any advance.

    Every timestamp the simulator serves comes from here, so with ``speed=1000`` a job that takes a
    minute of simulated time finishes in 60 ms and its ``created_at``/``finished_at`` stay coherent.
    """

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed!r}; use 1.0 for real time.")
        self._lock = threading.Lock()
        self._speed = float(speed)
        self._base = time.time() if start is None else float(start)
        self._mono = time.monotonic()

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if value <= 0:
            raise ValueError(f"speed must be positive, got {value!r}; use 1.0 for real time.")
        with self._lock:
            now = self._now_locked()
            self._base, self._mono, self._speed = now, time.monotonic(), float(value)

    def _now_locked(self) -> float:
        return self._base + (time.monotonic() - self._mono) * self._speed

    def now(self) -> float:
        """Simulated Unix time, in seconds."""
        with self._lock:
            return self._now_locked()

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward, e.g. to finish every running job at once in a test."""
        if seconds < 0:
            raise ValueError(f"the clock only moves forward; got {seconds!r} seconds.")
        with self._lock:
            self._base += seconds


class Ids:
    """Seeded id minting, so two simulators with the same seed hand out the same ids in order."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def token(self, n: int, alphabet: str = _ALPHABET) -> str:
        with self._lock:
            return "".join(self._rng.choice(alphabet) for _ in range(n))

    def openai(self, prefix: str, n: int = 24) -> str:
        """An OpenAI-style id such as ``file-AbC…`` (``prefix`` includes its separator)."""
        return prefix + self.token(n)

    def azure(self, prefix: str) -> str:
        """An Azure-style id: ``prefix`` + 32 lowercase hex digits."""
        return prefix + self.token(32, _HEX)

    def integer(self, upper: int) -> int:
        with self._lock:
            return self._rng.randrange(upper)


@dataclass
class StoredFile:
    """An uploaded (or simulator-written) file."""

    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int
    azure: bool = False

    @property
    def bytes(self) -> int:
        return len(self.content)

    def to_json(self, *, azure: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
        }
        if azure:
            body["status_details"] = None
        return body


@dataclass
class FineTunedModel:
    """A model the simulator produced by finishing a job (or a checkpoint of one)."""

    id: str
    created: int
    owned_by: str
    job_id: str


@dataclass
class SimState:
    """Everything one simulator instance remembers. Create it with :func:`new_state`."""

    clock: Clock
    ids: Ids
    seed: int
    faults: Faults
    api_key: str | None = None
    organization_id: str = "org-simulator"
    organization_slug: str = "tunelog-sim"
    files: dict[str, StoredFile] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    models: dict[str, FineTunedModel] = field(default_factory=dict)
    deleted_models: set[str] = field(default_factory=set)
    #: Jobs whose result file and model have not been written yet (see ``lifecycle.settle``).
    unsettled: set[str] = field(default_factory=set)

    def now(self) -> int:
        """Simulated Unix time in whole seconds, as OpenAI's timestamps are."""
        return int(self.clock.now())

    def add_file(
        self,
        filename: str,
        purpose: str,
        content: bytes,
        *,
        azure: bool = False,
        created_at: int | None = None,
    ) -> StoredFile:
        file_id = self.ids.azure("file-") if azure else self.ids.openai("file-", 22)
        stored = StoredFile(
            id=file_id,
            filename=filename,
            purpose=purpose,
            content=content,
            created_at=self.now() if created_at is None else created_at,
            azure=azure,
        )
        self.files[file_id] = stored
        return stored

    def known_model(self, model: str) -> bool:
        """Whether ``model`` names a base model or a fine-tuned model (or checkpoint) made here."""
        from tunelog.simulator.lifecycle import settle

        if model in BASE_MODELS:
            return True
        settle(self)
        if model in self.deleted_models:
            return False
        return model in self.models


def new_state(*, speed: float = 1.0, seed: int = 0, api_key: str | None = None) -> SimState:
    """A fresh simulator world: no files, no jobs, the clock starting now."""
    ids = Ids(seed)
    return SimState(
        clock=Clock(speed),
        ids=ids,
        seed=seed,
        faults=Faults(seed=seed),
        api_key=api_key,
        organization_id="org-" + ids.token(24),
    )
