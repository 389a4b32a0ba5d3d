"""Request checks for the dashboard, as one ASGI middleware.

- **Host**: only names the server was meant to be reached by are served (a DNS-rebinding page on
  ``evil.example`` that resolves to 127.0.0.1 gets 421, so it cannot read prompts or data).
- **Origin**: a request that can change something (anything but GET/HEAD/OPTIONS) must come from the
  dashboard's own origin. Browsers send ``Origin`` (and ``Sec-Fetch-Site``) on such requests; a
  cross-site one is refused with 403. Tools such as curl send neither and are let through: cross-site
  request forgery needs a browser.
- **Headers**: a Content-Security-Policy that allows only our own scripts, no framing, no sniffing.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def _host_name(host: str) -> str:
    """``"localhost:8765"`` → ``"localhost"``; ``"[::1]:80"`` → ``"[::1]"``."""
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class SecurityMiddleware:
    """Host allow-list, same-origin check for state-changing requests, and security headers.

    Args:
        app: the wrapped ASGI app.
        allowed_hosts: host names (without port) the app answers to; ``["*"]`` answers any.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self.allowed = {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if "*" not in self.allowed and _host_name(host).lower() not in self.allowed:
            await _refuse(
                send,
                421,
                f"This tunelog dashboard does not answer to the host {host!r}. Open it at one of: "
                f"{', '.join(sorted(self.allowed))}.",
            )
            return
        if scope["method"] not in SAFE_METHODS:
            problem = cross_site_problem(headers, host)
            if problem:
                await _refuse(send, 403, problem)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ]
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in extra if h[0] not in have]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cross_site_problem(headers: dict[str, str], host: str) -> str | None:
    """Why a state-changing request looks cross-site, or None if it is fine."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return (
            f"Refused a {site} request: the dashboard only accepts changes from its own pages. "
            "Open the dashboard itself to edit runs, views and reports."
        )
    origin = headers.get("origin")
    if origin is None:
        return None
    parts = urlsplit(origin)
    if origin == "null" or parts.netloc.lower() != host.lower():
        return (
            f"Refused a cross-site request from {origin!r}: the dashboard only accepts changes from "
            "its own pages. Open the dashboard itself to edit runs, views and reports."
        )
    return None


async def _refuse(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
