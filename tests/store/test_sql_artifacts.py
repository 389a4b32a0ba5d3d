"""Artifacts in the SQLite store: numbering, dedup, aliases, manifests, lineage, registry links,
deletes, and all-or-nothing writes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.store.store_helpers import make_run, new_version
from tunelog.errors import ReferenceNotFound, StoreError, UsageError
from tunelog.store.base import ManifestEntry, RunKey
from tunelog.store.sql import SQLStore


def aliases_by_version(store: SQLStore, name: str = "data", project: str = "p") -> dict[str, tuple[str, ...]]:
    return {v.version: v.aliases for v in store.list_versions("e", project, name)}


def test_versions_are_numbered_and_latest_moves(store: SQLStore) -> None:
    run = make_run(store)
    v0, created0 = store.create_version(
        new_version(
            digest="d0",
            aliases=["ftjob-1"],
            logged_by=run,
            metadata={"fine_tuned_model": "ft:x:y::z"},
            files=2,
        )
    )
    v1, created1 = store.create_version(new_version(digest="d1", aliases=["latest", "best"]))
    assert (created0, created1) == (True, True)
    assert (v0.version, v1.version) == ("v0", "v1")
    assert v0.metadata == {"fine_tuned_model": "ft:x:y::z"}
    assert (v0.size, v0.file_count, v0.logged_by, v0.digest) == (21, 2, run, "d0")
    assert v0.collection.type == "dataset" and v1.collection.version_count == 2
    assert aliases_by_version(store) == {"v0": ("ftjob-1",), "v1": ("best", "latest")}
    assert store.get_version("e", "p", "data", "latest") == store.get_version("e", "p", "data", "v1")
    assert store.get_version("e", "p", "data", "ftjob-1").id == v0.id  # type: ignore[union-attr]
    assert store.get_version("e", "p", "data", "v7") is None
    assert store.get_version("e", "p", "data", "nope") is None
    assert store.get_version("e", "p", "other", "latest") is None
    assert [m.path for m in store.manifest(v0.id)] == ["f0.txt", "f1.txt"]
    assert store.versions_logged_by(run) == [store.get_version_by_id(v0.id)]


def test_same_digest_adds_aliases_to_the_existing_version(store: SQLStore) -> None:
    v0, _ = store.create_version(new_version(digest="same"))
    store.create_version(new_version(digest="other"))
    again, created = store.create_version(new_version(digest="same", aliases=["again", "latest"]))
    assert not created and again.id == v0.id
    assert aliases_by_version(store) == {"v0": ("again",), "v1": ("latest",)}  # latest stays on the newest


def test_aliases_move_between_versions(store: SQLStore) -> None:
    v0, _ = store.create_version(new_version(digest="d0", aliases=["prod"]))
    v1, _ = store.create_version(new_version(digest="d1"))
    store.set_aliases(v1.id, add=["prod", "candidate"])
    assert aliases_by_version(store) == {"v0": (), "v1": ("candidate", "latest", "prod")}
    store.set_aliases(v1.id, remove=["candidate", "not-there"])
    store.set_aliases(v0.id, add=["candidate"])
    assert aliases_by_version(store) == {"v0": ("candidate",), "v1": ("latest", "prod")}
    store.set_aliases(v1.id, add=["latest"])  # already there: fine
    with pytest.raises(UsageError, match="newest"):
        store.set_aliases(v0.id, add=["latest"])
    with pytest.raises(UsageError, match="cannot be removed"):
        store.set_aliases(v1.id, remove=["latest"])
    with pytest.raises(UsageError, match="version numbers"):
        store.set_aliases(v1.id, add=["v3"])
    with pytest.raises(UsageError, match="Invalid alias"):
        store.create_version(new_version(digest="d9", aliases=["a:b"]))
    with pytest.raises(ReferenceNotFound):
        store.set_aliases(999, add=["x"])


def test_collection_type_is_fixed(store: SQLStore) -> None:
    store.create_version(new_version())
    with pytest.raises(UsageError, match="type 'dataset'"):
        store.create_version(new_version(digest="d1", type="model"))
    coll = store.get_collection("e", "p", "data")
    assert coll is not None and coll.type == "dataset" and coll.version_count == 1
    store.create_version(new_version("m", type="model"))
    assert [c.name for c in store.list_collections("e", "p")] == ["data", "m"]
    assert [c.name for c in store.list_collections("e", "p", type="model")] == ["m"]


def test_invalid_names_and_the_reserved_registry_project(store: SQLStore) -> None:
    with pytest.raises(UsageError, match="Invalid artifact name"):
        store.create_version(new_version("a/b"))
    with pytest.raises(UsageError, match="reserved"):
        store.create_version(new_version(project="registry"))
    with pytest.raises(ReferenceNotFound, match="does not exist"):
        store.create_version(new_version(logged_by=RunKey("e", "p", "ghost")))
    assert store.list_collections("e", "p") == []


def test_a_failed_write_leaves_nothing_behind(store: SQLStore) -> None:
    store.create_version(new_version(digest="d0", aliases=["keep"]))
    dup = [ManifestEntry("same.txt", "s1", 1), ManifestEntry("same.txt", "s2", 2)]
    with pytest.raises(StoreError, match="UNIQUE constraint"):
        store.create_version(replace(new_version(digest="d1", aliases=["keep"]), files=dup))
    # No v1, no half manifest, the alias did not move, the counter did not advance.
    assert aliases_by_version(store) == {"v0": ("keep", "latest")}
    assert "s1" not in store.referenced_blobs()
    v1, _ = store.create_version(new_version(digest="d1"))
    assert v1.version == "v1"
    # A new collection created by the failed write is rolled back too.
    with pytest.raises(StoreError):
        store.create_version(replace(new_version("fresh", digest="x"), files=dup))
    assert store.get_collection("e", "p", "fresh") is None


def test_usage_edges_are_idempotent(store: SQLStore) -> None:
    v0, _ = store.create_version(new_version())
    a, b = make_run(store, "a"), make_run(store, "b")
    store.add_usage(v0.id, a)
    store.add_usage(v0.id, a)
    store.add_usage(v0.id, b)
    assert store.version_users(v0.id) == [a, b]
    assert [v.id for v in store.versions_used_by(a)] == [v0.id]
    with pytest.raises(ReferenceNotFound):
        store.add_usage(12345, a)
    with pytest.raises(ReferenceNotFound):
        store.add_usage(v0.id, RunKey("e", "p", "ghost"))


def test_update_version(store: SQLStore) -> None:
    v0, _ = store.create_version(new_version(metadata={"a": 1}, description="first"))
    store.update_version(v0.id, metadata={"b": 2})
    got = store.get_version_by_id(v0.id)
    assert got is not None and got.metadata == {"b": 2} and got.description == "first"
    store.update_version(v0.id, description="second")
    assert store.get_version_by_id(v0.id).description == "second"  # type: ignore[union-attr]
    with pytest.raises(ReferenceNotFound):
        store.update_version(999, description="x")


def test_registry_links_read_through_and_are_idempotent(store: SQLStore) -> None:
    run = make_run(store)
    src, _ = store.create_version(new_version("model-metadata", type="model", digest="m0", logged_by=run,
                                              metadata={"fine_tuned_model": "ft:a"}, files=2))  # fmt: skip
    link = store.link_version(src.id, "e", "chat-models", ["production", "latest"])
    assert link.collection.project == "registry" and link.collection.type == "model"
    assert (link.version, link.source_id, link.aliases) == ("v0", src.id, ("latest", "production"))
    assert (link.metadata, link.digest, link.size, link.file_count) == (src.metadata, "m0", src.size, 2)
    assert link.logged_by == run
    assert store.manifest(link.id) == store.manifest(src.id)
    # Metadata edits read through (and a link's edit goes to its source).
    store.update_version(link.id, metadata={"fine_tuned_model": "ft:b"})
    assert store.get_version_by_id(src.id).metadata == {"fine_tuned_model": "ft:b"}  # type: ignore[union-attr]
    # Linking again (also through the link itself) finds the same link and moves aliases.
    again = store.link_version(src.id, "e", "chat-models", ["staging"])
    via_link = store.link_version(link.id, "e", "chat-models", [])
    assert again.id == link.id == via_link.id
    assert again.aliases == ("latest", "production", "staging")
    src2, _ = store.create_version(new_version("model-metadata", type="model", digest="m1"))
    link2 = store.link_version(src2.id, "e", "chat-models", ["production"])
    assert link2.version == "v1"
    assert {v.version: v.aliases for v in store.list_versions("e", "registry", "chat-models")} == {
        "v0": ("staging",), "v1": ("latest", "production"),
    }  # fmt: skip
    assert ("e", "registry") in store.list_projects()
    # Another type cannot go into this registry collection.
    data, _ = store.create_version(new_version())
    with pytest.raises(UsageError, match="type 'model'"):
        store.link_version(data.id, "e", "chat-models", [])
    with pytest.raises(ReferenceNotFound):
        store.link_version(999, "e", "chat-models", [])


def test_deleting_the_newest_version_moves_latest_back(store: SQLStore) -> None:
    v0, _ = store.create_version(new_version(digest="d0"))
    v1, _ = store.create_version(new_version(digest="d1", files=3))
    run = make_run(store)
    store.add_usage(v1.id, run)
    store.delete_version(v1.id)
    assert aliases_by_version(store) == {"v0": ("latest",)}
    assert store.manifest(v1.id) == [] and store.versions_used_by(run) == []
    assert store.referenced_blobs() == {"d0-sha0"}
    v2, _ = store.create_version(new_version(digest="d2"))
    assert v2.version == "v2"  # numbers are never reused
    store.delete_version(v0.id)
    assert aliases_by_version(store) == {"v2": ("latest",)}
    with pytest.raises(ReferenceNotFound):
        store.delete_version(v0.id)


def test_deleting_a_source_deletes_its_links(store: SQLStore) -> None:
    s0, _ = store.create_version(new_version("m", type="model", digest="a"))
    s1, _ = store.create_version(new_version("m", type="model", digest="b"))
    store.link_version(s0.id, "e", "reg", ["prod"])
    store.link_version(s1.id, "e", "reg", [])
    store.delete_version(s1.id)
    assert {v.version: v.aliases for v in store.list_versions("e", "registry", "reg")} == {
        "v0": ("latest", "prod")
    }
    store.delete_collection("e", "p", "m")
    assert store.get_collection("e", "p", "m") is None
    assert store.list_versions("e", "registry", "reg") == []
    assert store.referenced_blobs() == set()


def test_delete_collection_cascades(store: SQLStore) -> None:
    run = make_run(store)
    for i in range(3):
        v, _ = store.create_version(new_version(digest=f"d{i}", aliases=[f"a{i}"], logged_by=run, files=2))
        store.add_usage(v.id, run)
    store.add_blob_refs(run, ["table-blob"])
    store.delete_collection("e", "p", "data")
    assert store.get_collection("e", "p", "data") is None
    assert store.versions_used_by(run) == [] and store.versions_logged_by(run) == []
    assert store.referenced_blobs() == {"table-blob"}
    # The name can be used again, from v0.
    v, _ = store.create_version(new_version(type="model"))
    assert v.version == "v0"
    with pytest.raises(ReferenceNotFound):
        store.delete_collection("e", "p", "nope")


def test_referenced_blobs_union(store: SQLStore) -> None:
    run = make_run(store)
    store.create_version(new_version(digest="x", files=2))
    store.create_version(new_version("other", digest="x", files=1))  # same blob in two artifacts
    store.add_blob_refs(run, ["t1", "t1", "x-sha0"])
    assert store.referenced_blobs() == {"x-sha0", "x-sha1", "t1"}
