"""The artifact half of :class:`~tunelog.store.sql.SQLStore`: collections, versions, aliases,
manifests, usage edges and registry links.

Rules kept here, each inside one write transaction:

- Versions are numbered per collection from a counter in the collection's row, read and bumped
  under the write lock: no gaps or duplicates with concurrent writers, and a deleted version's
  number is never reused (``:v3`` never names different content).
- ``latest`` is managed by the store: always on the newest (highest-numbered) version, moved back
  when that version is deleted. Passing ``latest`` to ``create_version``/``link_version`` is a
  no-op; ``set_aliases`` refuses to put it anywhere else or to remove it.
- Other aliases are unique per collection and move to whichever version is given them.
- A registry link is a version in ``<entity>/registry/<collection>`` whose ``source_id`` names the
  linked version (never another link): digest, size, metadata, description, logger and manifest are
  read through to the source, and ``update_version`` on a link updates the source. Deleting a source
  deletes its links.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunelog.errors import ReferenceNotFound, UsageError
from tunelog.refs import REGISTRY_PROJECT, check_alias, check_name, version_index
from tunelog.store.base import ManifestEntry, RunKey
from tunelog.store.sql_common import chunks, dumps, marks, require_run
from tunelog.store.sqlite_conn import Connections

if TYPE_CHECKING:
    # Imported where records are built instead: their dataclasses cost ~10 ms to define, and opening
    # a store to start a run loads this module but never touches an artifact.
    from tunelog.store.records import CollectionRecord, NewVersion, VersionRecord

LATEST = "latest"

_COUNT = "(SELECT count(*) FROM versions cv WHERE cv.collection_id = c.id)"
_COLLECTION_SELECT = (
    f"SELECT c.id, c.entity, c.project, c.name, c.type, c.description, c.created_at, {_COUNT} "
    "FROM collections c"
)
# A link's content fields come from its source (s); its own row gives id, number, time, aliases.
_VERSION_SELECT = f"""
SELECT v.id, v.idx, coalesce(s.digest, v.digest), coalesce(s.metadata, v.metadata),
       CASE WHEN s.id IS NULL THEN v.description ELSE s.description END,
       coalesce(s.size, v.size), coalesce(s.file_count, v.file_count), v.created_at, v.source_id,
       c.id, c.entity, c.project, c.name, c.type, c.description, c.created_at, {_COUNT},
       r.entity, r.project, r.run_id,
       (SELECT json_group_array(a.alias) FROM aliases a WHERE a.version_id = v.id)
FROM versions v
JOIN collections c ON c.id = v.collection_id
LEFT JOIN versions s ON s.id = v.source_id
LEFT JOIN runs r ON r.pk = coalesce(s.logged_by, v.logged_by)
"""


def _collection(row: Sequence[Any]) -> CollectionRecord:
    from tunelog.store.records import CollectionRecord

    return CollectionRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7])


def _version(row: Sequence[Any]) -> VersionRecord:
    from tunelog.store.records import CollectionRecord, VersionRecord

    return VersionRecord(
        id=row[0],
        collection=CollectionRecord(row[9], row[10], row[11], row[12], row[13], row[14], row[15], row[16]),
        index=row[1],
        digest=row[2],
        metadata=json.loads(row[3]),
        description=row[4],
        size=row[5],
        file_count=row[6],
        created_at=row[7],
        aliases=tuple(sorted(json.loads(row[20]))),
        logged_by=None if row[17] is None else RunKey(row[17], row[18], row[19]),
        source_id=row[8],
    )


def _versions(conn: sqlite3.Connection, where: str, args: Sequence[Any], order: str) -> list[VersionRecord]:
    return [_version(r) for r in conn.execute(f"{_VERSION_SELECT} WHERE {where} ORDER BY {order}", args)]


def _one_version(conn: sqlite3.Connection, version_id: int) -> VersionRecord:
    found = _versions(conn, "v.id = ?", (version_id,), "v.id")
    if not found:
        raise _no_version(version_id)
    return found[0]


def _no_version(version_id: int) -> ReferenceNotFound:
    return ReferenceNotFound(
        f"Artifact version id {version_id} does not exist (it may have been deleted). Look the "
        "artifact up again by reference, e.g. tunelog.Api().artifact('project/name:latest')."
    )


def _clean_aliases(aliases: Iterable[str]) -> list[str]:
    """Validated, deduplicated aliases without ``latest`` (which the store manages)."""
    return [check_alias(a) for a in dict.fromkeys(aliases) if a != LATEST]


def _move_aliases(
    conn: sqlite3.Connection, collection_id: int, version_id: int, aliases: Sequence[str]
) -> None:
    conn.executemany(
        "INSERT INTO aliases (collection_id, alias, version_id) VALUES (?, ?, ?) "
        "ON CONFLICT (collection_id, alias) DO UPDATE SET version_id = excluded.version_id",
        [(collection_id, a, version_id) for a in aliases],
    )


def _fix_latest(conn: sqlite3.Connection, collection_id: int) -> None:
    """Put ``latest`` on the collection's newest version (or nowhere, if it has none)."""
    conn.execute("DELETE FROM aliases WHERE collection_id = ? AND alias = ?", (collection_id, LATEST))
    conn.execute(
        "INSERT INTO aliases (collection_id, alias, version_id) "
        "SELECT ?, ?, id FROM versions WHERE collection_id = ? ORDER BY idx DESC LIMIT 1",
        (collection_id, LATEST, collection_id),
    )


def _collection_for_write(
    conn: sqlite3.Connection, entity: str, project: str, name: str, type: str, description: str | None
) -> tuple[int, int]:
    """``(id, next_index)`` of the collection, creating it; UsageError if its type differs."""
    row = conn.execute(
        "SELECT id, type, next_index FROM collections WHERE entity = ? AND project = ? AND name = ?",
        (entity, project, name),
    ).fetchone()
    if row is None:
        cur = conn.execute(
            "INSERT INTO collections (entity, project, name, type, description, created_at, next_index) "
            "VALUES (?, ?, ?, ?, ?, ?, 0)",
            (entity, project, name, type, description, time.time()),
        )
        return int(cur.lastrowid or 0), 0
    if row[1] != type:
        raise UsageError(
            f"The artifact collection {entity}/{project}/{name} holds artifacts of type {row[1]!r}, "
            f"not {type!r}. Log it with type={row[1]!r}, or give it another name."
        )
    return int(row[0]), int(row[2])


def _insert_version(
    conn: sqlite3.Connection,
    collection_id: int,
    index: int,
    columns: Mapping[str, Any],
) -> int:
    names = ", ".join(columns)
    cur = conn.execute(
        f"INSERT INTO versions (collection_id, idx, created_at, {names}) "
        f"VALUES (?, ?, ?, {', '.join('?' * len(columns))})",
        (collection_id, index, time.time(), *columns.values()),
    )
    conn.execute("UPDATE collections SET next_index = ? WHERE id = ?", (index + 1, collection_id))
    return int(cur.lastrowid or 0)


def _delete_versions(conn: sqlite3.Connection, ids: Sequence[int]) -> None:
    """Delete versions, their links, aliases, manifests and usage edges; fix ``latest``."""
    if not ids:
        return
    links = [
        r[0]
        for chunk in chunks(ids)
        for r in conn.execute(f"SELECT id FROM versions WHERE source_id IN ({marks(len(chunk))})", chunk)
    ]
    doomed = list(dict.fromkeys([*links, *ids]))  # links first: they point at the others
    collections = {
        r[0]
        for chunk in chunks(doomed)
        for r in conn.execute(
            f"SELECT DISTINCT collection_id FROM versions WHERE id IN ({marks(len(chunk))})", chunk
        )
    }
    for chunk in chunks(doomed):
        params = marks(len(chunk))
        for table in ("aliases", "manifest", "artifact_usage"):
            conn.execute(f"DELETE FROM {table} WHERE version_id IN ({params})", chunk)
        conn.execute(f"DELETE FROM versions WHERE id IN ({params})", chunk)
    for collection_id in sorted(collections):
        _fix_latest(conn, collection_id)


class ArtifactTables:
    """Artifact methods of the Store Protocol, over the connections the store opened."""

    def __init__(self, conns: Connections) -> None:
        self._conns = conns

    def create_version(self, new: NewVersion) -> tuple[VersionRecord, bool]:
        for value, what in ((new.entity, "entity"), (new.project, "project"), (new.name, "artifact name"),
                            (new.type, "artifact type")):  # fmt: skip
            check_name(value, what)
        if new.project == REGISTRY_PROJECT:
            raise UsageError(
                f"'{REGISTRY_PROJECT}' is reserved for the model registry: log {new.name!r} to another "
                "project, then link it with run.link_artifact(artifact, 'registry/<collection>')."
            )
        aliases = _clean_aliases(new.aliases)
        files = [(f.path, f.sha256, int(f.size)) for f in new.files]

        def tx(conn: sqlite3.Connection) -> tuple[VersionRecord, bool]:
            logged_by = None if new.logged_by is None else require_run(conn, new.logged_by)
            cid, next_index = _collection_for_write(
                conn, new.entity, new.project, new.name, new.type, new.description
            )
            same = conn.execute(
                "SELECT id FROM versions WHERE collection_id = ? AND digest = ? AND source_id IS NULL "
                "ORDER BY idx LIMIT 1",
                (cid, new.digest),
            ).fetchone()
            if same is not None:
                _move_aliases(conn, cid, same[0], aliases)
                return _one_version(conn, same[0]), False
            vid = _insert_version(conn, cid, next_index, {
                "digest": new.digest, "metadata": dumps(new.metadata), "description": new.description,
                "size": sum(f[2] for f in files), "file_count": len(files), "logged_by": logged_by,
            })  # fmt: skip
            conn.executemany(
                "INSERT INTO manifest (version_id, path, sha256, size) VALUES (?, ?, ?, ?)",
                [(vid, *f) for f in files],
            )
            _fix_latest(conn, cid)
            _move_aliases(conn, cid, vid, aliases)
            return _one_version(conn, vid), True

        return self._conns.write(tx, f"logging artifact {new.entity}/{new.project}/{new.name}")

    def get_collection(self, entity: str, project: str, name: str) -> CollectionRecord | None:
        def tx(conn: sqlite3.Connection) -> CollectionRecord | None:
            row = conn.execute(
                f"{_COLLECTION_SELECT} WHERE c.entity = ? AND c.project = ? AND c.name = ?",
                (entity, project, name),
            ).fetchone()
            return None if row is None else _collection(row)

        return self._conns.read(tx, f"reading artifact collection {entity}/{project}/{name}")

    def list_collections(self, entity: str, project: str, type: str | None = None) -> list[CollectionRecord]:
        where, args = "c.entity = ? AND c.project = ?", [entity, project]
        if type is not None:
            where += " AND c.type = ?"
            args.append(type)

        def tx(conn: sqlite3.Connection) -> list[CollectionRecord]:
            return [
                _collection(r)
                for r in conn.execute(f"{_COLLECTION_SELECT} WHERE {where} ORDER BY c.name", args)
            ]

        return self._conns.read(tx, f"listing artifact collections of {entity}/{project}")

    def get_version(self, entity: str, project: str, name: str, selector: str) -> VersionRecord | None:
        index = version_index(selector)
        where = "c.entity = ? AND c.project = ? AND c.name = ? AND " + (
            "v.idx = ?"
            if index is not None
            else "v.id = (SELECT a.version_id FROM aliases a WHERE a.collection_id = c.id AND a.alias = ?)"
        )
        args: tuple[Any, ...] = (entity, project, name, selector if index is None else index)

        def tx(conn: sqlite3.Connection) -> VersionRecord | None:
            found = _versions(conn, where, args, "v.idx")
            return found[0] if found else None

        return self._conns.read(tx, f"reading artifact {entity}/{project}/{name}:{selector}")

    def get_version_by_id(self, version_id: int) -> VersionRecord | None:
        def tx(conn: sqlite3.Connection) -> VersionRecord | None:
            found = _versions(conn, "v.id = ?", (version_id,), "v.id")
            return found[0] if found else None

        return self._conns.read(tx, f"reading artifact version {version_id}")

    def list_versions(self, entity: str, project: str, name: str) -> list[VersionRecord]:
        def tx(conn: sqlite3.Connection) -> list[VersionRecord]:
            return _versions(
                conn, "c.entity = ? AND c.project = ? AND c.name = ?", (entity, project, name), "v.idx"
            )

        return self._conns.read(tx, f"listing versions of {entity}/{project}/{name}")

    def manifest(self, version_id: int) -> list[ManifestEntry]:
        def tx(conn: sqlite3.Connection) -> list[ManifestEntry]:
            rows = conn.execute(
                "SELECT m.path, m.sha256, m.size FROM versions v "
                "JOIN manifest m ON m.version_id = coalesce(v.source_id, v.id) "
                "WHERE v.id = ? ORDER BY m.path",
                (version_id,),
            )
            return [ManifestEntry(r[0], r[1], r[2]) for r in rows]

        return self._conns.read(tx, f"reading the manifest of artifact version {version_id}")

    def set_aliases(self, version_id: int, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        add, remove = list(add), list(remove)
        if LATEST in remove:
            raise UsageError(
                "The alias 'latest' always names a collection's newest version and cannot be removed. "
                "Delete the newest version to move it back, or use another alias."
            )
        adding = _clean_aliases(add)
        removing = [a for a in dict.fromkeys(remove) if a not in adding]

        def tx(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT v.collection_id, "
                "(SELECT max(idx) FROM versions WHERE collection_id = v.collection_id) = v.idx "
                "FROM versions v WHERE v.id = ?",
                (version_id,),
            ).fetchone()
            if row is None:
                raise _no_version(version_id)
            if LATEST in add and not row[1]:
                raise UsageError(
                    "The alias 'latest' always names a collection's newest version; it cannot be given "
                    "to an older one. Use another alias, such as 'best' or 'production'."
                )
            conn.executemany(
                "DELETE FROM aliases WHERE version_id = ? AND alias = ?", [(version_id, a) for a in removing]
            )
            _move_aliases(conn, row[0], version_id, adding)

        self._conns.write(tx, f"changing aliases of artifact version {version_id}")

    def update_version(
        self, version_id: int, metadata: Mapping[str, Any] | None = None, description: str | None = None
    ) -> None:
        changes: dict[str, Any] = {}
        if metadata is not None:
            changes["metadata"] = dumps(metadata)
        if description is not None:
            changes["description"] = description

        def tx(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT coalesce(source_id, id) FROM versions WHERE id = ?", (version_id,)
            ).fetchone()
            if row is None:
                raise _no_version(version_id)
            if changes:
                sets = ", ".join(f"{c} = ?" for c in changes)
                conn.execute(f"UPDATE versions SET {sets} WHERE id = ?", (*changes.values(), row[0]))

        self._conns.write(tx, f"updating artifact version {version_id}")

    def add_usage(self, version_id: int, run: RunKey) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            pk = require_run(conn, run)
            if conn.execute("SELECT 1 FROM versions WHERE id = ?", (version_id,)).fetchone() is None:
                raise _no_version(version_id)
            conn.execute(
                "INSERT INTO artifact_usage (version_id, run_pk, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (version_id, pk, time.time()),
            )

        self._conns.write(tx, f"recording that run {run} used artifact version {version_id}")

    def version_users(self, version_id: int) -> list[RunKey]:
        def tx(conn: sqlite3.Connection) -> list[RunKey]:
            rows = conn.execute(
                "SELECT r.entity, r.project, r.run_id FROM artifact_usage u JOIN runs r ON r.pk = u.run_pk "
                "WHERE u.version_id = ? ORDER BY u.created_at, r.pk",
                (version_id,),
            )
            return [RunKey(r[0], r[1], r[2]) for r in rows]

        return self._conns.read(tx, f"listing users of artifact version {version_id}")

    def versions_used_by(self, run: RunKey) -> list[VersionRecord]:
        where = (
            "v.id IN (SELECT u.version_id FROM artifact_usage u JOIN runs ru ON ru.pk = u.run_pk "
            "WHERE ru.entity = ? AND ru.project = ? AND ru.run_id = ?)"
        )

        def tx(conn: sqlite3.Connection) -> list[VersionRecord]:
            return _versions(conn, where, (run.entity, run.project, run.run_id), "v.created_at, v.id")

        return self._conns.read(tx, f"listing artifacts used by run {run}")

    def versions_logged_by(self, run: RunKey) -> list[VersionRecord]:
        where = "v.logged_by = (SELECT pk FROM runs WHERE entity = ? AND project = ? AND run_id = ?)"

        def tx(conn: sqlite3.Connection) -> list[VersionRecord]:
            return _versions(conn, where, (run.entity, run.project, run.run_id), "v.created_at, v.id")

        return self._conns.read(tx, f"listing artifacts logged by run {run}")

    def link_version(
        self, version_id: int, entity: str, collection: str, aliases: Sequence[str]
    ) -> VersionRecord:
        check_name(entity, "entity")
        check_name(collection, "registry collection name")
        adding = _clean_aliases(aliases)

        def tx(conn: sqlite3.Connection) -> VersionRecord:
            row = conn.execute(
                "SELECT s.id, s.digest, s.size, s.file_count, c.type FROM versions v "
                "JOIN versions s ON s.id = coalesce(v.source_id, v.id) "
                "JOIN collections c ON c.id = s.collection_id WHERE v.id = ?",
                (version_id,),
            ).fetchone()
            if row is None:
                raise _no_version(version_id)
            source_id, digest, size, file_count, type_ = row
            cid, next_index = _collection_for_write(conn, entity, REGISTRY_PROJECT, collection, type_, None)
            same = conn.execute(
                "SELECT id FROM versions WHERE collection_id = ? AND source_id = ?", (cid, source_id)
            ).fetchone()
            if same is not None:
                link_id = int(same[0])
            else:
                link_id = _insert_version(conn, cid, next_index, {
                    "digest": digest, "size": size, "file_count": file_count, "source_id": source_id,
                })  # fmt: skip
                _fix_latest(conn, cid)
            _move_aliases(conn, cid, link_id, adding)
            return _one_version(conn, link_id)

        return self._conns.write(
            tx, f"linking artifact version {version_id} into {entity}/{REGISTRY_PROJECT}/{collection}"
        )

    def delete_version(self, version_id: int) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM versions WHERE id = ?", (version_id,)).fetchone() is None:
                raise _no_version(version_id)
            _delete_versions(conn, [version_id])

        self._conns.write(tx, f"deleting artifact version {version_id}")

    def delete_collection(self, entity: str, project: str, name: str) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT id FROM collections WHERE entity = ? AND project = ? AND name = ?",
                (entity, project, name),
            ).fetchone()
            if row is None:
                raise ReferenceNotFound(
                    f"Artifact collection {entity}/{project}/{name} does not exist. List the project's "
                    f"collections with tunelog.Api().artifact_collections('{entity}/{project}')."
                )
            ids = [r[0] for r in conn.execute("SELECT id FROM versions WHERE collection_id = ?", (row[0],))]
            _delete_versions(conn, ids)
            conn.execute("DELETE FROM aliases WHERE collection_id = ?", (row[0],))
            conn.execute("DELETE FROM collections WHERE id = ?", (row[0],))

        self._conns.write(tx, f"deleting artifact collection {entity}/{project}/{name}")
