"""Artifacts: versioned, content-addressed collections of files (and tables), with lineage.

A draft ``Artifact`` gathers files; ``run.log_artifact`` stores their bytes once in the blob store
(by SHA-256) and then, in one store transaction, adds version ``v<N>`` with its manifest and aliases.
If the upload fails nothing of the version exists. A logged artifact reads its files back:
``download()``, ``get_path(name).download()``, ``get(name)`` for tables.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from tunelog.errors import ReferenceNotFound, UsageError
from tunelog.history import json_safe
from tunelog.refs import REGISTRY_PROJECT, check_alias, check_name, parse_artifact_ref
from tunelog.store.base import ManifestEntry, NewVersion, RunKey, VersionRecord

if TYPE_CHECKING:
    from tunelog.api import ApiRun
    from tunelog.backend import Backend
    from tunelog.table import Table

TABLE_SUFFIX = ".table.json"


def check_artifact_path(name: str) -> str:
    """A file's path inside an artifact: relative, '/'-separated, without '..'."""
    p = PurePosixPath(str(name).replace(os.sep, "/"))
    if not str(name) or p.is_absolute() or any(part in ("..", "") for part in p.parts) or str(p) == ".":
        raise UsageError(
            f"Invalid file name {name!r} in an artifact: use a relative path such as 'data/train.jsonl', "
            "without '..' or a leading '/'."
        )
    return str(p)


@dataclass(frozen=True)
class _SourceTable:
    source_path: str
    columns: tuple[str, ...]
    transform: str


class Artifact:
    """A versioned collection of files and tables, such as a dataset or a model's metadata.

    Args:
        name: the collection name (letters, digits, ``_ . -``); versions are ``name:v0``, ``name:v1``.
        type: what it is: ``dataset``, ``model``, ``training_files`` …
        description: free text.
        metadata: a JSON-serialisable dict, such as ``{"fine_tuned_model": "ft:..."}``.
    """

    def __init__(
        self, name: str, type: str, description: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> None:
        self._name = check_name(name, "artifact name")
        self._type = check_name(type, "artifact type")
        self.description = description
        warned: set[str] = set()
        self.metadata: dict[str, Any] = {
            str(k): json_safe(v, what=f"artifact metadata[{k!r}]", warned=warned)
            for k, v in (metadata or {}).items()
        }
        self._files: dict[str, Path] = {}
        self._tables: dict[str, Table] = {}
        self._source_tables: dict[str, _SourceTable] = {}
        self._staging: Path | None = None
        self._backend: Backend | None = None
        self._version: VersionRecord | None = None
        self._manifest: list[ManifestEntry] | None = None

    # -- building a draft --------------------------------------------------------------------------
    def _check_draft(self) -> None:
        if self._version is not None:
            raise UsageError(
                f"Artifact {self.qualified_name} is logged and cannot change; create a new Artifact("
                f"{self._name!r}, type={self._type!r}) and log it to make the next version."
            )

    def add_file(self, local_path: str | os.PathLike[str], name: str | None = None) -> None:
        """Add a local file, under ``name`` (default: its file name)."""
        self._check_draft()
        path = Path(local_path)
        if not path.is_file():
            raise UsageError(f"Cannot add {str(local_path)!r} to artifact {self._name!r}: no such file.")
        self._files[check_artifact_path(name or path.name)] = path

    def add_dir(self, local_path: str | os.PathLike[str], name: str | None = None) -> None:
        """Add every file under a directory, keeping relative paths (under ``name`` if given)."""
        self._check_draft()
        root = Path(local_path)
        if not root.is_dir():
            raise UsageError(f"Cannot add {str(local_path)!r} to artifact {self._name!r}: no such directory.")
        for p in sorted(root.rglob("*")):
            if p.is_file():
                rel = p.relative_to(root).as_posix()
                self._files[check_artifact_path(f"{name}/{rel}" if name else rel)] = p

    @contextmanager
    def new_file(self, name: str, mode: str = "x", encoding: str | None = None) -> Iterator[IO[Any]]:
        """Open a new file to write into the artifact: ``with art.new_file("a.json", "w") as f: ...``."""
        self._check_draft()
        rel = check_artifact_path(name)
        if self._staging is None:
            self._staging = Path(tempfile.mkdtemp(prefix="tunelog-artifact-"))
            weakref.finalize(self, shutil.rmtree, str(self._staging), True)
        target = self._staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if "x" in mode and rel in self._files:
            raise UsageError(f"Artifact {self._name!r} already has a file {rel!r}; open it with mode='w'.")
        with open(target, mode.replace("x", "w"), encoding=encoding) as f:
            yield f
        self._files[rel] = target

    def add(self, table: Table, name: str) -> None:
        """Add a :class:`~tunelog.Table` under ``name`` (read it back with ``get(name)``)."""
        from tunelog.table import Table

        self._check_draft()
        if not isinstance(table, Table):
            raise UsageError(f"Artifact.add takes a tunelog.Table, got {type(table).__name__}.")
        self._tables[check_artifact_path(_table_base(name))] = table

    def add_source_table(self, name: str, source: str, columns: Sequence[str], transform: str) -> None:
        """Add a table whose rows are the lines of the JSONL file ``source`` (already added), turned
        into cells by the named row ``transform``: stored as a row index, not a second copy."""
        self._check_draft()
        self._source_tables[check_artifact_path(_table_base(name))] = _SourceTable(
            check_artifact_path(source), tuple(columns), transform
        )

    # -- identity ----------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def type(self) -> str:
        return self._type

    @property
    def is_logged(self) -> bool:
        return self._version is not None

    def _logged(self) -> VersionRecord:
        if self._version is None:
            raise UsageError(
                f"Artifact {self._name!r} is not logged yet: call run.log_artifact(artifact) first."
            )
        return self._version

    @property
    def version(self) -> str:
        """``v0``, ``v1``, … (``None`` before logging)."""
        return self._version.version if self._version else None  # type: ignore[return-value]

    @property
    def aliases(self) -> list[str]:
        return list(self._version.aliases) if self._version else []

    @property
    def digest(self) -> str | None:
        return self._version.digest if self._version else None

    @property
    def entity(self) -> str | None:
        return self._version.collection.entity if self._version else None

    @property
    def project(self) -> str | None:
        return self._version.collection.project if self._version else None

    @property
    def qualified_name(self) -> str:
        v = self._version
        return f"{v.collection.entity}/{v.collection.project}/{self._name}:{v.version}" if v else self._name

    @property
    def source_name(self) -> str:
        return f"{self._name}:{self.version}"

    @property
    def size(self) -> int:
        return self._version.size if self._version else sum(p.stat().st_size for p in self._files.values())

    @property
    def created_at(self) -> float | None:
        return self._version.created_at if self._version else None

    @property
    def id(self) -> int | None:
        return self._version.id if self._version else None

    @property
    def url(self) -> str | None:
        v = self._version
        if v is None or self._backend is None:
            return None
        return self._backend.settings.artifact_url(
            v.collection.entity, v.collection.project, self._name, v.version
        )

    def __repr__(self) -> str:
        return f"<tunelog.Artifact {self.qualified_name} type={self._type}>"

    # -- logging (called by Run) ---------------------------------------------------------------------
    def _log(self, backend: Backend, run: RunKey | None, aliases: list[str]) -> None:
        self._check_draft()
        for a in aliases:
            if a != "latest":
                check_alias(a)
        try:
            entries = self._upload(backend)
        except UsageError:
            raise
        except Exception as exc:
            backend.failures.record(f"uploading artifact {self._name!r}", exc)
            return
        digest = _digest(entries)
        entity = run.entity if run else backend.settings.entity
        project = run.project if run else "uncategorized"
        new = NewVersion(
            entity=entity,
            project=project,
            name=self._name,
            type=self._type,
            digest=digest,
            files=entries,
            metadata=self.metadata,
            description=self.description,
            aliases=[a for a in aliases if a != "latest"],
            logged_by=run,
        )
        try:
            version, _created = backend.store.create_version(new)
        except UsageError:
            raise
        except Exception as exc:
            backend.failures.record(f"saving artifact {self._name!r}", exc)
            return
        self._bind(backend, version)

    def _upload(self, backend: Backend) -> list[ManifestEntry]:
        from tunelog.table import store_source_table, store_table

        blobs = backend.blobs
        out: dict[str, ManifestEntry] = {}
        for rel, path in self._files.items():
            sha, size = blobs.put_file(path)
            out[rel] = ManifestEntry(rel, sha, size)
        for base, table in self._tables.items():
            stored = store_table(table, blobs)
            out.update(_table_entries(base, stored))
        for base, src in self._source_tables.items():
            source = out.get(src.source_path)
            if source is None:
                raise UsageError(f"Source table {base!r}: the artifact has no file {src.source_path!r}.")
            stored = store_source_table(source.sha256, list(src.columns), src.transform, blobs)
            out.update(_table_entries(base, stored))
        return [out[k] for k in sorted(out)]

    def _bind(self, backend: Backend, version: VersionRecord) -> None:
        self._backend = backend
        self._version = version
        self._type = version.collection.type
        self.metadata = dict(version.metadata)
        self.description = version.description
        self._manifest = None

    def _mark_used(self, run: RunKey) -> None:
        if self._backend is None or self._version is None:
            return
        try:
            self._backend.store.add_usage(self._version.id, run)
        except Exception as exc:
            self._backend.failures.record("recording artifact usage", exc)

    def _refresh(self) -> None:
        if self._backend and self._version:
            v = self._backend.store.get_version_by_id(self._version.id)
            if v is not None:
                self._version = v

    # -- reading -----------------------------------------------------------------------------------
    def _entries(self) -> list[ManifestEntry]:
        v = self._logged()
        if self._manifest is None:
            assert self._backend is not None  # bound together with _version
            self._manifest = self._backend.store.manifest(v.id)
        return self._manifest

    def files(self) -> list[ArtifactFile]:
        """The files of a logged version."""
        return [ArtifactFile(self, e) for e in self._entries()]

    def get_path(self, name: str) -> ArtifactFile:
        """One file of the version, to ``download()``."""
        for e in self._entries():
            if e.path == name:
                return ArtifactFile(self, e)
        raise ReferenceNotFound(
            f"Artifact {self.qualified_name} has no file {name!r}. Files: "
            f"{', '.join(e.path for e in self._entries()[:20]) or 'none'}."
        )

    def get_entry(self, name: str) -> ArtifactFile:
        return self.get_path(name)

    def get(self, name: str) -> Table:
        """The table stored under ``name`` (added with ``add(table, name)``)."""
        table: Table = self.table_reader(name).to_table()
        return table

    def table_reader(self, name: str) -> Any:
        """A paging reader over the table ``name``: ``columns``, ``nrows``, ``page(offset, limit)``."""
        from tunelog.table import TableReader

        entry = self.get_path(_table_base(name) + TABLE_SUFFIX).entry
        assert self._backend is not None
        return TableReader(self._backend.blobs, entry.sha256)

    def tables(self) -> list[str]:
        return [e.path[: -len(TABLE_SUFFIX)] for e in self._entries() if e.path.endswith(TABLE_SUFFIX)]

    def download(self, root: str | os.PathLike[str] | None = None) -> str:
        """Write every file of the version under ``root`` (default ``./artifacts/<name>:<version>``)
        and return that directory."""
        v = self._logged()
        target = Path(root) if root is not None else Path("artifacts") / f"{self._name}:{v.version}"
        for e in self._entries():
            self._write_file(e, target)
        target.mkdir(parents=True, exist_ok=True)
        return str(target)

    def _write_file(self, e: ManifestEntry, root: Path) -> Path:
        assert self._backend is not None
        dest = root / check_artifact_path(e.path)
        if dest.is_file() and dest.stat().st_size == e.size and _sha256_file(dest) == e.sha256:
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tunelog-tmp")
        blobs = self._backend.blobs
        local = blobs.local_path(e.sha256)
        if local is not None:
            shutil.copyfile(local, tmp)
        else:
            with blobs.open(e.sha256) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        os.replace(tmp, dest)
        return dest

    # -- lineage and edits -------------------------------------------------------------------------
    def logged_by(self) -> ApiRun | None:
        """The run that logged this version."""
        from tunelog.api import ApiRun

        v = self._logged()
        if v.logged_by is None or self._backend is None:
            return None
        return ApiRun.load(self._backend, v.logged_by)

    def used_by(self) -> list[ApiRun]:
        """The runs that used this version."""
        from tunelog.api import ApiRun

        v = self._logged()
        assert self._backend is not None
        runs = (ApiRun.load(self._backend, k) for k in self._backend.store.version_users(v.id))
        return [r for r in runs if r is not None]

    def save(self) -> None:
        """Write changed ``metadata``, ``description`` and ``aliases`` of a logged version."""
        v = self._logged()
        assert self._backend is not None
        warned: set[str] = set()
        meta = {
            k: json_safe(val, what=f"artifact metadata[{k!r}]", warned=warned)
            for k, val in self.metadata.items()
        }
        self._backend.store.update_version(v.id, metadata=meta, description=self.description)
        self._refresh()

    def add_aliases(self, *aliases: str) -> None:
        v = self._logged()
        assert self._backend is not None
        self._backend.store.set_aliases(v.id, add=[check_alias(a) for a in aliases if a != "latest"])
        self._refresh()

    def remove_aliases(self, *aliases: str) -> None:
        v = self._logged()
        assert self._backend is not None
        self._backend.store.set_aliases(v.id, remove=list(aliases))
        self._refresh()

    def link(self, target_path: str, aliases: Sequence[str] | None = None) -> Artifact:
        """Link this version into a registry collection: ``"registry/<name>"`` or
        ``"<entity>/registry/<name>"``. Returns the linked version."""
        v = self._logged()
        assert self._backend is not None
        parts = target_path.split("/")
        if len(parts) == 2 and parts[0] == REGISTRY_PROJECT:
            entity, name = v.collection.entity, parts[1]
        elif len(parts) == 3 and parts[1] == REGISTRY_PROJECT:
            entity, name = parts[0], parts[2]
        else:
            raise UsageError(
                f"Invalid registry path {target_path!r}: write 'registry/<collection>' or "
                "'<entity>/registry/<collection>'."
            )
        check_name(entity, "entity")
        check_name(name, "registry collection")
        linked = self._backend.store.link_version(
            v.id, entity, name, [check_alias(a) for a in aliases or () if a != "latest"]
        )
        art = Artifact.__new__(Artifact)
        Artifact.__init__(art, name, linked.collection.type)
        art._bind(self._backend, linked)
        return art

    def delete(self) -> None:
        """Delete this version (its blobs go at the next garbage collection)."""
        v = self._logged()
        assert self._backend is not None
        self._backend.store.delete_version(v.id)


@dataclass(frozen=True)
class ArtifactFile:
    """One file of a logged artifact version."""

    artifact: Artifact
    entry: ManifestEntry

    @property
    def path(self) -> str:
        return self.entry.path

    @property
    def size(self) -> int:
        return self.entry.size

    @property
    def digest(self) -> str:
        return self.entry.sha256

    def download(self, root: str | os.PathLike[str] | None = None) -> str:
        """Write the file under ``root`` (default: the artifact's download folder); return its path."""
        v = self.artifact._logged()
        base = Path(root) if root is not None else Path("artifacts") / f"{self.artifact.name}:{v.version}"
        return str(self.artifact._write_file(self.entry, base))

    def read_bytes(self) -> bytes:
        backend = self.artifact._backend
        assert backend is not None
        with backend.blobs.open(self.entry.sha256) as f:
            return f.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)


def _table_base(name: str) -> str:
    return name[: -len(TABLE_SUFFIX)] if name.endswith(TABLE_SUFFIX) else name


def _table_entries(base: str, stored: Any) -> dict[str, ManifestEntry]:
    out: dict[str, ManifestEntry] = {}
    for role, sha, size in stored.blobs:
        if role == "header":
            path = base + TABLE_SUFFIX
        elif role == "source":
            continue  # the raw file is already in the manifest under its own name
        else:
            path = f"{base}.table.{role}"
        out[path] = ManifestEntry(path, sha, size)
    return out


def _digest(entries: Sequence[ManifestEntry]) -> str:
    h = hashlib.sha256()
    for e in entries:
        h.update(json.dumps([e.path, e.sha256, e.size]).encode())
        h.update(b"\n")
    return h.hexdigest()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def artifact_from_path(path: str | os.PathLike[str], name: str | None, type: str | None) -> Artifact:
    p = Path(path)
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in p.name) or "artifact"
    art = Artifact(name or safe, type or "unspecified")
    if p.is_dir():
        art.add_dir(p)
    else:
        art.add_file(p)
    return art


def resolve_artifact(
    backend: Backend, ref: str, *, entity: str | None, project: str | None, type: str | None = None
) -> Artifact:
    """Find a logged version by reference; a miss names what the collection has."""
    r = parse_artifact_ref(ref, entity=entity, project=project)
    store = backend.store
    version = store.get_version(r.entity, r.project, r.name, r.selector)
    if version is None:
        coll = store.get_collection(r.entity, r.project, r.name)
        if coll is None:
            names = [c.name for c in store.list_collections(r.entity, r.project)]
            raise ReferenceNotFound(
                f"Artifact {r} not found: {r.entity}/{r.project} has no artifact named {r.name!r}. "
                f"Artifacts there: {', '.join(names[:20]) or 'none'}."
            )
        versions = store.list_versions(r.entity, r.project, r.name)
        aliases = sorted({a for v in versions for a in v.aliases})
        raise ReferenceNotFound(
            f"Artifact {r} not found: {r.name!r} has no version or alias {r.selector!r}. Versions: "
            f"{', '.join(v.version for v in versions) or 'none'}; aliases: {', '.join(aliases) or 'none'}."
        )
    if type is not None and version.collection.type != type:
        raise UsageError(
            f"Artifact {r} has type {version.collection.type!r}, not {type!r}. Pass "
            f"type={version.collection.type!r} or no type."
        )
    art = Artifact.__new__(Artifact)
    Artifact.__init__(art, r.name, version.collection.type)
    art._bind(backend, version)
    return art
