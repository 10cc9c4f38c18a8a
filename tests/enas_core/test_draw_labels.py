"""Architecture pictures stay readable: the two cells one above the other, each op label in a
spot of its own (on no node, no other label, inside the picture), and no edge run through a
node it does not join. Over many random cells of 2 to 7 nodes."""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET

import pytest

from enas_core.draw import NODE_H, NODE_W, label_rect
from enas_core.spaces import draw
from enas_core.spaces.micro.architecture import PRIMITIVES, MicroArchitecture

SVG = "{http://www.w3.org/2000/svg}"
TRANSLATE = re.compile(r"translate\(0,([0-9.]+)\)")


def _random_cell(rng: random.Random, nodes: int) -> str:
    ints = []
    for j in range(nodes):
        ints += [rng.randrange(j + 2), rng.randrange(len(PRIMITIVES)),
                 rng.randrange(j + 2), rng.randrange(len(PRIMITIVES))]
    return " ".join(map(str, ints))


def _overlap(a, b) -> bool:
    """More than the SVG's rounding to 0.1 px."""
    return min(a[2], b[2]) - max(a[0], b[0]) > 0.2 and min(a[3], b[3]) - max(a[1], b[1]) > 0.2


def _curve(d: str) -> list[tuple[float, float]]:
    (x1, y1), (cx, cy), (x2, y2) = [tuple(map(float, p.split(",")))
                                    for p in re.findall(r"-?[0-9.]+,-?[0-9.]+", d)]
    return [((1 - t) ** 2 * x1 + 2 * (1 - t) * t * cx + t * t * x2,
             (1 - t) ** 2 * y1 + 2 * (1 - t) * t * cy + t * t * y2)
            for t in (i / 40 for i in range(2, 39))]


def _cells(svg: str):
    root = ET.fromstring(svg)
    width, height = (float(v) for v in root.get("viewBox").split()[2:])
    for cell in root.iter(f"{SVG}g"):
        if "cell" not in cell.get("class", "").split():
            continue
        nodes = {}
        for g in cell.iter(f"{SVG}g"):
            if "node" in g.get("class", "").split():
                rect = g.find(f"{SVG}rect")
                x, y = float(rect.get("x")), float(rect.get("y"))
                nodes[g.get("data-node")] = (x, y, x + NODE_W, y + NODE_H)
        edges = [g for g in cell.iter(f"{SVG}g") if "edge" in g.get("class", "").split()]
        yield cell.get("data-cell"), nodes, edges, (width, height)


@pytest.mark.parametrize("seed", range(3))
def test_labels_have_spots_of_their_own_and_edges_go_round_nodes(seed):
    rng = random.Random(seed)
    for nodes in (2, 3, 4, 5, 6, 7):
        for _ in range(4):
            arch = MicroArchitecture.parse(_random_cell(rng, nodes), _random_cell(rng, nodes))
            svg = draw(arch, title="job: rank 1")
            top = float(TRANSLATE.search(svg).group(1))
            tops = []
            for name, boxes, edges, (width, height) in _cells(svg):
                labels = []
                for edge in edges:
                    text = edge.find(f"{SVG}text")
                    ends = {edge.get("data-from"), edge.get("data-to")}
                    others = [box for key, box in boxes.items() if key not in ends]
                    for x, y in _curve(edge.find(f"{SVG}path").get("d")):
                        assert not any(b[0] - 2 < x < b[2] + 2 and b[1] - 2 < y < b[3] + 2
                                       for b in others), (arch.to_text(), name, ends)
                    if text is not None:
                        # The label's box as draw.py sizes it (DejaVu Sans' widths and more).
                        rect = label_rect(text.text, float(text.get("x")),
                                          float(text.get("y")) - 4)
                        assert 0 <= rect[0] and rect[2] <= width, (arch.to_text(), name)
                        assert 0 <= rect[1] + top and rect[3] + top <= height
                        labels.append(rect)
                for i, rect in enumerate(labels):
                    assert not any(_overlap(rect, b) for b in boxes.values()), arch.to_text()
                    assert not any(_overlap(rect, other) for other in labels[i + 1:]), (
                        arch.to_text(), name)
                tops.append(min(b[1] for b in boxes.values()))
            # The reduction cell below the normal cell, not beside it.
            assert tops[1] > tops[0]


def test_a_cell_of_five_nodes_fits_a_laptop_page():
    """The presets' cells have 5 nodes: drawn at most a laptop page's width (the dashboard
    scales a wider picture down, and its labels with it)."""
    rng = random.Random(7)
    widths = []
    for _ in range(40):
        arch = MicroArchitecture.parse(_random_cell(rng, 5), _random_cell(rng, 5))
        widths.append(float(ET.fromstring(draw(arch)).get("viewBox").split()[2]))
    assert max(widths) <= 1200, sorted(widths)[-5:]
