"""Serving the dashboard: :func:`serve` (blocking) and :func:`check_host` (loopback unless allowed).

Prompts and training data are sensitive and the dashboard has no authentication yet, so a
non-loopback host is refused unless the caller explicitly allows remote access.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import webbrowser

from tunelog.errors import UsageError
from tunelog.settings import Settings
from tunelog.web.security import LOOPBACK_NAMES

log = logging.getLogger("tunelog")
DEFAULT_PORT = 8765


def is_loopback(host: str) -> bool:
    if host.strip("[]") in ("localhost", "::1"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> list[str]:
    """The host names the app should answer to for ``host``.

    Raises:
        UsageError: ``host`` is not a loopback address and ``allow_remote`` is False.
    """
    if is_loopback(host):
        return list(LOOPBACK_NAMES)
    if not allow_remote:
        raise UsageError(
            f"Refusing to serve the dashboard on {host!r}: it shows prompts and training data and has no "
            "authentication yet. Serve on 127.0.0.1 (the default) and use an SSH tunnel, or pass "
            "--allow-remote if everyone who can reach this address may see everything."
        )
    log.warning(
        "tunelog ui: serving on %s with NO authentication: anyone who can reach it sees all runs, prompts "
        "and datasets, and can edit or delete runs. Use it only on a trusted network.",
        host,
    )
    return ["*"]


def url_for(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    open_browser: bool = False,
    allow_remote: bool = False,
) -> None:
    """Serve the dashboard for ``settings``' data until interrupted (Ctrl-C).

    Raises:
        UsageError: a non-loopback ``host`` without ``allow_remote``.
    """
    import uvicorn

    from tunelog.api import Api
    from tunelog.web.app import create_app

    hosts = check_host(host, allow_remote)
    app = create_app(Api(settings=settings), settings, allowed_hosts=hosts)
    url = url_for(host, port)
    print(f"tunelog dashboard: {url}  (data: {settings.dir}; Ctrl-C to stop)", flush=True)
    if open_browser:
        threading.Timer(0.8, lambda: webbrowser.open(url)).start()
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
