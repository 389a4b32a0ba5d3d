"""Run the simulator: in a background thread (:class:`Simulator`) or in the foreground (:func:`serve`)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

from tunelog.simulator.faults import Faults
from tunelog.simulator.state import Clock, SimState, new_state

_START_TIMEOUT_S = 15.0


def _config(app: Any, *, host: str, port: int) -> Any:
    import uvicorn

    # Access logs cost more than a simulated request; lifespan is unused; "auto" picks httptools and
    # uvloop when installed (faster), else h11 and asyncio.
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="auto",
        loop="auto",
        # uvicorn closes a connection idle for 5 s; a client that picks that connection from its pool
        # at that moment gets a read error (the SDK retries it, a client with max_retries=0 fails).
        # Clients of a busy process (many threads and tasks) leave connections idle that long.
        timeout_keep_alive=75,
    )


class _Running:
    """The bases (``http://127.0.0.1:PORT``) of the simulators running in this process."""

    bases: set[str] = set()  # noqa: RUF012  (the registry is this class; no instances)
    lock = threading.Lock()


def serves(base_url: str) -> bool:
    """Whether ``base_url`` (``http://127.0.0.1:PORT/v1`` or an Azure endpoint) points at a simulator
    running in this process; autolog asks such servers for streaming usage on the caller's behalf."""
    url = str(base_url).rstrip("/")
    with _Running.lock:
        return any(url == b or url.startswith(b + "/") for b in _Running.bases)


class Simulator:
    """A real OpenAI/Azure OpenAI HTTP server on a free loopback port, in a background thread.

    Args:
        speed: simulated seconds per real second; 1000 finishes a small fine-tune in ~50 ms.
        seed: seeds ids, training curves, fault rates and generated text, for reproducible runs.
        port: 0 picks a free port.
        host: interface to bind; keep the loopback default unless other machines must reach it.
        api_key: if given, only this key is accepted (any non-empty key otherwise).

    Example:
        >>> with Simulator(speed=1000) as sim:                      # doctest: +SKIP
        ...     client = openai.OpenAI(base_url=sim.url, api_key="sk-test")
    """

    def __init__(
        self,
        speed: float = 1.0,
        seed: int = 0,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        api_key: str | None = None,
    ) -> None:
        from tunelog.simulator.app import create_app

        self.state: SimState = new_state(speed=speed, seed=seed, api_key=api_key)
        self.app = create_app(self.state)
        self.host = host
        self._port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._registered = ""

    # -- addresses ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("The simulator is not running; use `with Simulator() as sim:` or sim.start().")
        return self._port

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``, the server root."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The OpenAI base URL (``…/v1``): ``openai.OpenAI(base_url=sim.url, api_key="sk-test")``."""
        return self.base + "/v1"

    @property
    def azure_endpoint(self) -> str:
        """For ``openai.AzureOpenAI(azure_endpoint=sim.azure_endpoint, api_key=..., api_version=...)``."""
        return self.base

    @property
    def faults(self) -> Faults:
        """Fault injection (see :mod:`tunelog.simulator.faults`)."""
        return self.state.faults

    @property
    def clock(self) -> Clock:
        """The simulated clock; ``sim.clock.advance(3600)`` jumps an hour ahead."""
        return self.state.clock

    # -- running -----------------------------------------------------------------------------
    def start(self) -> Simulator:
        """Start serving in a daemon thread; returns once the server accepts connections."""
        if self._server is not None:
            return self
        import uvicorn

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto says
        # TCP, and without it every keep-alive response waits ~40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._port))
        except OSError as exc:
            sock.close()
            raise OSError(
                f"Could not bind the simulator to {self.host}:{self._port}: {exc}. Pass port=0 for any."
            ) from exc
        self._port = sock.getsockname()[1]
        server = uvicorn.Server(_config(self.app, host=self.host, port=self._port))
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="tunelog-simulator", daemon=True
        )
        self._server, self._thread, self._sock = server, thread, sock
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    "The simulator did not start within 15 s; run `tunelog simulator` to see its log."
                )
            time.sleep(0.002)
        self._registered = self.base
        with _Running.lock:
            _Running.bases.add(self._registered)
        return self

    def stop(self) -> None:
        """Stop the server and wait for its thread (open connections are closed)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        with _Running.lock:
            _Running.bases.discard(self._registered)
        server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
        self._sock.close()
        self._server = self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base if self._server is not None else "not running"
        return f"<Simulator {where} speed={self.state.clock.speed:g} seed={self.state.seed}>"


def serve(
    port: int = 8787,
    host: str = "127.0.0.1",
    speed: float = 1.0,
    seed: int = 0,
    *,
    api_key: str | None = None,
) -> None:
    """Serve the simulator in the foreground until interrupted (``tunelog simulator`` calls this)."""
    import uvicorn

    from tunelog.simulator.app import create_app

    app = create_app(new_state(speed=speed, seed=seed, api_key=api_key))
    shown = f"[{host}]" if ":" in host else host
    print(
        f"tunelog simulator on http://{shown}:{port}\n"
        f"  OpenAI:  OPENAI_BASE_URL=http://{shown}:{port}/v1 OPENAI_API_KEY=sk-test\n"
        f"  Azure:   AZURE_OPENAI_ENDPOINT=http://{shown}:{port} OPENAI_API_VERSION=2024-10-21\n"
        f"  Faults:  POST http://{shown}:{port}/_admin/faults   (speed={speed:g}, seed={seed})",
        flush=True,
    )
    uvicorn.Server(_config(app, host=host, port=port)).run()
