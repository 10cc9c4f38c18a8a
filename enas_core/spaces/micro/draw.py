"""A micro architecture as an SVG picture: each cell's two inputs, its nodes with the op of
each incoming edge written on the edge, and the concatenated output; the normal cell above the
reduction cell. A node sits one column right of its deepest input. Pure Python, no torch.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from ...draw import (
    CURVE_TS,
    NODE_W,
    PAD,
    TITLE_H,
    Box,
    Edge,
    edge_svg,
    node_svg,
    place_labels,
    route,
    svg,
)

if TYPE_CHECKING:
    from .architecture import Cell, MicroArchitecture

COL, ROW = 175, 78
STAGGER = 60  # sideways step of alternate nodes in a column of three or more
SPREAD, SPREAD_STEPS = 1.15, 8  # a cell too crowded for its labels is drawn this much wider


def _micro_cell(cell: Cell, title: str, oy: float) -> tuple[list[str], float, float]:
    """One cell's elements, drawn from y = `oy`; returns them with the cell's width, height.
    Drawn wider, step by step, until every op label has a spot of its own."""
    for step in range(SPREAD_STEPS + 1):
        col = COL * SPREAD**step
        row = ROW * SPREAD ** (step / 2)
        parts, width, height, covered = _micro_cell_at(cell, title, oy, col, row)
        if covered == 0:
            break
    return parts, width, height


def _micro_cell_at(cell: Cell, title: str, oy: float, col: float,
                   row: float) -> tuple[list[str], float, float, float]:
    n = len(cell.nodes)
    boxes = [Box("in0", "c_{k-2}", "input"), Box("in1", "c_{k-1}", "input")]
    boxes += [Box(f"n{j}", str(j), "node") for j in range(n)]
    depth = [0, 0]
    for node in cell.nodes:
        depth.append(1 + max(depth[node.in1], depth[node.in2]))
    out_depth = 1 + max(depth[j + 2] for j in cell.loose_ends())
    boxes.append(Box("out", "c_{k}", "output"))
    depth.append(out_depth)

    columns: dict[int, list[int]] = {}
    for index, d in enumerate(depth):
        columns.setdefault(d, []).append(index)
    rows = max(len(v) for v in columns.values())
    height = TITLE_H + rows * row + PAD
    for d, members in columns.items():
        top = oy + TITLE_H + (rows - len(members)) * row / 2
        for r, index in enumerate(members):
            # Alternate rows of a crowded column step sideways, so the labels of the edges
            # into them do not stack up.
            shift = (r % 2) * STAGGER if len(members) > 2 and 0 < d < out_depth else 0
            boxes[index].x = PAD + NODE_W / 2 + d * col + shift
            boxes[index].y = top + row / 2 + r * row
    width = 2 * PAD + NODE_W + out_depth * col

    edges: list[Edge] = []
    for j, (in1, op1, in2, op2) in enumerate(cell.to_ops()):
        same = in1 == in2
        for k, (src, op) in enumerate(((in1, op1), (in2, op2))):
            bend = (-1 if k == 0 else 1) * 22 if same else 0
            edges.append(Edge(boxes[int(src)], boxes[j + 2], str(op), bend, 2 * k - 1))
    for j in cell.loose_ends():
        edges.append(Edge(boxes[j + 2], boxes[-1], None, 0))
    middle = oy + TITLE_H + rows * row / 2
    for i, edge in enumerate(edges):
        # Over the nodes in the upper half of the cell, under them in the lower half; along
        # the middle row, over and under in turn.
        centre = (edge.src.y + edge.dst.y) / 2
        route(edge, boxes, upward=centre < middle if abs(centre - middle) > 1 else i % 2 == 0)
    # Arcs over (or under) the nodes get room of their own: the nodes move down, the cell
    # grows.
    ys = [e.point(t)[1] for e in edges for t in CURVE_TS]
    above = max(0.0, oy + TITLE_H + 4 - min(ys))
    for box in boxes:
        box.y += above
    height += above + max(0.0, max(ys) + above - (oy + height - 8))
    spots, covered = place_labels(edges, boxes, (0, oy + TITLE_H - 6, width, oy + height))
    parts = [
        f'<g class="cell" data-cell="{escape(title)}">',
        f'<text x="{PAD}" y="{oy + TITLE_H - 10}" font-size="15" font-weight="600" '
        f'fill="#222">{escape(title)}</text>',
        *(edge_svg(e, spots.get(i)) for i, e in enumerate(edges)),
        *(node_svg(b) for b in boxes),
        "</g>",
    ]
    return parts, width, height, covered


def draw_micro(arch: MicroArchitecture, *, title: str | None = None) -> str:
    """The normal (conv) cell above the reduction cell: one cell's width, so that the picture
    scaled to a page's width keeps its labels readable."""
    conv, w1, h1 = _micro_cell(arch.conv, "Normal cell", 0)
    reduce, w2, h2 = _micro_cell(arch.reduce, "Reduction cell", h1)
    top = TITLE_H if title else 0
    body = conv + reduce
    if title:
        body = [f'<text x="{PAD}" y="22" font-size="16" font-weight="700" fill="#111">'
                f"{escape(title)}</text>", f'<g transform="translate(0,{top})">', *body, "</g>"]
    desc = f"conv cell: {arch.conv.to_text()}; reduction cell: {arch.reduce.to_text()}"
    return svg(body, max(w1, w2), top + h1 + h2, title or "ENAS micro architecture", desc)
