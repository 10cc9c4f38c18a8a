"""Architectures as SVG pictures, in the manner of the genotype plots of DARTS: a micro cell's
two inputs, its nodes with the op of each incoming edge written on the edge, and the
concatenated output; the two cells of an architecture one above the other; the macro space's
chain of layers with its skip connections as arcs.

A small layered layout of our own instead of Graphviz: a cell is a DAG of at most a dozen
nodes whose layers are known (a node sits one column right of its deepest input), so placing
them takes a few lines and needs no system package; the service draws with it everywhere,
embedded mode included. Pure Python, no torch.

`enas_core.spaces.draw(arch)` draws an architecture of any space (each space picks its
layout). Every element carries a class (`node`, `edge`, with `data-op` on op edges), so a
program (or a test) can read the picture back.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from .layout import pool_layers

if TYPE_CHECKING:  # the architecture types call these functions (`_repr_svg_`)
    from .architecture import Cell, MacroArchitecture, MicroArchitecture

# One colour per op, so the same op reads the same in every picture.
OP_COLORS = {
    "sep_conv_3x3": "#1f77b4",
    "sep_conv_5x5": "#17456e",
    "avg_pool_3x3": "#d9822b",
    "max_pool_3x3": "#c0392b",
    "identity": "#6b6b6b",
    "conv_3x3": "#2e8b57",
    "conv_5x5": "#1b5e3a",
}
FILL = {"input": "#d8efd3", "node": "#dbe9f7", "output": "#fbeab0"}
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', sans-serif\""

COL, ROW = 175, 78
STAGGER = 60  # sideways step of alternate nodes in a column of three or more
NODE_W, NODE_H = 64, 34
PAD = 24
TITLE_H = 30
# An op label's box, as DejaVu Sans (among the widest fonts a browser falls back to) sets it
# at LABEL_SIZE px: 0.6 em a character, 14 px high; a margin keeps the white halos apart.
LABEL_SIZE = 12
LABEL_CHAR_W, LABEL_H, LABEL_MARGIN = 0.62 * LABEL_SIZE, 14.0, 1.5
# Where on its edge a label may sit (the fraction of the curve from the source), the
# preferred first: towards the target, where the edges that fan out of one input have parted.
LABEL_TS = tuple(sorted((i / 40 for i in range(7, 36)), key=lambda t: abs(t - 0.64)))
# Failing a free spot on its edge, a label may sit just above or below it.
LABEL_SHIFTS = (-(LABEL_H / 2 + 2), LABEL_H / 2 + 2)
SPREAD, SPREAD_STEPS = 1.15, 8  # a cell too crowded for its labels is drawn this much wider

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass
class _Box:
    key: str
    label: str
    kind: str  # input, node, output
    x: float = 0.0
    y: float = 0.0


@dataclass
class _Edge:
    src: _Box
    dst: _Box
    op: str | None
    bend: float
    slot: float = 0
    skew: float = 0.5

    def curve(self) -> tuple[float, float, float, float, float, float]:
        """A quadratic curve from the right of `src` to the left of `dst` (its upper half for
        slot -1, lower for 1), bent sideways by `bend` px (two edges between the same nodes
        bend apart) at `skew` of the way: start, control and end points."""
        x1, y1 = self.src.x + NODE_W / 2, self.src.y
        x2, y2 = self.dst.x - NODE_W / 2, self.dst.y + self.slot * NODE_H / 4
        dx, dy = x2 - x1, y2 - y1
        mx, my = x1 + dx * self.skew, y1 + dy * self.skew
        length = max((dx * dx + dy * dy) ** 0.5, 1.0)
        return x1, y1, mx - dy / length * self.bend * 2, my + dx / length * self.bend * 2, x2, y2

    def point(self, t: float) -> tuple[float, float]:
        x1, y1, cx, cy, x2, y2 = self.curve()
        return ((1 - t) ** 2 * x1 + 2 * (1 - t) * t * cx + t * t * x2,
                (1 - t) ** 2 * y1 + 2 * (1 - t) * t * cy + t * t * y2)


CURVE_TS = tuple(i / 20 for i in range(1, 20))  # where a curve's extent is measured
ARC_BENDS = (30, 42, 56, 72, 90, 110, 135)  # px a blocked edge is bent by, smallest first
ARC_SKEWS = (0.5, 0.35, 0.65, 0.22, 0.78)  # where along it the bend is widest, as a fraction


def _blocked(edge: _Edge, boxes: list[_Box]) -> bool:
    """Whether the edge runs through a node other than its two ends."""
    others = [b for b in boxes if b is not edge.src and b is not edge.dst]
    x1, y1, _, _, x2, y2 = edge.curve()
    steps = max(20, int(abs(x2 - x1) + abs(y2 - y1)) // 8)  # a point every 8 px or closer
    for t in (i / steps for i in range(1, steps)):
        x, y = edge.point(t)
        for b in others:
            if abs(x - b.x) < NODE_W / 2 + 4 and abs(y - b.y) < NODE_H / 2 + 4:
                return True
    return False


def _route(edge: _Edge, boxes: list[_Box], *, upward: bool) -> None:
    """An edge that would run through other nodes (a skip over a column, straight along a
    row) arcs over them, or under them, as little as it needs."""
    if not _blocked(edge, boxes):
        return
    base = edge.bend
    for bend in ARC_BENDS:
        for skew in ARC_SKEWS:
            for sign in ((-1, 1) if upward else (1, -1)):
                # Positive bends turn a left-to-right edge downwards.
                edge.bend, edge.skew = base + sign * bend, skew
                if not _blocked(edge, boxes):
                    return
    edge.bend, edge.skew = base + (-1 if upward else 1) * ARC_BENDS[-1], 0.5


def label_rect(op: str, x: float, y: float) -> Rect:
    """The box of an op label centred on (x, y), with its margin."""
    half_w = len(op) * LABEL_CHAR_W / 2 + LABEL_MARGIN
    half_h = LABEL_H / 2 + LABEL_MARGIN
    return x - half_w, y - half_h, x + half_w, y + half_h


def _overlap(a: Rect, b: Rect) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _place_labels(edges: list[_Edge], boxes: list[_Box], bounds: Rect,
                  ) -> tuple[dict[int, tuple[float, float]], float]:
    """A spot on its edge for each op label where it covers no node and no other label:
    the most constrained edge first, each at its most preferred free spot. Returns the spots
    (by edge index) and the area still covered (0 when every label found a free spot)."""
    nodes = [(b.x - NODE_W / 2 - 2, b.y - NODE_H / 2 - 2, b.x + NODE_W / 2 + 2,
              b.y + NODE_H / 2 + 2) for b in boxes]
    spots = {}
    for i, e in enumerate(edges):
        if e.op is not None:
            points = [e.point(t) for t in LABEL_TS]
            points += [(x, y + dy) for dy in LABEL_SHIFTS for x, y in points]
            spots[i] = [((x, y), label_rect(e.op, x, y)) for x, y in points]
    placed: dict[int, tuple[float, float]] = {}
    taken: list[Rect] = []
    covered = 0.0

    def cost(rect: Rect) -> float:
        outside = (rect[0] < bounds[0] or rect[1] < bounds[1] or rect[2] > bounds[2]
                   or rect[3] > bounds[3])
        return (1e6 if outside else 0.0) + sum(_overlap(rect, r) for r in nodes + taken)

    free = {i: [s for s in options if cost(s[1]) == 0] for i, options in spots.items()}
    while free:
        i = min(free, key=lambda k: (len(free[k]), k))
        if free[i]:
            point, rect = free[i][0]
        else:
            point, rect = min(spots[i], key=lambda s: cost(s[1]))
            covered += cost(rect)
        del free[i]
        placed[i] = point
        taken.append(rect)
        for k, options in free.items():
            free[k] = [s for s in options if not _overlap(s[1], rect)]
    return placed, covered


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
    boxes = [_Box("in0", "c_{k-2}", "input"), _Box("in1", "c_{k-1}", "input")]
    boxes += [_Box(f"n{j}", str(j), "node") for j in range(n)]
    depth = [0, 0]
    for node in cell.nodes:
        depth.append(1 + max(depth[node.in1], depth[node.in2]))
    out_depth = 1 + max(depth[j + 2] for j in cell.loose_ends())
    boxes.append(_Box("out", "c_{k}", "output"))
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

    edges: list[_Edge] = []
    for j, (in1, op1, in2, op2) in enumerate(cell.to_ops()):
        same = in1 == in2
        for k, (src, op) in enumerate(((in1, op1), (in2, op2))):
            bend = (-1 if k == 0 else 1) * 22 if same else 0
            edges.append(_Edge(boxes[int(src)], boxes[j + 2], str(op), bend, 2 * k - 1))
    for j in cell.loose_ends():
        edges.append(_Edge(boxes[j + 2], boxes[-1], None, 0))
    middle = oy + TITLE_H + rows * row / 2
    for i, edge in enumerate(edges):
        # Over the nodes in the upper half of the cell, under them in the lower half; along
        # the middle row, over and under in turn.
        centre = (edge.src.y + edge.dst.y) / 2
        _route(edge, boxes, upward=centre < middle if abs(centre - middle) > 1 else i % 2 == 0)
    # Arcs over (or under) the nodes get room of their own: the nodes move down, the cell
    # grows.
    ys = [e.point(t)[1] for e in edges for t in CURVE_TS]
    above = max(0.0, oy + TITLE_H + 4 - min(ys))
    for box in boxes:
        box.y += above
    height += above + max(0.0, max(ys) + above - (oy + height - 8))
    spots, covered = _place_labels(edges, boxes, (0, oy + TITLE_H - 6, width, oy + height))
    parts = [
        f'<g class="cell" data-cell="{escape(title)}">',
        f'<text x="{PAD}" y="{oy + TITLE_H - 10}" font-size="15" font-weight="600" '
        f'fill="#222">{escape(title)}</text>',
        *(_edge(e, spots.get(i)) for i, e in enumerate(edges)),
        *(_node(b) for b in boxes),
        "</g>",
    ]
    return parts, width, height, covered


def _node(box: _Box) -> str:
    x, y = box.x - NODE_W / 2, box.y - NODE_H / 2
    radius = NODE_H / 2 if box.kind == "node" else 6
    return (
        f'<g class="node" data-node="{escape(box.key)}" data-kind="{box.kind}">'
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="{radius:.0f}" '
        f'fill="{FILL[box.kind]}" stroke="#444" stroke-width="1.2"/>'
        f'<text x="{box.x:.1f}" y="{box.y + 5:.1f}" text-anchor="middle" font-size="14" '
        f'fill="#111">{escape(box.label)}</text></g>'
    )


def _edge(edge: _Edge, spot: tuple[float, float] | None) -> str:
    """The edge's curve, and its op written at `spot` (on the curve)."""
    x1, y1, cx, cy, x2, y2 = edge.curve()
    color = OP_COLORS.get(edge.op or "", "#888")
    path = (f'<path d="M{x1:.1f},{y1:.1f} Q{cx:.1f},{cy:.1f} {x2:.1f},{y2:.1f}" fill="none" '
            f'stroke="{color}" stroke-width="1.6" marker-end="url(#arrow)"/>')
    ends = f'data-from="{edge.src.key}" data-to="{edge.dst.key}"'
    if edge.op is None or spot is None:
        return f'<g class="edge" {ends}>{path}</g>'
    lx, ly = spot
    label = (f'<text x="{lx:.1f}" y="{ly + 4:.1f}" text-anchor="middle" '
             f'font-size="{LABEL_SIZE}" fill="{color}" stroke="#fff" stroke-width="3" '
             f'paint-order="stroke">{escape(edge.op)}</text>')
    return f'<g class="edge" {ends} data-op="{escape(edge.op)}">{path}{label}</g>'


def _svg(body: list[str], width: float, height: float, title: str, desc: str) -> str:
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" {FONT}>',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(desc)}</desc>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#fff"/>',
        *body,
        "</svg>",
    ])


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
    return _svg(body, max(w1, w2), top + h1 + h2, title or "ENAS micro architecture", desc)


MACRO_COL, MACRO_Y = 112, 150


def draw_macro(arch: MacroArchitecture, *, title: str | None = None) -> str:
    """The chain input -> layer 0 -> ... -> output, each layer's op in its box; a skip from
    state j into layer i is an arc over the chain (state 0 is the stem, state j >= 1 the
    output of layer j-1, as in `enas_core.macro`); a dashed line marks where the resolution
    halves."""
    top = TITLE_H if title else 0
    y = top + MACRO_Y
    boxes = [_Box("in", "input", "input")]
    names = [layer["op"] for layer in arch.to_json()["layer_ops"]]
    boxes += [_Box(f"l{i}", name, "node") for i, name in enumerate(names)]
    boxes.append(_Box("out", "output", "output"))
    for i, box in enumerate(boxes):
        box.x, box.y = PAD + 46 + i * MACRO_COL, y
    width = 2 * PAD + 92 + (len(boxes) - 1) * MACRO_COL
    body: list[str] = []
    if title:
        body.append(f'<text x="{PAD}" y="22" font-size="16" font-weight="700" '
                    f'fill="#111">{escape(title)}</text>')
    for layer in pool_layers(arch.layers):
        x = boxes[layer + 1].x + MACRO_COL / 2
        body.append(f'<line class="pool" x1="{x:.1f}" y1="{y - 120}" x2="{x:.1f}" '
                    f'y2="{y + 40}" stroke="#999" stroke-dasharray="4 4"/>'
                    f'<text x="{x:.1f}" y="{y + 56}" text-anchor="middle" font-size="11" '
                    f'fill="#777">reduce</text>')
    for a, b in zip(boxes, boxes[1:], strict=False):
        body.append(_chain_edge(a, b))
    for i, flags in enumerate(arch.skips):
        for j, flag in enumerate(flags):
            if flag:
                body.append(_skip_edge(boxes[j], boxes[i + 1]))
    body += [_macro_node(b) for b in boxes]
    skips = sum(map(sum, arch.skips))
    desc = f"macro architecture, {arch.layers} layers, {skips} skips: {arch.to_text()}"
    return _svg(body, width, y + 70, title or "ENAS macro architecture", desc)


def _macro_node(box: _Box) -> str:
    w, h = 92, 34
    color = OP_COLORS.get(box.label, "#444") if box.kind == "node" else "#444"
    return (
        f'<g class="node" data-node="{box.key}" data-kind="{box.kind}">'
        f'<rect x="{box.x - w / 2:.1f}" y="{box.y - h / 2:.1f}" width="{w}" height="{h}" '
        f'rx="6" fill="{FILL[box.kind]}" stroke="{color}" stroke-width="1.6"/>'
        f'<text x="{box.x:.1f}" y="{box.y + 4:.1f}" text-anchor="middle" font-size="11.5" '
        f'fill="#111">{escape(box.label)}</text></g>'
    )


def _chain_edge(a: _Box, b: _Box) -> str:
    return (f'<g class="edge" data-from="{a.key}" data-to="{b.key}"><path d="M{a.x + 46:.1f},'
            f'{a.y:.1f} L{b.x - 46:.1f},{b.y:.1f}" stroke="#555" stroke-width="1.6" '
            f'marker-end="url(#arrow)"/></g>')


def _skip_edge(a: _Box, b: _Box) -> str:
    span = b.x - a.x
    lift = min(30 + span * 0.22, 125)
    return (f'<g class="edge skip" data-from="{a.key}" data-to="{b.key}"><path d="M{a.x:.1f},'
            f'{a.y - 17:.1f} C{a.x + span * 0.2:.1f},{a.y - 17 - lift:.1f} '
            f'{b.x - span * 0.2:.1f},{b.y - 17 - lift:.1f} {b.x - 8:.1f},{b.y - 17:.1f}" '
            f'fill="none" stroke="#8e44ad" stroke-width="1.3" stroke-opacity="0.8" '
            f'marker-end="url(#arrow)"/></g>')
