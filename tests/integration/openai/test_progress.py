"""What sync shows while it follows jobs: Rich bars on a terminal, whole plain lines elsewhere."""

from __future__ import annotations

import io
import threading

from rich.console import Console

from tunelog.integration.openai.progress import Bars, Lines, Silent, reporter_for


def test_bars_show_status_steps_and_loss() -> None:
    out = io.StringIO()
    bars = Bars(Console(file=out, force_terminal=True, width=140))
    bars.start()
    bars.job("ftjob-abc", "running", 3, 10, 0.5)
    bars.job("ftjob-abc", "succeeded", 10, 10, 0.1234)
    bars.line("synced ftjob-abc")
    bars.stop()
    text = out.getvalue()
    assert "ftjob-abc" in text and "succeeded" in text and "10/10" in text and "loss 0.1234" in text
    assert "synced ftjob-abc" in text


def test_plain_lines_from_many_threads_stay_whole() -> None:
    out = io.StringIO()
    lines = Lines(out)
    threads = [
        threading.Thread(
            target=lambda i=i: [lines.job(f"ftjob-{i}", s, None, None, None) for s in ("a", "b")]
        )
        for i in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = out.getvalue().splitlines()
    assert len(got) == 40 and all(line.startswith("ftjob-") and line.count(":") == 1 for line in got)


def test_reporter_choice() -> None:
    assert isinstance(reporter_for(False), Silent)
    assert isinstance(reporter_for(None, io.StringIO()), Silent)  # not a terminal, not asked
    assert isinstance(reporter_for(True, io.StringIO()), Lines)
