"""The tree converter's graph (``kansci.plot_tree``) drawn as a small SVG string.

The root (all variables) is at the top and the variables are the leaves at the bottom; each
inner node is a group of variables the function depends on only through one function of them.
"""
from __future__ import annotations

import html

import networkx as nx


def tree_layout(graph: nx.DiGraph) -> dict:
    """{node: (x, depth)}: leaves evenly spaced left to right in depth-first order, each inner
    node centred over its children; depth 0 is the root."""
    roots = [n for n in graph.nodes if graph.in_degree(n) == 0]
    pos: dict = {}
    next_leaf = [0]

    def place(node, depth: int) -> float:
        children = sorted(graph.successors(node))
        if not children:
            x = float(next_leaf[0])
            next_leaf[0] += 1
        else:
            x = sum(place(c, depth + 1) for c in children) / len(children)
        pos[node] = (x, depth)
        return x

    for root in sorted(roots):
        place(root, 0)
    return pos


def tree_svg(graph: nx.DiGraph, width: int = 400, row_height: int = 70) -> str:
    """An SVG drawing of the tree (class ``kansci-tree``), one labelled box per node."""
    if graph.number_of_nodes() == 0:
        return "<i>empty tree</i>"
    pos = tree_layout(graph)
    n_leaves = max(x for x, _ in pos.values()) + 1
    depth = max(d for _, d in pos.values())
    height = (depth + 1) * row_height + 20
    sx = lambda x: (x + 0.5) / n_leaves * width  # noqa: E731
    sy = lambda d: 25 + d * row_height  # noqa: E731
    parts = [f'<svg class="kansci-tree" width="{width}" height="{height}" '
             'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="12">']
    for a, b in graph.edges:
        (xa, da), (xb, db) = pos[a], pos[b]
        parts.append(f'<line x1="{sx(xa):.1f}" y1="{sy(da) + 9}" x2="{sx(xb):.1f}" '
                     f'y2="{sy(db) - 9}" stroke="#444" stroke-width="1"/>')
    for node, (x, d) in pos.items():
        label = html.escape(str(graph.nodes[node].get("label", node)))
        leaf = graph.out_degree(node) == 0
        box_w = max(24, 7 * len(label) + 10)
        fill = "#fff" if leaf else "#eef3fb"
        parts.append(f'<rect x="{sx(x) - box_w / 2:.1f}" y="{sy(d) - 9}" width="{box_w}" '
                     f'height="18" rx="4" fill="{fill}" stroke="#444"/>'
                     f'<text x="{sx(x):.1f}" y="{sy(d) + 4}" text-anchor="middle">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)
