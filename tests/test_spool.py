"""The writer's journal (tunelog.spool): a killed process's last calls and steps are replayed by the
next process that opens the data directory; live journals, torn records and others' files are safe."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

import tunelog
from tunelog import spool
from tunelog.store.base import RunEvent, SpanRecord, WriteBatch

from .journal_kit import KEY, journal_env, journal_store, steps_batch, stored_steps


def _span(span_id: str, inputs: object = None) -> SpanRecord:
    return SpanRecord(span_id, "t" * 32, None, KEY, "step", "chain", 1.0, 2.0, "ok", inputs=inputs)


_KILLED = textwrap.dedent("""
    import os, sys, time, tunelog
    run = tunelog.init(project="journal", id="victim")
    for step in range(300):
        run.log({"loss": 1.0 / (step + 1)})
    while run.writer.pending:  # taken by the writer: journalled at once, committed later
        time.sleep(0.001)
    time.sleep(0.01)  # the last batch taken is journalled a few microseconds later
    os._exit(0)  # no exit handler, no flush
""")


def test_a_process_ended_by_os_exit_loses_nothing_it_journalled(tl_dir: Path) -> None:
    subprocess.run([sys.executable, "-c", _KILLED], env=journal_env(tl_dir), check=True, timeout=120)
    r = tunelog.Api().run("journal/victim")  # opening the directory replays the journal
    assert [row["_step"] for row in r.history(keys=["loss"])] == list(range(300))
    assert r.state == "crashed"
    assert not list((tl_dir / "spool").glob("*.spool"))


_SIGKILLED = textwrap.dedent("""
    import sys, time, tunelog
    run = tunelog.init(project="journal", id="victim")
    for step in range(200):
        run.log({"loss": 1.0 / (step + 1)})
    while run.writer.pending:
        time.sleep(0.001)
    time.sleep(0.01)
    print("logged", flush=True)
    time.sleep(60)
""")


def test_sigkill_then_the_next_process_replays(tl_dir: Path) -> None:
    p = subprocess.Popen(
        [sys.executable, "-c", _SIGKILLED], env=journal_env(tl_dir), stdout=subprocess.PIPE, text=True
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "logged"
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    code = "import tunelog; print(len(tunelog.Api().run('journal/victim').history(keys=['loss'])))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=journal_env(tl_dir), capture_output=True, text=True
    )
    assert out.stdout.strip() == "200", out.stderr


def test_a_normal_exit_leaves_no_journal(tl_dir: Path) -> None:
    code = "import tunelog; run = tunelog.init(project='journal'); run.log({'loss': 1.0})"
    subprocess.run([sys.executable, "-c", code], env=journal_env(tl_dir), check=True, timeout=120)
    assert not list((tl_dir / "spool").glob("*.spool"))


def test_replay_in_one_transaction_then_the_file_is_gone(tmp_path: Path) -> None:
    store = journal_store(tmp_path / "d")
    s = spool.Spool(tmp_path / "d" / "spool")
    s.append(steps_batch(0, 10))
    s.append(WriteBatch(spans=[_span("a1")]))
    path = next((tmp_path / "d" / "spool").glob("*.spool"))
    s.abandon()  # as a dead owner's: unlocked
    assert spool.recover(store, tmp_path / "d" / "spool") == 2
    assert stored_steps(store) == list(range(10))
    assert store.get_span("tester", "journal", "a1") is not None
    assert not path.exists()


def test_a_torn_last_record_is_skipped_and_the_rest_replayed(tmp_path: Path) -> None:
    store = journal_store(tmp_path / "d")
    s = spool.Spool(tmp_path / "d" / "spool")
    s.append(steps_batch(0, 5))
    s.append(steps_batch(5, 5))
    path = next((tmp_path / "d" / "spool").glob("*.spool"))
    s.abandon()
    whole = path.read_bytes()
    first = 8 + struct.unpack_from("<II", whole)[0]
    path.write_bytes(whole + whole[: first - 3])  # a third record cut short by the kill
    batches, complete = spool.read_batches(path.read_bytes())
    assert len(batches) == 2 and not complete
    spool.recover(store, tmp_path / "d" / "spool")
    assert stored_steps(store) == list(range(10))


def test_a_live_journal_is_left_alone(tmp_path: Path) -> None:
    d = tmp_path / "d"
    store = journal_store(d)
    holder = textwrap.dedent(f"""
        import sys
        from tunelog.spool import Spool
        from tunelog.store.base import RunKey, WriteBatch
        s = Spool(__import__("pathlib").Path({str(d / "spool")!r}))
        key = RunKey("tester", "journal", "r1")
        s.append(WriteBatch(steps={{key: [(0, 1.0, {{"loss": 1.0}})]}}))
        print("held", flush=True)
        sys.stdin.readline()
    """)
    p = subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    assert spool.recover(store, d / "spool") == 0  # its owner lives: not replayed, not removed
    assert len(list((d / "spool").glob("*.spool"))) == 1
    p.kill()
    p.wait(timeout=30)
    assert spool.recover(store, d / "spool") == 1  # now the owner is gone
    assert stored_steps(store) == [0]


def test_two_recoverers_replay_each_journal_once(tmp_path: Path) -> None:
    d = tmp_path / "d"
    store = journal_store(d)
    for i in range(6):
        s = spool.Spool(d / "spool")
        s.append(WriteBatch(events={KEY: [RunEvent(1.0, "info", f"e{i}", None, None)]}))
        s.abandon()
    code = textwrap.dedent(f"""
        from pathlib import Path
        from tunelog.spool import recover
        from tunelog.store import open_store
        print(recover(open_store("sqlite:///{d / "tunelog.db"}"), Path({str(d / "spool")!r})))
    """)
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    counts = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(counts) == 6
    assert len(store.read_events(KEY)) == 6  # events without a source id would show a second replay


def test_a_journal_others_can_write_is_never_read(tmp_path: Path) -> None:
    d = tmp_path / "d"
    store = journal_store(d)
    s = spool.Spool(d / "spool")
    s.append(steps_batch(0, 3))
    path = next((d / "spool").glob("*.spool"))
    s.abandon()
    path.chmod(0o666)
    assert spool.recover(store, d / "spool") == 0
    assert path.exists() and stored_steps(store) == []


def test_a_record_tunelog_did_not_write_is_refused_and_set_aside(tmp_path: Path) -> None:
    d = tmp_path / "d"
    store = journal_store(d)
    good = spool.Spool(d / "spool")
    good.append(steps_batch(0, 2))
    good.abandon()
    bad = d / "spool" / "0-bad.spool"
    payload = b"[99, [], [], [], [], []]"  # a format this tunelog does not know
    bad.write_bytes(struct.pack("<II", len(payload), zlib.crc32(payload)) + payload)
    bad.chmod(0o600)
    with pytest.raises(spool.JournalError, match="format 99"):
        spool.recover(store, d / "spool")
    assert stored_steps(store) == [0, 1]  # the good one was still replayed
    assert (d / "spool" / "0-bad.unreadable").exists()
    assert spool.recover(store, d / "spool") == 0  # set aside: not tried again


def test_a_record_round_trips(tmp_path: Path) -> None:
    batch = WriteBatch(
        steps={KEY: [(3, 1.5, {"loss": 0.25, "note": "x"})]},
        run_updates={KEY: {"summary": {"loss": 0.25}, "tags": ["a"]}},
        events={KEY: [RunEvent(1.0, "info", "hello", {"n": 1}, "ev-1")]},
        spans=[_span("s1", {"messages": [{"role": "user", "content": "hi"}]})],
    )
    back = spool.decode(spool.encode(batch))
    assert back.steps == batch.steps and back.run_updates == batch.run_updates
    assert back.events == batch.events and back.spans == batch.spans


def test_values_json_cannot_hold_are_journalled_as_the_store_writes_them(tmp_path: Path) -> None:
    pydantic = pytest.importorskip("pydantic")

    class Reply(pydantic.BaseModel):
        text: str

    class Scalar:  # a numpy or torch 0-d value
        ndim = 0

        def item(self) -> float:
            return 0.5

    d = tmp_path / "d"
    store = journal_store(d)
    s = spool.Spool(d / "spool")
    inputs = {"messages": [Reply(text="hi")], "response_format": Reply, "fn": lambda: 1}
    s.append(WriteBatch(spans=[_span("p1", inputs)], steps={KEY: [(0, 1.0, {"loss": Scalar()})]}))
    s.abandon()
    spool.recover(store, d / "spool")
    span = store.get_span("tester", "journal", "p1")
    assert span is not None and span.inputs["messages"] == [{"text": "hi"}]
    assert (
        span.inputs["response_format"]
        == "test_values_json_cannot_hold_are_journalled_as_the_store_writes_them.<locals>.Reply"
    )
    assert stored_steps(store) == [0] and store.read_history(KEY, ["loss"])[0].value == 0.5


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_journals_to_a_file_of_its_own(tmp_path: Path) -> None:
    d = tmp_path / "d"
    store = journal_store(d)
    s = spool.Spool(d / "spool")
    s.append(steps_batch(0, 2))
    pid = os.fork()
    parent_fd = s._fd
    if pid == 0:  # the child: its own file; the parent's stays as it is
        try:
            s.append(steps_batch(2, 2))
            # ...and it no longer holds the parent's descriptor: were the parent to die first, its
            # journal would look alive (locked) for as long as the child lived.
            try:
                os.fstat(parent_fd)
                os._exit(2 if parent_fd != s._fd else 0)
            except OSError:
                os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    files = sorted((d / "spool").glob("*.spool"))
    assert len(files) == 2
    assert spool.recover(store, d / "spool") == 1  # the child's (dead); the parent's is locked
    assert stored_steps(store) == [2, 3]
    s.abandon()
    assert spool.recover(store, d / "spool") == 1
    assert stored_steps(store) == [0, 1, 2, 3]


def test_what_the_store_refuses_is_left_journalled_for_the_next_process(tmp_path: Path) -> None:
    from tunelog.writer import FailureCounter, Writer

    d = tmp_path / "d"
    store = journal_store(d)
    store.close()  # every commit now fails: big drains, held batches and the flush's batch alike
    writer = Writer(store, FailureCounter(), journal_dir=d / "spool")
    for step in range(3000):
        writer.log(KEY, step, {"loss": 1.0 / (step + 1)}, 1.0 + step)
    writer.flush(30)
    writer.close(30)
    assert writer.failures.count >= 1
    assert spool.recover(journal_store(d), d / "spool") >= 1
    assert stored_steps(journal_store(d)) == list(range(3000))
