"""Every simulator response carries an ``x-request-id``; ``serves`` knows the running simulators."""

from __future__ import annotations

import httpx2
import openai

from tunelog.simulator.server import Simulator, serves


def test_every_response_has_a_request_id_errors_included() -> None:
    with Simulator(speed=1000.0) as sim:
        c = openai.OpenAI(base_url=sim.url, api_key="sk-test", max_retries=0)
        raw = c.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        assert raw.headers["x-request-id"].startswith("req_")
        assert raw.request_id == raw.headers["x-request-id"]
        other = c.models.with_raw_response.list()
        assert other.headers["x-request-id"] != raw.headers["x-request-id"]
        unauthorised = httpx2.get(sim.url + "/models")
        assert unauthorised.status_code == 401 and unauthorised.headers["x-request-id"].startswith("req_")
        try:
            c.chat.completions.create(model="gpt-4o-mini", messages=[])
        except openai.APIStatusError as exc:
            assert exc.request_id is not None and exc.request_id.startswith("req_")


def test_serves_knows_running_simulators_only() -> None:
    with Simulator(speed=1000.0) as sim:
        assert serves(sim.url) and serves(sim.base) and serves(sim.azure_endpoint + "/openai")
        assert not serves("https://api.openai.com/v1")
        base = sim.url
    assert not serves(base)
