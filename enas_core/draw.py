"""What the spaces' SVG pictures of architectures are drawn with, in the manner of the genotype
plots of DARTS: boxes, curved edges with the op written on them, routed around other boxes,
labels placed where they cover nothing, one colour per op. Each space draws its architectures
with these (`spaces/<space>/draw.py`): micro cells as small layered DAGs, the macro chain of
layers with its skips as arcs.

A small layered layout of our own instead of Graphviz: a cell is a DAG of at most a dozen
nodes whose layers are known, so placing them takes a few lines and needs no system package;
the service draws with it everywhere, embedded mode included. Pure Python, no torch.

`enas_core.spaces.draw(arch)` draws an architecture of any space. Every element carries a
class (`node`, `edge`, with `data-op` on op edges), so a program (or a test) can read the
picture back.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

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

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass
class Box:
    key: str
    label: str
    kind: str  # input, node, output
    x: float = 0.0
    y: float = 0.0


@dataclass
class Edge:
    src: Box
    dst: Box
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


def blocked(edge: Edge, boxes: list[Box]) -> bool:
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


def route(edge: Edge, boxes: list[Box], *, upward: bool) -> None:
    """An edge that would run through other nodes (a skip over a column, straight along a
    row) arcs over them, or under them, as little as it needs."""
    if not blocked(edge, boxes):
        return
    base = edge.bend
    for bend in ARC_BENDS:
        for skew in ARC_SKEWS:
            for sign in ((-1, 1) if upward else (1, -1)):
                # Positive bends turn a left-to-right edge downwards.
                edge.bend, edge.skew = base + sign * bend, skew
                if not blocked(edge, boxes):
                    return
    edge.bend, edge.skew = base + (-1 if upward else 1) * ARC_BENDS[-1], 0.5


def label_rect(op: str, x: float, y: float) -> Rect:
    """The box of an op label centred on (x, y), with its margin."""
    half_w = len(op) * LABEL_CHAR_W / 2 + LABEL_MARGIN
    half_h = LABEL_H / 2 + LABEL_MARGIN
    return x - half_w, y - half_h, x + half_w, y + half_h


def overlap(a: Rect, b: Rect) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def place_labels(edges: list[Edge], boxes: list[Box], bounds: Rect,
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
        return (1e6 if outside else 0.0) + sum(overlap(rect, r) for r in nodes + taken)

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
            free[k] = [s for s in options if not overlap(s[1], rect)]
    return placed, covered


def node_svg(box: Box) -> str:
    x, y = box.x - NODE_W / 2, box.y - NODE_H / 2
    radius = NODE_H / 2 if box.kind == "node" else 6
    return (
        f'<g class="node" data-node="{escape(box.key)}" data-kind="{box.kind}">'
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="{radius:.0f}" '
        f'fill="{FILL[box.kind]}" stroke="#444" stroke-width="1.2"/>'
        f'<text x="{box.x:.1f}" y="{box.y + 5:.1f}" text-anchor="middle" font-size="14" '
        f'fill="#111">{escape(box.label)}</text></g>'
    )


def edge_svg(edge: Edge, spot: tuple[float, float] | None) -> str:
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


def svg(body: list[str], width: float, height: float, title: str, desc: str) -> str:
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
