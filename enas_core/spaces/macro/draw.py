"""A macro architecture as an SVG picture: the chain of layers, each layer's op in its box, its
skip connections as arcs over the chain, where the resolution halves. Pure Python, no torch.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from ...draw import FILL, OP_COLORS, PAD, TITLE_H, Box, svg
from .layout import pool_layers

if TYPE_CHECKING:
    from .architecture import MacroArchitecture


MACRO_COL, MACRO_Y = 112, 150


def draw_macro(arch: MacroArchitecture, *, title: str | None = None) -> str:
    """The chain input -> layer 0 -> ... -> output, each layer's op in its box; a skip from
    state j into layer i is an arc over the chain (state 0 is the stem, state j >= 1 the
    output of layer j-1, as in `model.py`); a dashed line marks where the resolution
    halves."""
    top = TITLE_H if title else 0
    y = top + MACRO_Y
    boxes = [Box("in", "input", "input")]
    names = [layer["op"] for layer in arch.to_json()["layer_ops"]]
    boxes += [Box(f"l{i}", name, "node") for i, name in enumerate(names)]
    boxes.append(Box("out", "output", "output"))
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
    return svg(body, width, y + 70, title or "ENAS macro architecture", desc)


def _macro_node(box: Box) -> str:
    w, h = 92, 34
    color = OP_COLORS.get(box.label, "#444") if box.kind == "node" else "#444"
    return (
        f'<g class="node" data-node="{box.key}" data-kind="{box.kind}">'
        f'<rect x="{box.x - w / 2:.1f}" y="{box.y - h / 2:.1f}" width="{w}" height="{h}" '
        f'rx="6" fill="{FILL[box.kind]}" stroke="{color}" stroke-width="1.6"/>'
        f'<text x="{box.x:.1f}" y="{box.y + 4:.1f}" text-anchor="middle" font-size="11.5" '
        f'fill="#111">{escape(box.label)}</text></g>'
    )


def _chain_edge(a: Box, b: Box) -> str:
    return (f'<g class="edge" data-from="{a.key}" data-to="{b.key}"><path d="M{a.x + 46:.1f},'
            f'{a.y:.1f} L{b.x - 46:.1f},{b.y:.1f}" stroke="#555" stroke-width="1.6" '
            f'marker-end="url(#arrow)"/></g>')


def _skip_edge(a: Box, b: Box) -> str:
    span = b.x - a.x
    lift = min(30 + span * 0.22, 125)
    return (f'<g class="edge skip" data-from="{a.key}" data-to="{b.key}"><path d="M{a.x:.1f},'
            f'{a.y - 17:.1f} C{a.x + span * 0.2:.1f},{a.y - 17 - lift:.1f} '
            f'{b.x - span * 0.2:.1f},{b.y - 17 - lift:.1f} {b.x - 8:.1f},{b.y - 17:.1f}" '
            f'fill="none" stroke="#8e44ad" stroke-width="1.3" stroke-opacity="0.8" '
            f'marker-end="url(#arrow)"/></g>')
