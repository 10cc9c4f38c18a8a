"""Architectures as SVG pictures, in the manner of the genotype plots of DARTS: a micro cell's
two inputs, its nodes with the op of each incoming edge written on the edge, and the
concatenated output; both cells of an architecture side by side; the macro space's chain of
layers with its skip connections as arcs.

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

COL, ROW = 165, 78
STAGGER = 60  # sideways step of alternate nodes in a column of three or more
NODE_W, NODE_H = 64, 34
PAD = 24
TITLE_H = 30


@dataclass
class _Box:
    key: str
    label: str
    kind: str  # input, node, output
    x: float = 0.0
    y: float = 0.0


def _micro_cell(cell: Cell, title: str, ox: float) -> tuple[list[str], float, float]:
    """One cell's elements, drawn from x = `ox`; returns them with the cell's width, height."""
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
    height = TITLE_H + rows * ROW + PAD
    for d, members in columns.items():
        top = TITLE_H + (rows - len(members)) * ROW / 2
        for r, index in enumerate(members):
            # Alternate rows of a crowded column step sideways, so the labels of the edges
            # into them do not stack up.
            shift = (r % 2) * STAGGER if len(members) > 2 and 0 < d < out_depth else 0
            boxes[index].x = ox + PAD + NODE_W / 2 + d * COL + shift
            boxes[index].y = top + ROW / 2 + r * ROW
    width = 2 * PAD + NODE_W + out_depth * COL

    edges: list[str] = []
    for j, (in1, op1, in2, op2) in enumerate(cell.to_ops()):
        target = boxes[j + 2]
        same = in1 == in2
        for k, (src, op) in enumerate(((in1, op1), (in2, op2))):
            bend = (-1 if k == 0 else 1) * 22 if same else 0
            edges.append(_edge(boxes[int(src)], target, str(op), bend=bend, slot=2 * k - 1))
    for j in cell.loose_ends():
        edges.append(_edge(boxes[j + 2], boxes[-1], None, bend=0))
    parts = [
        f'<g class="cell" data-cell="{escape(title)}">',
        f'<text x="{ox + PAD}" y="{TITLE_H - 10}" font-size="15" font-weight="600" '
        f'fill="#222">{escape(title)}</text>',
        *edges,
        *(_node(b) for b in boxes),
        "</g>",
    ]
    return parts, width, height


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


def _edge(src: _Box, dst: _Box, op: str | None, *, bend: float, slot: int = 0) -> str:
    """A quadratic curve from the right of `src` to the left of `dst` (its upper half for
    slot -1, lower for 1), bent sideways by `bend` px (two edges between the same nodes bend
    apart), with the op written on it near its end, where the edges into a node part."""
    x1, y1 = src.x + NODE_W / 2, src.y
    x2, y2 = dst.x - NODE_W / 2, dst.y + slot * NODE_H / 4
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    dx, dy = x2 - x1, y2 - y1
    length = max((dx * dx + dy * dy) ** 0.5, 1.0)
    cx, cy = mx - dy / length * bend * 2, my + dx / length * bend * 2
    color = OP_COLORS.get(op or "", "#888")
    path = (f'<path d="M{x1:.1f},{y1:.1f} Q{cx:.1f},{cy:.1f} {x2:.1f},{y2:.1f}" fill="none" '
            f'stroke="{color}" stroke-width="1.6" marker-end="url(#arrow)"/>')
    if op is None:
        return f'<g class="edge" data-from="{src.key}" data-to="{dst.key}">{path}</g>'
    # Towards the target, where edges run apart (they leave the two inputs in a fan); the two
    # edges into one node at different distances from it.
    t = 0.78 if slot > 0 else 0.56
    lx = (1 - t) ** 2 * x1 + 2 * (1 - t) * t * cx + t * t * x2
    ly = (1 - t) ** 2 * y1 + 2 * (1 - t) * t * cy + t * t * y2
    label = (f'<text x="{lx:.1f}" y="{ly + 4:.1f}" text-anchor="middle" font-size="12" '
             f'fill="{color}" stroke="#fff" stroke-width="3" paint-order="stroke">'
             f"{escape(op)}</text>")
    return (f'<g class="edge" data-from="{src.key}" data-to="{dst.key}" '
            f'data-op="{escape(op)}">{path}{label}</g>')


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
    """Both cells side by side: the normal (conv) cell, then the reduction cell."""
    conv, w1, h1 = _micro_cell(arch.conv, "Normal cell", 0)
    reduce, w2, h2 = _micro_cell(arch.reduce, "Reduction cell", w1 + PAD)
    top = TITLE_H if title else 0
    body = conv + reduce
    if title:
        body = [f'<text x="{PAD}" y="22" font-size="16" font-weight="700" fill="#111">'
                f"{escape(title)}</text>", f'<g transform="translate(0,{top})">', *body, "</g>"]
    desc = f"conv cell: {arch.conv.to_text()}; reduction cell: {arch.reduce.to_text()}"
    return _svg(body, w1 + PAD + w2, top + max(h1, h2), title or "ENAS micro architecture",
                desc)


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
