"""The mapped journal (tunelog.mapped_journal): batches the caller's thread journalled are replayed by
the next process once their owner is gone; halves, generations, torn records and others' files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import tunelog
from tunelog import mapped_journal, spool
from tunelog.mapped_journal import HALF, MappedJournal, read_records, recover
from tunelog.store.base import WriteBatch

from .journal_kit import KEY, journal_env, journal_store, steps_batch, stored_steps


def _append(journal: MappedJournal, batch: WriteBatch) -> None:
    with journal.lock:
        assert journal.append_batch(batch)


def _batch(payload: bytes) -> WriteBatch:
    """A batch record's payload: tag, the calls it covers, the batch as tunelog.spool encodes it."""
    assert payload[:1] == b"B"
    return spool.decode(payload[9:])


def test_records_read_back_in_order_across_a_swap_and_a_released_half_is_not(tmp_path: Path) -> None:
    j = MappedJournal(tmp_path / "spool")
    _append(j, steps_batch(0, 2))
    with j.lock:
        old = j.rotate()
    _append(j, steps_batch(2, 2))
    data = j.path.read_bytes()
    assert [_batch(p).steps[KEY][0][0] for p in read_records(data)] == [0, 2]
    assert old is not None
    j.release(old)  # committed: its records are never read again
    assert [_batch(p).steps[KEY][0][0] for p in read_records(j.path.read_bytes())] == [2]
    j.close()
    assert not j.path.exists()


def test_records_left_from_a_half_s_earlier_use_are_not_read(tmp_path: Path) -> None:
    j = MappedJournal(tmp_path / "spool")
    for first in range(0, 30, 3):  # many records in half 0
        _append(j, steps_batch(first, 3))
    with j.lock:
        j.release(j.rotate() or 0)
    _append(j, steps_batch(100, 1))  # half 1
    with j.lock:
        j.release(j.rotate() or 0)
    _append(j, steps_batch(200, 1))  # half 0 again: only this one, not the ten before it
    got = [_batch(p).steps[KEY][0][0] for p in read_records(j.path.read_bytes())]
    assert got == [200]
    j.close()


def test_a_torn_record_ends_the_half(tmp_path: Path) -> None:
    j = MappedJournal(tmp_path / "spool")
    _append(j, steps_batch(0, 1))
    _append(j, steps_batch(1, 1))
    data = bytearray(j.path.read_bytes())
    second = 24 + 8 + len(read_records(bytes(data))[0])  # the half's header and ids base, the first frame
    data[second + 8 + 3] ^= 0xFF  # a byte of the second record, as if the process died writing it
    assert len(read_records(bytes(data))) == 1
    j.close()


def test_a_call_record_reads_back_with_the_ids_its_number_gives_it(tmp_path: Path) -> None:
    j, other = MappedJournal(tmp_path / "spool"), MappedJournal(tmp_path / "spool")
    with j.lock:
        assert j.append_call(7, b"openai", 10, 25, b"req_1", b"[meta]", b"{req}", b"{resp}")
        assert not j.append_call(1 << 32, b"openai", 0, 0, b"", b"", b"", b"")  # past 32 bits: refused
    ((ids, payload),) = mapped_journal._read(j.path.read_bytes())
    kind, record = mapped_journal._call_record(ids, payload)
    assert kind == b"openai"
    assert record == mapped_journal.CallRecord(
        7, *mapped_journal.call_ids(j.ids, 7), 10, 25, b"req_1", b"[meta]", b"{req}", b"{resp}"
    )
    span_id, trace_id = record.span_id, record.trace_id
    assert (len(span_id), len(trace_id)) == (16, 32) and int(span_id, 16) and int(trace_id, 16)
    # Numbered alike, two journals' calls get different ids (each journal's base is random).
    assert set(mapped_journal.call_ids(other.ids, 7)).isdisjoint({span_id, trace_id})
    assert mapped_journal.call_ids(j.ids, 8)[0] != span_id
    j.close()
    other.close()


def test_a_journal_of_a_format_this_tunelog_does_not_read_is_refused_plainly(tmp_path: Path) -> None:
    j = MappedJournal(tmp_path / "spool")
    _append(j, steps_batch(0, 1))
    data = bytearray(j.path.read_bytes())
    data[4:8] = (2).to_bytes(4, "little")  # a development build's format
    with pytest.raises(ValueError, match="format 2, which this tunelog does not read"):
        read_records(bytes(data))
    j.close()


def test_a_full_half_refuses_the_record(tmp_path: Path) -> None:
    j = MappedJournal(tmp_path / "spool")
    with j.lock:
        assert not j.append((b"x" * HALF,))
        assert j.append((b'["ok"]',))
    j.close()


def test_a_live_journal_is_left_alone_and_a_dead_one_replayed_once(tmp_path: Path) -> None:
    store = journal_store(tmp_path)
    j = MappedJournal(tmp_path / "spool")
    _append(j, steps_batch(0, 3))
    assert recover(store, tmp_path / "spool") == 0  # its owner (this process) holds the lock
    assert stored_steps(store) == []
    path = j.path
    j.forget()  # as if the process had died: the lock goes with its descriptor
    assert recover(store, tmp_path / "spool") == 1
    assert stored_steps(store) == [0, 1, 2]
    assert not path.exists()
    assert recover(store, tmp_path / "spool") == 0


def test_a_journal_others_can_write_is_never_read(tmp_path: Path) -> None:
    store = journal_store(tmp_path)
    j = MappedJournal(tmp_path / "spool")
    _append(j, steps_batch(0, 1))
    j.forget()
    os.chmod(j.path, 0o666)
    assert recover(store, tmp_path / "spool") == 0
    assert stored_steps(store) == []


def test_queued_calls_are_built_on_the_caller_s_thread_as_the_next_call_starts(tl_dir: Path) -> None:
    run = tunelog.init(project="mapped", id="starts")
    writer = run.writer
    here = threading.current_thread()
    ran: list[tuple[int, threading.Thread]] = []

    def make(step: int) -> Callable[[WriteBatch], None]:  # what a recorded call queues
        def fn(batch: WriteBatch) -> None:
            ran.append((step, threading.current_thread()))
            batch.steps.setdefault(run.key, []).append((step, 1.0, {"n": step}))

        return fn

    tunelog.flush()  # the writer has just drained: it is not woken again for a tenth of a second
    for step in range(5):
        writer.build(make(step))
        time.sleep(0.0005)
    assert not [s for s, thread in ran if thread is here]  # queueing a call builds nothing
    writer.build_due()  # the sixth call starts: the five queued are built here, in order
    assert [s for s, thread in ran if thread is here] == list(range(5))
    run.finish()
    assert [int(r["n"]) for r in tunelog.Api().run("mapped/starts").history(keys=["n"])] == list(range(5))


_KILLED = textwrap.dedent("""
    import os, time, tunelog
    run = tunelog.init(project="mapped", id="victim")
    w = run.writer
    # What autolog's calls do: queue builders; every few the caller's thread builds and journals.
    def make(step):
        def fn(batch):
            batch.steps.setdefault(run.key, []).append((step, 1.0, {"n": step}))
        return fn
    for step in range(60):
        w.build_due()  # as a call starts
        w.build(make(step))
        time.sleep(0.0003)  # a call's own time (a tight loop builds a millisecond's worth at once)
    os._exit(0)  # no exit handler, no flush, the writer had no reason to commit yet
""")


def test_what_the_caller_journalled_survives_os_exit(tl_dir: Path) -> None:
    subprocess.run([sys.executable, "-c", _KILLED], env=journal_env(tl_dir), check=True, timeout=60)
    assert list((tl_dir / "spool").glob(f"*{mapped_journal.SUFFIX}"))
    run = tunelog.Api().run("mapped/victim")  # opening the directory replays the journals
    steps = sorted(int(r["_step"]) for r in run.history(keys=["n"]))
    # Built and journalled five at a time on the caller's thread: at most the last five are lost.
    assert steps == list(range(len(steps))) and len(steps) >= 55
    assert not list((tl_dir / "spool").glob(f"*{mapped_journal.SUFFIX}"))
