"""The ENAS macro space: a whole network of `layers` layers, one op per layer plus skip
connections to earlier layers (Pham et al. 2018, section 2.3; the reference code's
`general_controller.py` and `general_child.py`). Everything of it is in this folder:

- `architecture.py`: `MacroArchitecture` and its parsing, the op names `MACRO_PRIMITIVES`;
- `costs.py`: each op's weights, multiply-adds and activations, `MACRO_OP_COSTS`;
- `ops.py`: each op's module, `MACRO_OPS`, the reduction and the skip mean;
- `controller.py`, `search_model.py`, `model.py`: the controller, the shared search network
  and the final network;
- `layout.py`: where the layers and reductions are;
- `draw.py`: the SVG picture;
- `space.py`: `MacroSpace`, what the registry (`enas_core.spaces`) calls.

Importing it registers the space and loads no torch.
"""

from .architecture import MACRO_PRIMITIVES, MacroArchitecture
from .space import MacroSpace

__all__ = ["MACRO_PRIMITIVES", "MacroArchitecture", "MacroSpace"]
