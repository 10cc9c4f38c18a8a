"""Architecture pictures: every node and edge of the architecture is in the SVG, and the
`enas draw` command writes one."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from enas_core.cli import main
from enas_core.spaces import draw, get_space, space_names
from enas_core.spaces.macro.architecture import MacroArchitecture
from enas_core.spaces.micro.architecture import PRIMITIVES, MicroArchitecture

SVG = "{http://www.w3.org/2000/svg}"
CONV = "1 2 1 3 0 1 0 4 1 1 1 1 0 1 0 1 1 0 0 1"
REDUCE = "0 1 0 4 1 0 2 0 0 3 1 1 0 0 0 0 4 1 1 0"


def _groups(svg: str, cls: str, root: ET.Element | None = None) -> list[ET.Element]:
    root = ET.fromstring(svg) if root is None else root
    return [g for g in root.iter(f"{SVG}g") if cls in g.get("class", "").split()]


def _cells(svg: str) -> dict[str, ET.Element]:
    return {g.get("data-cell"): g for g in _groups(svg, "cell")}


def test_micro_has_every_node_and_op_edge():
    arch = MicroArchitecture.parse(CONV, REDUCE)
    svg = draw(arch)
    cells = _cells(svg)
    assert list(cells) == ["Normal cell", "Reduction cell"]
    for cell, element in zip((arch.conv, arch.reduce), cells.values(), strict=True):
        nodes = _groups(svg, "node", element)
        edges = _groups(svg, "edge", element)
        # 2 inputs + 5 nodes + the output; 2 op edges per node + one per concatenated node.
        assert [n.get("data-node") for n in nodes] == [
            "in0", "in1", "n0", "n1", "n2", "n3", "n4", "out"]
        assert len(edges) == 2 * 5 + len(cell.loose_ends())
        ops = [e.get("data-op") for e in edges if e.get("data-op")]
        assert ops == [PRIMITIVES[o] for n in cell.nodes for o in (n.op1, n.op2)]
        into_out = sorted(e.get("data-from") for e in edges if e.get("data-to") == "out")
        assert into_out == sorted(f"n{j}" for j in cell.loose_ends())
        for j, node in enumerate(cell.nodes):  # each edge leaves the input the node reads
            sources = [e.get("data-from") for e in edges if e.get("data-to") == f"n{j}"]
            names = ["in0", "in1", *(f"n{k}" for k in range(5))]
            assert sources == [names[node.in1], names[node.in2]]
    assert arch._repr_svg_() == svg


def test_micro_title_and_text_form_are_in_the_svg():
    arch = MicroArchitecture.parse("0 0 1 3 1 2 0 4", "1 1 0 3 0 4 2 2")
    root = ET.fromstring(draw(arch, title="job <x>: rank 1"))
    assert root.find(f"{SVG}title").text == "job <x>: rank 1"
    assert "0 0 1 3 1 2 0 4" in root.find(f"{SVG}desc").text
    assert float(root.get("width")) > 0 and root.get("viewBox")


def test_macro_has_every_layer_and_skip():
    arch = MacroArchitecture.parse("0 3 1 5 0 1 2 1 0 1")  # 4 layers; 4 skips
    svg = draw(arch)
    nodes = _groups(svg, "node")
    assert [n.get("data-node") for n in nodes] == ["in", "l0", "l1", "l2", "l3", "out"]
    assert [n.findtext(f"{SVG}text") for n in nodes[1:-1]] == [
        "conv_3x3", "sep_conv_5x5", "max_pool_3x3", "conv_5x5"]
    skips = [(e.get("data-from"), e.get("data-to")) for e in _groups(svg, "skip")]
    # Layer i's flag j reads state j: the input for j = 0, else layer j-1's output.
    assert skips == [("in", "l1"), ("l0", "l2"), ("in", "l3"), ("l1", "l3")]
    assert len(_groups(svg, "edge")) == 5 + len(skips)  # the chain in -> l0..l3 -> out
    assert arch._repr_svg_() == svg


def test_enas_draw_from_flags_and_from_result_json(tmp_path, capsys):
    out = tmp_path / "cell.svg"
    assert main(["draw", "--arc", CONV, "--reduce-arc", REDUCE, "-o", str(out)]) == 0
    assert out.read_text() == draw(MicroArchitecture.parse(CONV, REDUCE))
    assert f"written: {out}" in capsys.readouterr().out

    arch = MicroArchitecture.parse("0 0 1 3 1 2 0 4", "1 1 0 3 0 4 2 2")
    result = tmp_path / "runs" / "x" / "result.json"
    result.parent.mkdir(parents=True)
    result.write_text(json.dumps({"best": {"arch": arch.to_json(), "val_acc": 0.5}}))
    assert main(["draw", str(result), "--title", "x"]) == 0
    assert capsys.readouterr().out.strip() == draw(arch, title="x")

    assert main(["draw", "--space", "macro", "--arc", "0 3 1"]) == 0
    assert len(_groups(capsys.readouterr().out, "node")) == 4


@pytest.mark.parametrize(("argv", "message"), [
    (["draw", "--arc", "1 2 1 3"], "give --arc and --reduce-arc"),
    (["draw", "--arc", "1 2 1 9", "--reduce-arc", "0 1 0 4"], "9 is not an op"),
    (["draw", "missing.json"], "missing.json: no such file"),
])
def test_enas_draw_errors(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_enas_draw_result_without_a_best_architecture(tmp_path, capsys):
    result = tmp_path / "result.json"
    result.write_text(json.dumps({"best": None, "constraints": {}}))
    assert main(["draw", str(result)]) == 2
    assert "has no best architecture" in capsys.readouterr().err


@pytest.mark.parametrize("name", space_names())
def test_every_space_draws_its_architectures(name):
    space = get_space(name)
    for arch in (space.smallest(3), space.largest(3)):
        svg = draw(arch)
        assert ET.fromstring(svg).tag == f"{SVG}svg"
        assert len(_groups(svg, "node")) >= 3 and len(_groups(svg, "edge")) >= 2
        text = space.text_lines(arch.to_json())[0][1]
        assert text in ET.fromstring(svg).findtext(f"{SVG}desc")
