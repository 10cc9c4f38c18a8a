"""The engine is a library: it must not depend on the service around it."""

import ast
import subprocess
import sys
from pathlib import Path

import enas_core
from enas_core.spaces import space_names

FORBIDDEN = {"api", "worker", "launcher", "enas_service", "sqlalchemy", "celery", "kombu",
             "fastapi", "alembic", "psycopg", "redis", "pydantic", "pydantic_settings"}


def test_no_engine_module_imports_the_service():
    root = Path(enas_core.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_the_engine_loads_no_service_module():
    code = ("import sys, enas_core.pipeline, enas_core.cli, enas_core.spaces.macro.model; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_nothing_outside_a_space_branches_on_its_name():
    """`x == "macro"` and the like belong in the space's own module (enas_core/spaces/)."""
    from tests.imports import modules

    names = set(space_names())
    offenders = []
    for module, path in modules().items():
        if module.startswith("enas_core.spaces."):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                values = [node.left, *node.comparators]
                values += [e for v in values if isinstance(v, ast.Tuple | ast.List | ast.Set)
                           for e in v.elts]
                if any(isinstance(v, ast.Constant) and v.value in names for v in values):
                    offenders.append(f"{module}:{node.lineno}")
    assert offenders == []


def test_no_import_circle_in_the_engine_type_checking_imports_included():
    """A circle through `if TYPE_CHECKING:` imports is still one for a reader and a type
    checker (architecture -> draw -> layout -> ops -> architecture was one)."""
    from tests.imports import cycles, graph

    assert cycles(graph(("enas_core",), type_checking=True)) == []


def _space_of(module: str) -> str | None:
    """The space folder a module is in (`enas_core.spaces.micro.ops` -> "micro"), or None."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["enas_core", "spaces"] and (
        Path(enas_core.__file__).parent / "spaces" / parts[2]).is_dir() else None


def test_the_engine_reaches_a_space_only_through_the_registry():
    """Outside its folder no module imports a space's modules, type-checking imports
    included: the engine asks the registry (`enas_core.spaces`). The one exception is the
    package facade `enas_core`, whose names (`from enas_core import MicroArchitecture`) users
    import; it reads the space package's public names, never its modules."""
    from tests.imports import graph

    offenders = []
    for module, targets in graph(("enas_core",), type_checking=True).items():
        for target in targets:
            space = _space_of(target)
            if space is None or _space_of(module) == space:
                continue
            if module == "enas_core" and target == f"enas_core.spaces.{space}":
                continue
            offenders.append(f"{module} imports {target}")
    assert offenders == []
    assert {_space_of(m) for m in graph(("enas_core",))} >= {"micro", "macro"}


def test_the_space_registry_and_the_options_import_no_torch():
    code = ("import sys, enas_core.spaces, enas_core.options; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"



# Reads, draws and prices an architecture of each space (JSON with op names, as the API stores
# them), with `import torch` failing: the API does all three and must not load torch for them.
MICRO_JSON = {"space": "micro",
              "conv_ops": [[0, "sep_conv_3x3", 1, "identity"],
                           [2, "max_pool_3x3", 0, "sep_conv_5x5"]],
              "reduce_ops": [[0, "avg_pool_3x3", 1, "identity"],
                             [1, "sep_conv_3x3", 2, "max_pool_3x3"]]}
MACRO_JSON = {"space": "macro", "text": "0 5 1 3 0 1"}
MODELS = {"micro": {"layers": 3, "channels": 8, "nodes": 2},
          "macro": {"space": "macro", "layers": 3, "channels": 8}}

_WITHOUT_TORCH = f"""
import sys
sys.modules["torch"] = None  # `import torch` raises ImportError from here on
from enas_core import costs
from enas_core.config import ConstraintConfig, ModelConfig
from enas_core.constraints import check_possible
from enas_core.spaces import arch_from_json, draw
for data in ({MICRO_JSON!r}, {MACRO_JSON!r}):
    arch = arch_from_json(data)
    model = ModelConfig(**{MODELS!r}[arch.space])
    svg = draw(arch, title="t")
    priced = costs.CostModel(model, (1, 28, 28), 10)(arch)
    check_possible(ConstraintConfig(max_params=10**9), model, (1, 28, 28), 10)
    print(arch.space, svg.startswith("<svg"), priced.params)
print(sorted(m for m in sys.modules if m.split(".")[0] == "torch" and sys.modules[m]))
"""


def test_reading_drawing_and_pricing_an_architecture_need_no_torch():
    from enas_core.config import ModelConfig
    from enas_core.metrics import measure_params
    from enas_core.spaces import arch_from_json, build_network

    out = subprocess.run([sys.executable, "-c", _WITHOUT_TORCH], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    *priced, loaded = out.stdout.splitlines()
    built = [measure_params(build_network(arch, ModelConfig(**MODELS[arch.space]), 1, 10))
             for arch in map(arch_from_json, (MICRO_JSON, MACRO_JSON))]
    assert priced == [f"micro True {built[0]}", f"macro True {built[1]}"]
    assert loaded == "[]"
