"""Calls journalled as the SDK's HTTP bytes (tunelog.integration.openai.call_records): which calls
are, and the span a dead process's record becomes is the span the live process built."""

# ruff: noqa: F811  (pytest fixtures imported from autolog_kit are used as arguments)

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

import tunelog
from tunelog import mapped_journal
from tunelog.integration.openai import call_records
from tunelog.mapped_journal import CallRecord
from tunelog.simulator.server import Simulator
from tunelog.store import open_store
from tunelog.store.base import SpanRecord
from tunelog.store.json_columns import plain

from .autolog_kit import MSGS, al, azure, client, sim, spans  # noqa: F401


@pytest.fixture
def journalled(monkeypatch: pytest.MonkeyPatch) -> list[CallRecord]:
    """Every call record journalled from now on, as recovery would read it back (the writer empties
    the journal's halves as it commits, so the file may no longer hold them)."""
    got: list[CallRecord] = []
    append = mapped_journal.MappedJournal.append_call

    def spy(self: Any, seq: int, kind: bytes, *fields: Any) -> bool:
        ok = append(self, seq, kind, *fields)
        if ok and kind == call_records.KIND:
            got.append(CallRecord(seq, *mapped_journal.call_ids(self.ids, seq), *fields))
        return ok

    monkeypatch.setattr(mapped_journal.MappedJournal, "append_call", spy)
    return got


def _same(live: SpanRecord, recovered: SpanRecord) -> None:
    assert recovered.span_id == live.span_id
    assert (recovered.trace_id, recovered.parent_id, recovered.run) == (
        live.trace_id,
        live.parent_id,
        live.run,
    )
    assert (recovered.name, recovered.kind, recovered.status, recovered.model) == (
        live.name,
        live.kind,
        live.status,
        live.model,
    )
    assert recovered.start_time == pytest.approx(live.start_time, abs=1e-5)
    assert recovered.end_time == pytest.approx(live.end_time, abs=1e-5)
    assert plain(recovered.outputs) == live.outputs
    assert recovered.usage == live.usage
    assert recovered.cost_usd == live.cost_usd
    assert recovered.attributes == live.attributes
    # The live span lists the call's keyword arguments, the recovered one the JSON body sent.
    inputs = plain(recovered.inputs)
    assert {k: v for k, v in live.inputs.items() if k in inputs} == inputs
    assert inputs["model"] == live.inputs["model"]


def test_a_recovered_call_record_is_the_span_built_live(
    tl_dir: Path, sim: Simulator, al: Any, journalled: list[CallRecord]
) -> None:
    c = client(sim)
    with tunelog.trace("job"):
        c.chat.completions.create(model="gpt-4o-mini", messages=MSGS, temperature=0.2, timeout=30)
        c.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi")
        c.responses.create(model="gpt-4o-mini", input="Say hello")
    azure(sim).chat.completions.create(model="my-deployment", messages=MSGS)
    records = journalled
    assert len(records) == 4
    live = {s.span_id: s for s in spans() if s.kind == "llm"}
    store = open_store(f"sqlite:///{tl_dir / 'tunelog.db'}")
    # Were this process dead, the next would find them committed already, and skip them all.
    assert call_records.recover(store, [], records).spans == []
    rebuilt = _rebuilt(store, records)  # and had it died before committing them: these
    assert len(rebuilt) == 4
    for span in rebuilt:
        _same(live[span.span_id], span)


def _rebuilt(store: Any, records: list[CallRecord]) -> list[SpanRecord]:
    """Rebuild the records as if none of them had been committed (a view of the store without them)."""

    class Unseen:
        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def get_span(self, entity: str, project: str, span_id: str) -> SpanRecord | None:
            return None

    batch = call_records.recover(Unseen(), [], records)  # type: ignore[arg-type]
    return batch.spans


def test_which_calls_are_journalled_as_bytes(
    tl_dir: Path, sim: Simulator, al: Any, journalled: list[CallRecord]
) -> None:
    c = client(sim)
    c.chat.completions.create(model="gpt-4o-mini", messages=MSGS)  # yes
    for _ in c.chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True):  # no: a stream
        pass
    c.embeddings.create(model="text-embedding-3-small", input="hi")  # no: vectors
    c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSGS)  # no: a raw response
    with pytest.raises(openai.NotFoundError):  # no: an error
        c.chat.completions.create(model="no-such-model", messages=MSGS)
    assert len(journalled) == 1
    assert len(spans()) == 5


@pytest.mark.parametrize("option", [{"redact": lambda span: span}, {"capture_content": False}])
def test_no_call_is_journalled_as_bytes_when_its_content_is_redacted(
    tl_dir: Path, sim: Simulator, journalled: list[CallRecord], option: dict[str, Any]
) -> None:
    from tunelog.integration.openai import autolog

    autolog({"project": "al"}, quiet=True, **option)
    try:
        client(sim).chat.completions.create(model="gpt-4o-mini", messages=MSGS)
        assert journalled == []
        assert len(spans()) == 1
    finally:
        autolog.disable()


def test_a_big_exchange_goes_the_usual_way(
    tl_dir: Path, sim: Simulator, al: Any, journalled: list[CallRecord]
) -> None:
    big = [{"role": "user", "content": "x" * (call_records.MAX_BYTES + 1)}]
    client(sim).chat.completions.create(model="gpt-4o-mini", messages=big)
    assert journalled == []
    (span,) = spans()
    assert span.inputs["messages"][0]["content"] == big[0]["content"]


def test_the_exchange_is_read_through_the_public_api_of_a_client_without_httpx_s_attributes() -> None:
    import types

    call: Any = types.SimpleNamespace(raw=None)
    # An HTTP response that only has the public attributes (httpx's are read first, as the SDK's is).
    response = types.SimpleNamespace(request=types.SimpleNamespace(content=b'{"model":"m"}'), content=b"{}")
    call_records.capture(call, {"response": response, "stream": False})
    assert call.raw == (b'{"model":"m"}', b"{}")
    call_records.capture(call, {"response": object(), "stream": False})  # neither: the usual way
    assert call.raw is None
