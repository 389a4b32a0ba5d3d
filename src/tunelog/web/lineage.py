"""The lineage graph around an artifact version: dataset → run → model → the runs that used it.

From the focus version the graph walks two steps up (the run that logged it, and what that run
used) and three steps down (the runs that used it, what they logged, and who used that), with at most
:data:`PER_LAYER` nodes per layer. Layers become columns; :func:`layout` gives every node a place for
an SVG drawing (no graph library, no script needed to draw it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tunelog.api import Api

PER_LAYER = 12
NODE_W, NODE_H, COL_GAP, ROW_GAP = 210, 46, 70, 14


@dataclass
class Node:
    id: str
    kind: str  # "run" | "artifact"
    label: str
    sub: str
    href: str
    layer: int
    focus: bool = False
    x: float = 0.0
    y: float = 0.0


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [
                {
                    "id": n.id,
                    "kind": n.kind,
                    "label": n.label,
                    "sub": n.sub,
                    "href": n.href,
                    "layer": n.layer,
                    "focus": n.focus,
                }
                for n in self.nodes.values()
            ],
            "edges": [list(e) for e in self.edges],
        }

    def edge_paths(self) -> list[tuple[Node, Node]]:
        return [(self.nodes[a], self.nodes[b]) for a, b in self.edges if a in self.nodes and b in self.nodes]


def _q(part: str) -> str:
    return quote(part, safe="")


def _art_node(a: Any, layer: int) -> Node:
    e, p = a.entity, a.project
    return Node(
        id=f"art:{a.qualified_name}",
        kind="artifact",
        label=f"{a.name}:{a.version}",
        sub=a.type,
        href=f"/{_q(e)}/{_q(p)}/artifacts/{_q(a.name)}/{_q(a.version)}",
        layer=layer,
    )


def _run_node(r: Any, layer: int) -> Node:
    return Node(
        id=f"run:{r.path}",
        kind="run",
        label=r.name,
        sub=f"{r.job_type or 'run'} · {r.state}",
        href=f"/{_q(r.entity)}/{_q(r.project)}/runs/{_q(r.id)}",
        layer=layer,
    )


def build_lineage(api: Api, art: Any) -> Graph:
    """The graph around ``art`` (a logged :class:`~tunelog.Artifact`)."""
    g = Graph()
    focus = _art_node(art, 0)
    focus.focus = True
    g.nodes[focus.id] = focus
    counts: dict[int, int] = {0: 1}

    def add(node: Node) -> bool:
        if node.id in g.nodes:
            return True
        if counts.get(node.layer, 0) >= PER_LAYER:
            return False
        counts[node.layer] = counts.get(node.layer, 0) + 1
        g.nodes[node.id] = node
        return True

    def edge(a: str, b: str) -> None:
        if (a, b) not in g.edges:
            g.edges.append((a, b))

    # Upstream: the producer and what it used.
    producer = art.logged_by()
    if producer is not None:
        pn = _run_node(producer, -1)
        add(pn)
        edge(pn.id, focus.id)
        for used in producer.used_artifacts()[:PER_LAYER]:
            un = _art_node(used, -2)
            if add(un):
                edge(un.id, pn.id)
    # Downstream: consumers, their outputs, and the consumers of those.
    for consumer in art.used_by()[:PER_LAYER]:
        cn = _run_node(consumer, 1)
        if not add(cn):
            continue
        edge(focus.id, cn.id)
        for out in consumer.logged_artifacts()[:PER_LAYER]:
            on = _art_node(out, 2)
            if not add(on):
                continue
            edge(cn.id, on.id)
            for user in out.used_by()[:PER_LAYER]:
                un2 = _run_node(user, 3)
                if add(un2):
                    edge(on.id, un2.id)
    layout(g)
    return g


def layout(g: Graph) -> None:
    """Columns by layer, nodes stacked and centred in each column."""
    layers = sorted({n.layer for n in g.nodes.values()})
    columns = {layer: [n for n in g.nodes.values() if n.layer == layer] for layer in layers}
    tallest = max((len(c) for c in columns.values()), default=1)
    g.height = tallest * (NODE_H + ROW_GAP) + ROW_GAP
    for i, layer in enumerate(layers):
        col = columns[layer]
        top = (g.height - len(col) * (NODE_H + ROW_GAP)) / 2 + ROW_GAP / 2
        for j, n in enumerate(col):
            n.x = 10 + i * (NODE_W + COL_GAP)
            n.y = top + j * (NODE_H + ROW_GAP)
    g.width = 20 + len(layers) * (NODE_W + COL_GAP) - COL_GAP
