"""``autolog``: record every OpenAI SDK call the program makes, in one line.

::

    from tunelog.integration.openai import autolog

    autolog({"project": "gpt5"})       # starts a run (or uses the active one) and prints its link
    client = openai.OpenAI()
    client.chat.completions.create(model="gpt-4o-mini", messages=[...])   # recorded as a span
    autolog.disable()                  # unpatches; finishes the run only if autolog started it

Works with openai 1.x to 3.x (sync and async clients, ``OpenAI`` and ``AzureOpenAI``) and with
openai 0.28's module-level API. Recording never raises into your code and never changes what the SDK
returns: see :mod:`~tunelog.integration.openai.recorder` for the per-call path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunelog.errors import UsageError

if TYPE_CHECKING:
    from tunelog.integration.openai.patches import Patcher
    from tunelog.integration.openai.recorder import Recorder
    from tunelog.runs import Run
    from tunelog.store.base import SpanRecord

log = logging.getLogger("tunelog")
_STREAM_USAGE = ("auto", "always", "never")


class Autolog:
    """The ``autolog`` object: call it to start recording, ``.disable()`` to stop, ``.stats()`` to see
    what was recorded. One per process; calling it again while enabled starts over."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._patcher: Patcher | None = None
        self._recorder: Recorder | None = None
        self._owns_run = False
        self._last_stats: dict[str, int] = {}

    def __call__(
        self,
        init: Mapping[str, Any] | None = None,
        *,
        capture_content: bool = True,
        redact: Callable[[SpanRecord], SpanRecord | None] | None = None,
        sample_rate: float = 1.0,
        prices: Mapping[str, Mapping[str, float]] | None = None,
        azure_deployments: Mapping[str, str] | None = None,
        stream_usage: str = "auto",
        stream_usage_hosts: Sequence[str] = (),
        quiet: bool = False,
    ) -> Run | None:
        """Start recording OpenAI calls; returns the run they go to (None when tunelog is disabled).

        Args:
            init: arguments for :func:`tunelog.init` (``{"project": "gpt5"}``), used when no run is
                active; with a run active, calls are recorded into it and it stays open on disable.
            capture_content: record prompts and generated text (default). False keeps parameters,
                usage, cost, timings and finish reasons, but no messages, inputs or outputs text.
            redact: a function called with each span (a ``SpanRecord``) before it is stored; return
                a changed copy (``dataclasses.replace``) or None to drop the span.
            sample_rate: the fraction of calls recorded (0..1); the rest pass through untouched.
            prices: per-model price overrides in USD per million tokens,
                ``{"gpt-4o-mini": {"input": 0.075, "output": 0.3, "cached_input": 0.0375}}``.
            azure_deployments: Azure deployment name → model, so Azure calls get the right cost.
            stream_usage: ``"auto"`` asks for streaming usage (``stream_options.include_usage``) on
                your behalf where the server is known to accept it, hiding the extra chunk;
                ``"always"`` / ``"never"`` force it on or off. Where it is off, usage is counted
                locally and marked ``estimated``.
            stream_usage_hosts: more hosts (or base URLs) known to accept ``include_usage``.
            quiet: do not print the run's link.
        """
        if init is not None and not isinstance(init, Mapping):
            raise UsageError(
                f"autolog() takes a dict of tunelog.init arguments, such as {{'project': 'gpt5'}}, not "
                f"{type(init).__name__}."
            )
        if not 0.0 <= float(sample_rate) <= 1.0:
            raise UsageError(f"sample_rate must be between 0 and 1, got {sample_rate!r}.")
        if stream_usage not in _STREAM_USAGE:
            raise UsageError(f"stream_usage must be one of {_STREAM_USAGE}, got {stream_usage!r}.")
        from tunelog.integration.openai.pricing import PriceBook
        from tunelog.integration.openai.recorder import Options, Recorder
        from tunelog.settings import Settings

        prices_book = PriceBook(prices)  # validates overrides before anything changes
        init_args = dict(init or {})
        with self._lock:
            if self.enabled:
                self.disable()
            settings = Settings.resolve(
                dir=init_args.get("dir"), entity=init_args.get("entity"), mode=init_args.get("mode")
            )
            if settings.mode == "disabled":
                return None
            run, owns = self._run_for(init_args)
            options = Options(
                capture_content=capture_content,
                redact=redact,
                sample_rate=float(sample_rate),
                azure_deployments=dict(azure_deployments or {}),
                stream_usage=stream_usage,
                stream_usage_hosts=tuple(str(h).lower() for h in stream_usage_hosts),
            )
            recorder = Recorder(run, options, prices_book)
            try:
                patcher = _install()
            except Exception:
                if owns:
                    run.finish()
                raise
            patcher.recorder = recorder
            self._patcher, self._recorder, self._owns_run = patcher, recorder, owns
            from tunelog import tracing

            tracing.set_fallback_run(run)
            # Load the price table on the writer thread now, not inside the first recorded call.
            run.writer.call(_warm_prices, "loading the price table")
        if not quiet:
            print(f"tunelog: autolog records OpenAI calls to run {run.name!r}: {run.url}")
        return run

    @staticmethod
    def _run_for(init_args: dict[str, Any]) -> tuple[Run, bool]:
        from tunelog.session import active_run, init

        run = active_run()
        if run is not None and not run.disabled:
            return run, False
        return init(**init_args), True

    @property
    def enabled(self) -> bool:
        return self._recorder is not None

    @property
    def run(self) -> Run | None:
        """The run calls are recorded into while enabled."""
        return self._recorder.run if self._recorder is not None else None

    def disable(self) -> None:
        """Stop recording: unpatch the SDK, write what is queued, and finish the run if autolog
        started it (a run that was already active stays open). Safe to call when not enabled."""
        with self._lock:
            patcher, recorder = self._patcher, self._recorder
            if recorder is None:
                return
            if patcher is not None:
                patcher.recorder = None
                patcher.uninstall()
            recorder.active = False
            self._patcher = self._recorder = None
            from tunelog import tracing

            tracing.set_fallback_run(None)
            run = recorder.run
            run.writer.flush(30.0)
            self._last_stats = self._stats_of(recorder)
            if self._owns_run:
                run.finish()
            self._owns_run = False

    def stats(self) -> dict[str, int]:
        """Counts for the current (or last) session: ``recorded`` spans queued, ``dropped`` because
        the queue was past its memory bound, ``sampled_out``, ``errors`` inside tunelog while
        recording, ``write_errors`` of the store, and ``pending`` spans not yet written."""
        recorder = self._recorder
        if recorder is None:
            return dict(self._last_stats)
        return self._stats_of(recorder)

    @staticmethod
    def _stats_of(recorder: Recorder) -> dict[str, int]:
        c = recorder.counters
        writer = recorder.run.writer
        return {
            "recorded": c.recorded,
            "dropped": c.dropped,
            "sampled_out": c.sampled_out,
            "errors": c.errors,
            "write_errors": writer.failures.count,
            "pending": writer.pending,
        }

    def __repr__(self) -> str:
        state = f"enabled, run {self.run.path}" if self.run is not None else "disabled"
        return f"<tunelog autolog ({state})>"


def _install() -> Patcher:
    try:
        import openai
    except ImportError as exc:
        raise UsageError(
            "autolog needs the openai package, which is not installed. Install it with "
            "`pip install 'tunelog[openai]'` (or `pip install openai`)."
        ) from exc
    from tunelog.integration.openai import legacy
    from tunelog.integration.openai.patches import Patcher

    patcher = Patcher()
    if legacy.is_legacy(openai):
        legacy.install(patcher, openai)
    else:
        patcher.install()
    return patcher


def _warm_prices() -> None:
    try:
        import genai_prices  # noqa: F401
    except ImportError:
        log.debug("genai-prices is not installed; calls are recorded without cost")


autolog = Autolog()
