"""``tunelog sync``: the command-line face of ``FineTuneLogger.sync`` (flags of ``openai wandb sync`` too)."""

from __future__ import annotations

import sys
import time

import click

from tunelog.errors import TunelogError, UsageError


@click.command("sync")
@click.option(
    "--id",
    "-i",
    "ids",
    multiple=True,
    metavar="ID",
    help="A fine-tuning job id (repeatable). Default: every job.",
)
@click.option(
    "-n",
    "--n_fine_tunes",
    "--num-fine-tunes",
    "n",
    type=int,
    default=None,
    help="Without --id: only the N most recent jobs.",
)
@click.option("--project", default="OpenAI-Fine-Tune", show_default=True, help="Project of the runs.")
@click.option(
    "--entity", "sync_entity", default=None, help="User or team of the runs (default: tunelog's entity)."
)
@click.option(
    "--overwrite", "--force", "overwrite", is_flag=True, help="Sync jobs again even if already synced."
)
@click.option("--no-wait", is_flag=True, help="Record running jobs as they stand instead of following them.")
@click.option("--watch", is_flag=True, help="Keep syncing (new and running jobs) until interrupted.")
@click.option("--poll-interval", type=float, default=60.0, show_default=True, help="Seconds between polls.")
@click.option("--timeout", type=float, default=None, help="Stop following a job after this many seconds.")
@click.option("--no-datasets", is_flag=True, help="Do not log the training and validation files.")
@click.option("--model-artifact-name", default="model-metadata", show_default=True)
@click.option("--model-artifact-type", default="model", show_default=True)
@click.option("--tag", "tags", multiple=True, help="Tag for the runs (repeatable).")
@click.option(
    "--azure-endpoint", default=None, help="Azure OpenAI endpoint (default: AZURE_OPENAI_ENDPOINT)."
)
@click.option("--api-version", default=None, help="Azure OpenAI API version (default: OPENAI_API_VERSION).")
@click.option(
    "--progress/--no-progress", "progress", default=None, help="Progress bars (default: on a terminal)."
)
@click.pass_context
def sync(
    ctx: click.Context,
    ids: tuple[str, ...],
    n: int | None,
    project: str,
    sync_entity: str | None,
    overwrite: bool,
    no_wait: bool,
    watch: bool,
    poll_interval: float,
    timeout: float | None,
    no_datasets: bool,
    model_artifact_name: str,
    model_artifact_type: str,
    tags: tuple[str, ...],
    azure_endpoint: str | None,
    api_version: str | None,
    progress: bool | None,
) -> None:
    """Sync OpenAI / Azure OpenAI fine-tuning jobs into runs, datasets and model artifacts.

    Exits 1 if a job could not be synced (each failure is one line on stderr), 2 for bad arguments.
    """
    from tunelog.integration.openai.fine_tuning import FineTuneLogger
    from tunelog.integration.openai.openai_client import client_from_environment

    obj = ctx.obj or {}
    entity = sync_entity or obj.get("entity")
    kwargs = {"dir": obj["dir"]} if obj.get("dir") else {}
    if tags:
        kwargs["tags"] = list(tags)
    try:
        client = client_from_environment(azure_endpoint=azure_endpoint, api_version=api_version)
        show = True if progress is None and not watch else progress

        def once(wait: bool) -> int:
            result = FineTuneLogger.sync(
                fine_tune_job_id=list(ids) or None,
                openai_client=client,
                num_fine_tunes=n,
                project=project,
                entity=entity,
                overwrite=overwrite,
                wait_for_job_success=wait,
                log_datasets=not no_datasets,
                model_artifact_name=model_artifact_name,
                model_artifact_type=model_artifact_type,
                poll_interval=poll_interval,
                timeout=timeout,
                show_progress=show,
                **kwargs,
            )
            for w in result.warnings:
                click.echo(f"warning: {w}", err=True)
            if show:  # the progress display already printed one line per job
                tally = (
                    f"{len(result.synced)} synced, {len(result.skipped)} skipped, {len(result.errors)} failed"
                )
                click.echo(f"Done: {tally}." if result.jobs else str(result))
            elif watch:  # every pass would repeat the jobs already synced: show only news
                for job in result.jobs:
                    if job.action != "skipped":
                        click.echo(job.line())
            else:
                click.echo(str(result))
            return 0 if result.ok else 1

        if not watch:
            sys.exit(once(not no_wait))
        click.echo(f"Watching for fine-tuning jobs every {poll_interval:g} s; Ctrl-C to stop.", err=True)
        while True:
            once(False)
            overwrite = False  # a forced re-sync applies to the first pass only
            time.sleep(poll_interval)
    except KeyboardInterrupt:
        click.echo("Interrupted: runs being followed were recorded as they stood.", err=True)
        sys.exit(130)
    except UsageError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except TunelogError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
