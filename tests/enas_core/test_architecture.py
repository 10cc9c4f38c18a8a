import random

import pytest

from enas_core.architecture import ArchitectureError
from enas_core.spaces import arch_from_json
from enas_core.spaces.macro.architecture import MacroArchitecture
from enas_core.spaces.micro.architecture import MicroArchitecture, parse_cell
from tests.enas_core.helpers import CONV, REDUCE, random_micro


def test_issue_example_parses_and_prints_back():
    arch = MicroArchitecture.parse(CONV, REDUCE)
    assert arch.nodes == 5
    assert arch.to_text() == (CONV, REDUCE)
    assert arch.conv.nodes[0].in1 == 1 and arch.conv.nodes[0].op1 == 2
    assert arch.conv.to_ops()[0] == [1, "avg_pool_3x3", 1, "max_pool_3x3"]


@pytest.mark.parametrize("nodes", [1, 2, 5, 7])
def test_round_trip_text_and_json(nodes):
    rng = random.Random(nodes)
    for _ in range(50):
        arch = random_micro(rng, nodes)
        assert MicroArchitecture.parse(*arch.to_text()) == arch
        assert arch_from_json(arch.to_json()) == arch
        by_names = {"conv_ops": arch.to_json()["conv_ops"],
                    "reduce_ops": arch.to_json()["reduce_ops"]}
        assert arch_from_json(by_names) == arch


def test_loose_ends_are_the_unread_nodes():
    arch = MicroArchitecture.parse(CONV, REDUCE)
    assert arch.conv.loose_ends() == [0, 1, 2, 3, 4]  # conv cell reads only the cell inputs
    assert arch.reduce.loose_ends() == [1, 3, 4]  # node 1 reads node 0, node 4 reads node 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("1 2 1", "multiple of 4"),
        ("1 2 1 x", "position 3: 'x' is not an integer"),
        ("2 0 0 0", "position 0 (node 0, first input): input 2 does not exist yet"),
        ("0 0 0 5", "position 3 (node 0, second op): 5 is not an op"),
        ("0 -1 0 0", "position 1 (node 0, first op): -1 is not an op"),
        ("0 0 0 0 0 0 4 0", "position 6 (node 1, second input): input 4 does not exist yet"),
    ],
)
def test_malformed_cells_say_where_and_why(text, message):
    with pytest.raises(ArchitectureError, match="conv cell") as err:
        parse_cell(text, "conv")
    assert message in str(err.value)


def test_cell_lengths_must_agree_with_nodes():
    with pytest.raises(ArchitectureError, match="expected 5 nodes"):
        MicroArchitecture.parse(CONV, "0 0 0 0")
    with pytest.raises(ArchitectureError, match="expected 2 nodes"):
        MicroArchitecture.parse(CONV, REDUCE, nodes=2)


def test_json_errors():
    with pytest.raises(ArchitectureError, match="unknown op 'conv_7x7'"):
        arch_from_json({"conv_ops": [[0, "conv_7x7", 1, "identity"]],
                        "reduce_ops": [[0, "identity", 1, "identity"]]})
    with pytest.raises(ArchitectureError, match="lacks the 'reduce' cell"):
        arch_from_json({"conv": [0, 0, 1, 0]})
    with pytest.raises(ArchitectureError, match="unknown search space"):
        arch_from_json({"space": "nasnet"})
    with pytest.raises(ArchitectureError, match="not an integer"):
        arch_from_json({"conv": [0, 0, 1, True], "reduce": [0, 0, 1, 0]})


def test_macro_round_trip_and_errors():
    text = "0 3 0 1 0 1 5 1 0 0"  # 4 layers: 1 + 2 + 3 + 4 integers
    arch = MacroArchitecture.parse(text)
    assert arch.layers == 4 and arch.ops == (0, 3, 1, 5) and arch.skips[3] == (1, 0, 0)
    assert arch.to_text() == text
    assert arch_from_json(arch.to_json()) == arch
    with pytest.raises(ArchitectureError, match="position 0 .*6 is not an op"):
        MacroArchitecture.parse("6")
    with pytest.raises(ArchitectureError, match="position 2 .*skip from layer 0.*use 0 or 1"):
        MacroArchitecture.parse("0 1 2")
    with pytest.raises(ArchitectureError, match="ends inside layer 2"):
        MacroArchitecture.parse("0 1 0 2 1")
    with pytest.raises(ArchitectureError, match="expected 3"):
        MacroArchitecture.parse("0 1 0", layers=3)
