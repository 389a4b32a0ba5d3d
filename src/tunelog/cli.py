"""The ``tunelog`` command: a thin layer that turns library errors into messages and exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar

import click

from tunelog.errors import TunelogError, UsageError

F = TypeVar("F", bound=Callable[..., Any])


def _friendly(fn: F) -> F:
    """Library errors become one line on stderr and a non-zero exit, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UsageError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        except TunelogError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _api(ctx: click.Context) -> Any:
    from tunelog.api import Api

    return Api(dir=ctx.obj.get("dir"), entity=ctx.obj.get("entity"))


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--dir", envvar="TUNELOG_DIR", help="Data directory (default: TUNELOG_DIR or a per-user folder)."
)
@click.option(
    "--entity", envvar="TUNELOG_ENTITY", help="Default entity (default: TUNELOG_ENTITY or your user name)."
)
@click.version_option(package_name="tunelog")
@click.pass_context
def main(ctx: click.Context, dir: str | None, entity: str | None) -> None:
    """tunelog: track OpenAI API calls, fine-tunes, datasets and models, on your own machine."""
    ctx.ensure_object(dict)
    ctx.obj.update(dir=dir, entity=entity)


@main.command()
@click.option("--no-serve", is_flag=True, help="Record the demo and exit, without serving the dashboard.")
@click.option("--port", type=int, default=8765, show_default=True, help="Dashboard port.")
@click.option("--speed", type=float, default=10.0, show_default=True, hidden=True)
@click.pass_context
@_friendly
def demo(ctx: click.Context, no_serve: bool, port: int, speed: float) -> None:
    """Fine-tune, sync and call models on the built-in OpenAI simulator, then serve the dashboard."""
    from tunelog.demo import run_demo
    from tunelog.settings import Settings

    settings = Settings.resolve(dir=ctx.obj.get("dir"), entity=ctx.obj.get("entity"))
    try:
        import openai  # noqa: F401
    except ImportError:
        raise UsageError("The demo drives the openai SDK: pip install 'tunelog[openai]'.") from None
    result = run_demo(settings, speed=speed)
    click.echo(f"\nRecorded the demo into {settings.dir}")
    for path in result.fine_tune_runs:
        click.echo(f"  fine-tune run : {path}")
    if result.autolog_run:
        click.echo(f"  API calls     : {result.autolog_run}")
    click.echo(f"  tracking      : {result.train_run} (and {result.eval_run}, model {result.artifact})")
    click.echo(f"Read it back: tunelog --dir {settings.dir} runs ls {result.train_run.rsplit('/', 1)[0]}")
    if no_serve:
        return
    from tunelog.web.server import serve

    serve(settings, host="127.0.0.1", port=port)


# -- runs -------------------------------------------------------------------------------------------
@main.group()
def runs() -> None:
    """List, show, edit and delete runs."""


@runs.command("ls")
@click.argument("project")
@click.option("--filter", "filter_json", help='A filter as JSON, e.g. \'{"state": "finished"}\'.')
@click.option("--order", default="-created_at", show_default=True)
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_context
@_friendly
def runs_ls(
    ctx: click.Context, project: str, filter_json: str | None, order: str, limit: int, as_json: bool
) -> None:
    """List the runs of PROJECT ([entity/]project)."""
    try:
        filters = json.loads(filter_json) if filter_json else None
    except json.JSONDecodeError as exc:
        raise UsageError(f"--filter is not valid JSON ({exc.msg} at column {exc.colno}).") from None
    rows = _api(ctx).runs(project, filters=filters, order=order, limit=limit)
    for r in rows:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "path": r.path,
                        "name": r.name,
                        "state": r.state,
                        "job_type": r.job_type,
                        "created_at": r.created_at,
                        "tags": r.tags,
                    }
                )
            )
        else:
            click.echo(f"{r.id:<12} {r.state:<9} {_when(r.created_at)}  {r.name}  {' '.join(r.tags)}")
    if not rows and not as_json:
        click.echo("No runs.", err=True)


@runs.command("show")
@click.argument("path")
@click.pass_context
@_friendly
def runs_show(ctx: click.Context, path: str) -> None:
    """Show a run ([entity/]project/run_id) as JSON."""
    r = _api(ctx).run(path)
    click.echo(
        json.dumps(
            {
                "path": r.path,
                "name": r.name,
                "state": r.state,
                "job_type": r.job_type,
                "group": r.group,
                "tags": r.tags,
                "notes": r.notes,
                "created_at": _when(r.created_at),
                "finished_at": _when(r.finished_at),
                "config": r.config,
                "summary": r.summary,
                "url": r.url,
                "history_keys": r.history_keys(),
                "last_step": r.last_step,
            },
            indent=2,
            default=str,
        )
    )


@runs.command("edit")
@click.argument("path")
@click.option("--name")
@click.option("--notes")
@click.option("--group")
@click.option("--tag", "add_tags", multiple=True, help="Add a tag (repeatable).")
@click.option("--untag", "remove_tags", multiple=True, help="Remove a tag (repeatable).")
@click.pass_context
@_friendly
def runs_edit(
    ctx: click.Context,
    path: str,
    name: str | None,
    notes: str | None,
    group: str | None,
    add_tags: tuple[str, ...],
    remove_tags: tuple[str, ...],
) -> None:
    """Rename a run, change its notes, group or tags."""
    r = _api(ctx).run(path)
    if name is not None:
        r.name = name
    if notes is not None:
        r.notes = notes
    if group is not None:
        r.group = group
    r.tags = [t for t in [*r.tags, *add_tags] if t not in remove_tags]
    r.update()
    click.echo(f"Updated {r.path}")


@runs.command("delete")
@click.argument("path")
@click.option("--purge", is_flag=True, help="Also delete the artifacts it logged and their files.")
@click.option("--yes", is_flag=True, help="Do not ask.")
@click.pass_context
@_friendly
def runs_delete(ctx: click.Context, path: str, purge: bool, yes: bool) -> None:
    """Delete a run and its history (--purge: everything it recorded)."""
    api = _api(ctx)
    r = api.run(path)
    if not yes:
        click.confirm(f"Delete run {r.path}{' and everything it logged' if purge else ''}?", abort=True)
    r.delete(purge=purge)
    click.echo(f"Deleted {r.path}")


# -- artifacts --------------------------------------------------------------------------------------
@main.group()
def artifact() -> None:
    """List, download and delete artifacts."""


@artifact.command("ls")
@click.argument("project")
@click.option("--type", "type_")
@click.pass_context
@_friendly
def artifact_ls(ctx: click.Context, project: str, type_: str | None) -> None:
    """List the artifact collections of PROJECT."""
    for c in _api(ctx).artifact_collections(project, type_):
        click.echo(f"{c.name:<32} {c.type:<18} {c.version_count} version(s)")


@artifact.command("versions")
@click.argument("name")
@click.pass_context
@_friendly
def artifact_versions(ctx: click.Context, name: str) -> None:
    """List the versions of [entity/]project/name."""
    for a in _api(ctx).artifact_versions(name):
        click.echo(
            f"{a.version:<6} {a.digest[:12]}  {a.size:>12,} B  {_when(a.created_at)}  {','.join(a.aliases)}"
        )


@artifact.command("get")
@click.argument("ref")
@click.option("--root", help="Directory to download into (default ./artifacts/<name>:<version>).")
@click.pass_context
@_friendly
def artifact_get(ctx: click.Context, ref: str, root: str | None) -> None:
    """Download an artifact version ([entity/]project/name[:alias])."""
    path = _api(ctx).artifact(ref).download(root)
    click.echo(path)


@artifact.command("delete")
@click.argument("ref")
@click.option("--yes", is_flag=True)
@click.pass_context
@_friendly
def artifact_delete(ctx: click.Context, ref: str, yes: bool) -> None:
    """Delete a version (project/name:v1) or a whole collection (project/name)."""
    if not yes:
        click.confirm(f"Delete {ref}?", abort=True)
    _api(ctx).delete_artifact(ref)
    click.echo(f"Deleted {ref}")


@main.command()
@click.option(
    "--grace",
    type=float,
    default=600.0,
    show_default=True,
    help="Spare files touched in the last GRACE seconds (other processes may be logging).",
)
@click.pass_context
@_friendly
def gc(ctx: click.Context, grace: float) -> None:
    """Delete stored files that nothing references any more."""
    report = _api(ctx).collect_garbage(grace)
    click.echo(f"Deleted {report.deleted} blob(s), freed {report.freed_bytes:,} bytes; kept {report.kept}.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8787, show_default=True)
@click.option("--speed", type=float, default=1.0, show_default=True, help="Fine-tuning clock speed factor.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--api-key", help="Accept only this key (default: any non-empty key).")
@_friendly
def simulator(host: str, port: int, speed: float, seed: int, api_key: str | None) -> None:
    """Serve the OpenAI API simulator (OPENAI_BASE_URL=http://HOST:PORT/v1)."""
    from tunelog.simulator.server import serve

    serve(port=port, host=host, speed=speed, seed=seed, api_key=api_key)


from tunelog.integration.openai.sync_cli import sync  # noqa: E402  (fine-tune sync: its own module)

main.add_command(sync)

from tunelog.web.cli import ui  # noqa: E402  (the dashboard: its own module)

main.add_command(ui)
