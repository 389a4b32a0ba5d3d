"""Talking to the fine-tuning API for sync: a client from the environment, retries, one-line errors.

Every call goes through :class:`FineTuneApi`, which retries what is transient (429, 5xx, timeouts,
dropped connections — also in the middle of a download) with exponential backoff, honouring
``Retry-After``, and turns what is not into a :class:`SyncError` whose message says what happened and
what to do. The SDK's own retries are switched off on the client it uses, so one policy decides.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from tunelog.errors import TunelogError

log = logging.getLogger("tunelog")
T = TypeVar("T")
DEFAULT_AZURE_API_VERSION = "2024-10-21"


class SyncError(TunelogError):
    """One job (or file) could not be synced; the message is one line saying why and what to do."""


class FatalSyncError(SyncError):
    """Nothing can be synced: the API rejects the key, or cannot be reached."""


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried: ``attempts`` in all, waiting ``backoff`` seconds after the
    first failure and doubling (with jitter) up to ``max_wait``; a server's ``Retry-After`` wins."""

    attempts: int = 6
    backoff: float = 1.0
    max_wait: float = 30.0

    def wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return float(min(self.max_wait, max(0.0, retry_after)))
        base = min(self.max_wait, self.backoff * 2**attempt)
        return float(base) * (0.75 + 0.5 * random.random())


def client_from_environment(
    environ: Mapping[str, str] | None = None,
    *,
    azure_endpoint: str | None = None,
    api_version: str | None = None,
) -> Any:
    """An ``OpenAI`` or ``AzureOpenAI`` client from the environment, as the SDK reads it.

    ``AZURE_OPENAI_ENDPOINT`` (or ``azure_endpoint``) selects Azure, with ``AZURE_OPENAI_API_KEY``
    (or ``AZURE_OPENAI_KEY``) and ``OPENAI_API_VERSION``; otherwise ``OPENAI_API_KEY`` and
    ``OPENAI_BASE_URL``.
    """
    env = os.environ if environ is None else environ
    try:
        import openai
    except ImportError:
        raise SyncError("Fine-tune sync needs the openai package: pip install 'tunelog[openai]'.") from None
    endpoint = azure_endpoint or env.get("AZURE_OPENAI_ENDPOINT")
    if endpoint:
        key = env.get("AZURE_OPENAI_API_KEY") or env.get("AZURE_OPENAI_KEY")
        token = env.get("AZURE_OPENAI_AD_TOKEN")
        if not key and not token:
            raise FatalSyncError(
                f"AZURE_OPENAI_ENDPOINT is set ({endpoint}) but no key: set AZURE_OPENAI_API_KEY, or pass "
                "openai_client=AzureOpenAI(...)."
            )
        return openai.AzureOpenAI(
            azure_endpoint=endpoint,
            api_key=key,
            azure_ad_token=token,
            api_version=api_version or env.get("OPENAI_API_VERSION") or DEFAULT_AZURE_API_VERSION,
            max_retries=0,
        )
    key = env.get("OPENAI_API_KEY")
    if not key:
        raise FatalSyncError(
            "No OpenAI credentials: set OPENAI_API_KEY (or AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY "
            "for Azure), or pass openai_client=OpenAI(...)."
        )
    return openai.OpenAI(api_key=key, base_url=env.get("OPENAI_BASE_URL") or None, max_retries=0)


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        if headers.get("retry-after"):
            return float(headers["retry-after"])
    except ValueError:
        return None
    return None


def _is_transient(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, openai.APIConnectionError):  # also APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    try:
        import httpx2
    except ImportError:  # pragma: no cover - openai 3.x always brings it
        return False
    return isinstance(exc, httpx2.TransportError)  # a connection dropped while streaming a download


def _message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    text = getattr(exc, "message", None) or str(exc)
    return " ".join(str(text).split())


class FineTuneApi:
    """The fine-tuning calls sync makes, with retries and one-line errors.

    Args:
        client: an ``openai.OpenAI`` or ``openai.AzureOpenAI``; a copy without SDK retries is used.
        retry: the retry policy.
        sleep: how to wait between attempts (tests pass a recorder).
    """

    def __init__(
        self, client: Any, retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.client = client.with_options(max_retries=0) if hasattr(client, "with_options") else client
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.where = str(getattr(client, "base_url", "the OpenAI API"))
        self.azure = type(client).__name__.startswith("AzureOpenAI")
        self.retries = 0  # how many transient failures were retried (for the report)

    # -- the retry loop ------------------------------------------------------------------------
    def call(self, what: str, fn: Callable[[], T], *, not_found: str | None = None) -> T:
        """Run ``fn`` with retries; ``what`` names it in messages, ``not_found`` is the 404 advice."""
        import openai

        attempt = 0
        while True:
            try:
                return fn()
            except Exception as exc:
                if _is_transient(exc) and attempt + 1 < self.retry.attempts:
                    wait = self.retry.wait(attempt, _retry_after(exc))
                    attempt += 1
                    self.retries += 1
                    log.info(
                        "tunelog: %s failed (%s); retry %d in %.1f s", what, _message(exc), attempt, wait
                    )
                    self.sleep(wait)
                    continue
                if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
                    raise FatalSyncError(
                        f"{self.where} rejected the API key while {what} "
                        f"({exc.status_code}: {_message(exc)}). "
                        "Set OPENAI_API_KEY (AZURE_OPENAI_API_KEY for Azure) to a valid key, or pass "
                        "openai_client=."
                    ) from None
                if isinstance(exc, openai.NotFoundError):
                    raise SyncError(
                        f"{what}: not found (404: {_message(exc)}). {not_found or ''}".strip()
                    ) from None
                if _is_transient(exc):
                    if isinstance(exc, openai.APIStatusError):
                        raise SyncError(
                            f"{what} failed {attempt + 1} times ({exc.status_code}: {_message(exc)}); "
                            "the API is overloaded or down: run tunelog sync again later."
                        ) from None
                    raise FatalSyncError(
                        f"Could not reach {self.where} while {what} ({type(exc).__name__}: {_message(exc)}), "
                        f"after {attempt + 1} attempts. Check the network and OPENAI_BASE_URL / "
                        "AZURE_OPENAI_ENDPOINT, then run tunelog sync again."
                    ) from None
                if isinstance(exc, openai.APIStatusError):
                    raise SyncError(f"{what} failed ({exc.status_code}: {_message(exc)}).") from None
                raise

    # -- calls -----------------------------------------------------------------------------------
    def job(self, job_id: str) -> Any:
        return self.call(
            f"reading fine-tuning job {job_id}",
            lambda: self.client.fine_tuning.jobs.retrieve(job_id),
            not_found=f"Check the id: `tunelog sync` without --id syncs every job that {self.where} lists.",
        )

    def jobs(self, limit: int | None = None) -> list[Any]:
        """Every job of the account (all pages), newest first; the first ``limit`` only, if given."""

        def fetch() -> list[Any]:
            out: list[Any] = []
            for job in self.client.fine_tuning.jobs.list(limit=min(100, limit or 100)):
                out.append(job)
                if limit is not None and len(out) >= limit:
                    break
            return out

        jobs = self.call("listing fine-tuning jobs", fetch)
        jobs.sort(key=lambda j: j.created_at or 0, reverse=True)
        return jobs

    def events(self, job_id: str, seen: set[str] | None = None) -> list[Any]:
        """The job's events oldest first; with ``seen``, only those newer than the seen ones."""

        def fetch() -> list[Any]:
            out: list[Any] = []
            for ev in self.client.fine_tuning.jobs.list_events(job_id, limit=100):
                if seen is not None and ev.id in seen:
                    break  # listed newest first: everything after this was fetched before
                out.append(ev)
            return out

        events = self.call(f"reading the events of job {job_id}", fetch)
        events.reverse()
        return events

    def checkpoints(self, job_id: str) -> list[Any]:
        def fetch() -> list[Any]:
            return list(self.client.fine_tuning.jobs.checkpoints.list(job_id, limit=100))

        try:
            items = self.call(f"reading the checkpoints of job {job_id}", fetch)
        except SyncError as exc:
            if "not found (404" in str(exc):
                return []  # APIs without the checkpoints route (older Azure versions)
            raise
        return sorted(items, key=lambda c: c.step_number)

    def file_info(self, file_id: str) -> Any | None:
        """The file's object, or None if it was deleted."""
        try:
            return self.call(f"reading file {file_id}", lambda: self.client.files.retrieve(file_id))
        except SyncError as exc:
            if "not found (404" in str(exc):
                return None
            raise

    def content(self, file_id: str, what: str) -> bytes:
        """A (small) file's whole content, such as a result file."""
        return self.call(
            what,
            lambda: bytes(self.client.files.content(file_id).read()),
            not_found="It may have been deleted; there is nothing to sync from it.",
        )

    def download(self, file_id: str, what: str, consume: Callable[[Iterator[bytes]], T]) -> T:
        """Stream a file into ``consume`` (called again from scratch if the connection drops)."""

        def attempt() -> T:
            with self._stream(file_id) as chunks:
                return consume(chunks)

        return self.call(
            what, attempt, not_found="It may have been deleted; run sync with log_datasets=False."
        )

    @contextmanager
    def _stream(self, file_id: str) -> Iterator[Iterator[bytes]]:
        with self.client.files.with_streaming_response.content(file_id) as response:
            yield response.iter_bytes(1 << 20)
