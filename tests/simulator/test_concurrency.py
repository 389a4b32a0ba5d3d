"""Many clients at once, on threads and on asyncio: each gets its own, correct answers."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import openai

from tunelog.simulator import Simulator

from .simdata import chat_examples, finish, jsonl


def _prompt(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Client {i}: describe the number {i * 7}."}]


def test_threads_get_independent_answers(sim: Simulator, client: openai.OpenAI) -> None:
    expected = {
        i: client.chat.completions.create(model="gpt-4o-mini", messages=_prompt(i)).choices[0].message.content  # type: ignore[arg-type]
        for i in range(24)
    }

    def work(i: int) -> tuple[int, str | None, bytes, str, str]:
        own = openai.OpenAI(base_url=sim.url, api_key=f"sk-{i}", _strict_response_validation=True)
        answer = (
            own.chat.completions.create(model="gpt-4o-mini", messages=_prompt(i)).choices[0].message.content
        )  # type: ignore[arg-type]
        data = jsonl(chat_examples(10, start=i * 100))
        f = own.files.create(file=(f"t{i}.jsonl", data), purpose="fine-tune")
        job = own.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=f.id, suffix=f"c{i}")
        return i, answer, own.files.content(f.id).content, job.id, f.id

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(work, range(24)))
    finish(sim)
    for i, answer, content, job_id, file_id in results:
        assert answer == expected[i]
        assert content == jsonl(chat_examples(10, start=i * 100))
        job = client.fine_tuning.jobs.retrieve(job_id)
        assert job.training_file == file_id and job.status == "succeeded"
        assert job.fine_tuned_model and f":c{i}:" in job.fine_tuned_model
    assert len({r[3] for r in results}) == 24


async def test_asyncio_gets_independent_answers(sim: Simulator, aclient: openai.AsyncOpenAI) -> None:
    async def ask(i: int) -> str | None:
        r = await aclient.chat.completions.create(model="gpt-4o-mini", messages=_prompt(i))  # type: ignore[arg-type]
        return r.choices[0].message.content

    async def stream(i: int) -> str:
        s = await aclient.chat.completions.create(model="gpt-4o-mini", messages=_prompt(i), stream=True)  # type: ignore[arg-type]
        return "".join([c.choices[0].delta.content or "" async for c in s if c.choices])

    sequential = [await ask(i) for i in range(40)]
    together = await asyncio.gather(*(ask(i) for i in range(40)))
    streamed = await asyncio.gather(*(stream(i) for i in range(40)))
    assert list(together) == sequential == list(streamed)
    uploads = await asyncio.gather(
        *(
            aclient.files.create(file=(f"a{i}.jsonl", jsonl(chat_examples(10, start=i))), purpose="fine-tune")
            for i in range(30)
        )
    )
    contents = await asyncio.gather(*(aclient.files.content(f.id) for f in uploads))
    assert [c.content for c in contents] == [jsonl(chat_examples(10, start=i)) for i in range(30)]
