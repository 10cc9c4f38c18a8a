"""The ENAS micro space: a convolution cell and a reduction cell of B nodes, each node two
inputs with an op each, summed (Pham et al. 2018, section 2.2). Everything of it is in this
folder:

- `architecture.py`: `MicroArchitecture` and its parsing, the op names `PRIMITIVES`;
- `costs.py`: each op's weights, multiply-adds and activations, `OP_COSTS`;
- `ops.py`: each op's module, `OPS`;
- `controller.py`, `search_model.py`, `model.py`: the controller, the shared search network
  and the final network;
- `layout.py`: where the cells are and what shapes they take;
- `draw.py`: the SVG picture;
- `space.py`: `MicroSpace`, what the registry (`enas_core.spaces`) calls.

Importing it registers the space and loads no torch: the architectures and their costs are
torch-free, so reading, drawing and pricing one never imports torch.
"""

from .architecture import PRIMITIVES, Cell, MicroArchitecture, Node
from .space import MicroSpace

__all__ = ["PRIMITIVES", "Cell", "MicroArchitecture", "MicroSpace", "Node"]
