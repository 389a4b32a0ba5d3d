"""The ``tunelog ui`` command."""

from __future__ import annotations

import sys

import click


@click.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default)."
)
@click.option("--port", type=int, default=8765, show_default=True)
@click.option(
    "--dir", "dir_", default=None, help="Data directory (default: the global --dir or TUNELOG_DIR)."
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a non-loopback --host. There is no authentication: anyone who can reach it sees everything.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in a browser.")
@click.pass_context
def ui(
    ctx: click.Context, host: str, port: int, dir_: str | None, allow_remote: bool, open_browser: bool
) -> None:
    """Serve the web dashboard: projects, runs, charts, traces, artifacts and reports."""
    from tunelog.errors import UsageError
    from tunelog.settings import Settings
    from tunelog.web.server import serve

    obj = ctx.obj or {}
    try:
        settings = Settings.resolve(dir=dir_ or obj.get("dir"), entity=obj.get("entity"))
        serve(settings, host=host, port=port, open_browser=open_browser, allow_remote=allow_remote)
    except UsageError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
