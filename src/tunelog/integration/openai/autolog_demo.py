"""The autolog part of ``tunelog demo``: real SDK calls against the simulator, recorded by autolog,
so the dashboard's trace table and timeline have something to show."""

from __future__ import annotations

import asyncio
from typing import Any

from tunelog.integration.openai.autolog import autolog
from tunelog.settings import Settings
from tunelog.tracing import trace

PROJECT = "tunelog-demo"
_TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def run_autolog_demo(settings: Settings, sim: Any) -> str:
    """Make autologged calls against ``sim`` (a running :class:`~tunelog.simulator.server.Simulator`):
    chat, streaming, tool calls, embeddings, the Responses API, an error, async calls, and calls to
    every fine-tuned model the simulator has produced. Returns the path of the run they went to."""
    import openai

    run = autolog(
        {
            "project": PROJECT,
            "job_type": "inference",
            "dir": str(settings.dir),
            "entity": settings.entity,
            "tags": ["demo", "autolog"],
        },
        stream_usage_hosts=[sim.base],
        quiet=True,
    )
    if run is None:  # TUNELOG_MODE=disabled
        return ""
    try:
        client = openai.OpenAI(base_url=sim.url, api_key="sk-demo", max_retries=0)
        questions = ["What is the capital of France?", "Explain fine-tuning in one sentence."]
        with trace("answer-questions", n=len(questions)):
            for q in questions:
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": q}])
        with trace("stream-a-story"):
            for _ in client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "Tell a short story."}],
                stream=True,
            ):
                pass
        with trace("weather-agent", kind="agent"):
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "What's the weather in Paris?"}],
                tools=_TOOLS,
                tool_choice="required",
            )
        client.embeddings.create(model="text-embedding-3-small", input=["tunelog", "autolog"])
        client.responses.create(model="gpt-4o-mini", input="Summarise tunelog in five words.")
        try:
            client.chat.completions.create(
                model="no-such-model", messages=[{"role": "user", "content": "hi"}]
            )
        except openai.OpenAIError:
            pass  # recorded as an error span; the demo goes on
        for model in _fine_tuned_models(client):
            with trace("try-fine-tuned-model", model=model):
                client.chat.completions.create(model=model, messages=[{"role": "user", "content": "2+2?"}])

        async def concurrent() -> None:
            async with openai.AsyncOpenAI(base_url=sim.url, api_key="sk-demo", max_retries=0) as ac:
                await asyncio.gather(
                    *(
                        ac.chat.completions.create(
                            model="gpt-4o-mini", messages=[{"role": "user", "content": f"Fact #{i}"}]
                        )
                        for i in range(3)
                    )
                )

        with trace("async-batch"):
            asyncio.run(concurrent())
        return run.path
    finally:
        autolog.disable()


def _fine_tuned_models(client: Any) -> list[str]:
    models = []
    for job in client.fine_tuning.jobs.list(limit=20):
        if job.status == "succeeded" and job.fine_tuned_model:
            models.append(job.fine_tuned_model)
    return models[:3]
