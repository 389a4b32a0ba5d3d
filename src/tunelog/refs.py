"""Names and references: ``entity/project/name:alias_or_version``.

Names (entities, projects, artifacts, runs) and aliases may not contain ``/`` or ``:``, because those
separate a reference's parts. Fine-tuned model ids such as ``ft:gpt-4o-mini:org::abc`` contain ``:``,
so they go in an artifact's metadata, never in its name.
"""

from __future__ import annotations

import re
from functools import cache
from typing import NamedTuple

from tunelog.errors import UsageError

REGISTRY_PROJECT = "registry"
_NAME = re.compile(r"^[\w][\w.\-]{0,127}$")


@cache
def _version() -> re.Pattern[str]:
    # Compiled on first use: starting a run checks names but never a version selector.
    return re.compile(r"^v(\d+)$")


def check_name(value: str, what: str = "name") -> str:
    """Return ``value`` if it is a valid name, else raise :class:`UsageError` saying how to fix it."""
    if not isinstance(value, str) or not _NAME.match(value):
        bad = "".join(sorted({c for c in str(value) if not (c.isalnum() or c in "_.-")}))
        hint = f" (it contains {bad!r})" if bad else ""
        raise UsageError(
            f"Invalid {what} {value!r}{hint}. Use 1-128 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit; '/' and ':' separate the parts of a reference and cannot appear in names."
        )
    return value


def check_alias(alias: str) -> str:
    """Validate an alias; version names such as ``v3`` are reserved."""
    check_name(alias, "alias")
    if _version().match(alias):
        raise UsageError(
            f"Invalid alias {alias!r}: names of the form v<N> are version numbers, given by tunelog. "
            "Choose another alias, such as 'best' or 'prod'."
        )
    return alias


def version_index(selector: str) -> int | None:
    """``"v3"`` → 3; anything else (an alias) → None."""
    m = _version().match(selector)
    return int(m.group(1)) if m else None


class ArtifactRef(NamedTuple):
    """A parsed artifact reference. ``selector`` is an alias or ``v<N>``; default ``latest``."""

    entity: str
    project: str
    name: str
    selector: str = "latest"

    def __str__(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}:{self.selector}"


def parse_artifact_ref(ref: str, *, entity: str | None, project: str | None) -> ArtifactRef:
    """Parse ``[[entity/]project/]name[:alias_or_version]``, filling defaults.

    Raises:
        UsageError: the reference is malformed or a part is missing and has no default.
    """
    if not isinstance(ref, str) or not ref:
        raise UsageError(f"Invalid artifact reference {ref!r}: expected 'entity/project/name:alias'.")
    path, sep, selector = ref.rpartition(":") if ":" in ref else (ref, "", "")
    if sep and not selector:
        raise UsageError(
            f"Invalid artifact reference {ref!r}: nothing after ':'. Write 'name:latest', 'name:v0' "
            "or 'name:<alias>'."
        )
    parts = path.split("/")
    if len(parts) > 3 or any(p == "" for p in parts):
        raise UsageError(
            f"Invalid artifact reference {ref!r}: expected at most 'entity/project/name:alias', "
            f"got {len(parts)} '/'-separated parts."
        )
    name = parts[-1]
    proj = parts[-2] if len(parts) >= 2 else project
    ent = parts[-3] if len(parts) == 3 else entity
    if proj is None:
        raise UsageError(
            f"Artifact reference {ref!r} names no project and there is no active run to take it from. "
            "Write it as 'project/name:alias' or 'entity/project/name:alias'."
        )
    if ent is None:
        raise UsageError(f"Artifact reference {ref!r} names no entity. Write 'entity/project/name:alias'.")
    sel = selector or "latest"
    check_name(ent, "entity")
    check_name(proj, "project")
    check_name(name, "artifact name")
    if version_index(sel) is None:
        check_name(sel, "alias")
    return ArtifactRef(ent, proj, name, sel)


class RunPath(NamedTuple):
    entity: str
    project: str
    run_id: str

    def __str__(self) -> str:
        return f"{self.entity}/{self.project}/{self.run_id}"


def parse_run_path(path: str, *, entity: str) -> RunPath:
    """Parse ``[entity/]project/run_id`` (a ``/runs/`` segment, as in dashboard URLs, is allowed)."""
    parts = [p for p in str(path).split("/") if p and p != "runs"]
    if len(parts) == 2:
        parts.insert(0, entity)
    if len(parts) != 3:
        raise UsageError(f"Invalid run path {path!r}: expected 'project/run_id' or 'entity/project/run_id'.")
    ent, proj, run_id = parts
    return RunPath(check_name(ent, "entity"), check_name(proj, "project"), check_name(run_id, "run id"))


def parse_project_path(path: str | None, *, entity: str) -> tuple[str, str]:
    """Parse ``[entity/]project`` into ``(entity, project)``."""
    if not path:
        raise UsageError("No project given: pass 'project' or 'entity/project'.")
    parts = [p for p in path.split("/") if p]
    if len(parts) == 1:
        return entity, check_name(parts[0], "project")
    if len(parts) == 2:
        return check_name(parts[0], "entity"), check_name(parts[1], "project")
    raise UsageError(f"Invalid project path {path!r}: expected 'project' or 'entity/project'.")
