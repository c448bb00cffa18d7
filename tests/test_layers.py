"""The layer rules of docs/architecture.md, checked on the source: every import of every module of mlctl_zoo.

Walks the AST of each module (``import x``, ``from x import y``, relative imports resolved; at module level
and inside functions alike) and fails on
(a) an import against the layers: a package may import its own package or one of a lower layer;
    same-layer imports only where ``SAME_LAYER`` allows them; inside a package with ``INNER_LAYERS`` (the
    server: core, HTTP edge, factory), a module may import its own inner layer or a lower one,
(b) an import cycle between modules,
(c) a sub-package (or top-level module) of mlctl_zoo that the rules do not place, or a rule for one that
    no longer exists,
(d) an import inside a function, outside the CLI, of something light: the standard library, a light
    third-party library, or one of the package's own modules that imports no heavy library at module level;
    such imports belong at the top (only ``HEAVY`` and ``OPTIONAL`` libraries wait for their first use),
(e) a module outside the torch-bound training modules that imports a heavy library (``HEAVY``) when it is
    imported, directly or through the package's own module-level imports.

Function-level imports count for the layers (a) and for cycles (b) exactly like module-level ones: an import
deferred into a function only moves the cycle to the first call, it does not remove the dependency. Imports
under ``if TYPE_CHECKING:`` are treated as function-level (they do not run on import). The CLI imports the
library inside its command functions so that ``mlctl-zoo --help`` loads typer and rich only; that is why
(d) skips ``cli``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "mlctl_zoo"

# Lowest first. "mlctl_zoo" is the package root (its __init__ holds __version__ only).
LAYERS: list[set[str]] = [
    {"mlctl_zoo", "errors", "utils"},
    {"zoo", "config"},
    {"models", "search"},
    {"training", "benchmarks", "export", "mine"},
    {"serving", "sweep"},
    {"cli"},
    {"__main__"},  # python -m mlctl_zoo: runs the CLI
]
# Imports allowed between different packages of one layer: (importer, imported).
SAME_LAYER: set[tuple[str, str]] = {
    ("utils", "errors"),  # the helpers raise the suite's own errors (errors imports nothing)
}
# Layers inside a package, lowest first, by a module's first name under the package (``serving.edge.tei`` ->
# ``edge``): a module may import modules of its own inner layer or a lower one, never a higher one. serving:
# the core (model slots, admission, batching, the encode path; no HTTP) below the HTTP edge (routes, one module
# per API family, middleware, error mapping) below the factory and the runner that put the two together.
INNER_LAYERS: dict[str, list[set[str]]] = {
    "serving": [
        {"errors", "settings", "schemas", "metrics", "batching", "corpus", "quantize", "model", "ui", "core"},
        {"edge"},
        {"app", "server"},
    ],
}
# Third-party libraries slow or large enough to import only where used (inside functions).
HEAVY = {"torch", "transformers", "onnxruntime", "onnx", "optimum", "accelerate", "datasets", "matplotlib",
         "sklearn", "scipy", "seqeval", "simalign", "sentence_transformers", "tensorboard", "faiss"}
# Libraries that are not dependencies: imported inside functions, under `except ImportError`.
OPTIONAL = {"psutil"}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str  # dotted name as resolved: a module of the package, or a third-party top-level name
    line: int
    deferred: bool  # inside a function (or under TYPE_CHECKING): runs on call, not on import


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, deferred: bool = False):
    """(import node, deferred) for every import under ``node``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, deferred
        inner = deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) or (
            isinstance(child, ast.If) and _is_type_checking(child.test))
        yield from _walk(child, inner)


def _resolve(name: str, modules: set[str]) -> str:
    """The module a dotted name lands in: itself if it is one of ours, else its longest module prefix."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return parts[0]


def imports_of(sources: dict[str, str], packages: set[str]) -> list[Import]:
    """Every import in ``sources`` ({dotted module name: source}); ``packages``: which names are packages
    (an ``__init__.py``), for resolving relative imports."""
    modules = set(sources)
    out = []
    for module, text in sources.items():
        base = module if module in packages else module.rpartition(".")[0]
        for node, deferred in _walk(ast.parse(text, filename=module)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                prefix = node.module or ""
                if node.level:
                    anchor = base.split(".")[: len(base.split(".")) - (node.level - 1)]
                    prefix = ".".join(anchor + ([node.module] if node.module else []))
                # `from pkg import mod` names a module when pkg.mod is one; otherwise an attribute of pkg
                names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in modules else prefix
                         for a in node.names]
            for name in dict.fromkeys(names):
                out.append(Import(module, _resolve(name, modules), node.lineno, deferred))
    return out


def package_of(module: str) -> str:
    """``mlctl_zoo.models.encoder`` -> ``models``; the root package -> ``mlctl_zoo``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def layer_violations(imports: list[Import], layers: list[set[str]] = LAYERS,
                     same_layer: set[tuple[str, str]] = SAME_LAYER) -> list[str]:
    level = {pkg: i for i, group in enumerate(layers) for pkg in group}
    bad = []
    for imp in imports:
        if not imp.target.startswith(PACKAGE):
            continue
        src, dst = package_of(imp.importer), package_of(imp.target)
        if src == dst or src not in level or dst not in level:
            continue  # unplaced packages are reported by the coverage check
        if level[dst] > level[src]:
            bad.append(f"{imp.importer}:{imp.line} imports {imp.target}: {src} (layer {level[src]}) may not "
                       f"import {dst} (layer {level[dst]}, higher)")
        elif level[dst] == level[src] and (src, dst) not in same_layer:
            bad.append(f"{imp.importer}:{imp.line} imports {imp.target}: {src} and {dst} are siblings "
                       f"(layer {level[src]}); add the pair to the rules or move the shared part down")
    return bad


def inner_part(module: str) -> str | None:
    """``mlctl_zoo.serving.edge.tei`` -> ``edge``; None for a package's own ``__init__`` or a top-level module."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 else None


def inner_layer_violations(imports: list[Import],
                           inner_layers: dict[str, list[set[str]]] = INNER_LAYERS) -> list[str]:
    bad = []
    for imp in imports:
        pkg = package_of(imp.importer)
        if pkg not in inner_layers or not imp.target.startswith(PACKAGE) or package_of(imp.target) != pkg:
            continue
        level = {part: i for i, group in enumerate(inner_layers[pkg]) for part in group}
        src, dst = inner_part(imp.importer), inner_part(imp.target)
        if src in level and dst in level and level[dst] > level[src]:
            bad.append(f"{imp.importer}:{imp.line} imports {imp.target}: {pkg}.{src} (inner layer {level[src]}) "
                       f"may not import {pkg}.{dst} (inner layer {level[dst]}, higher)")
    return bad


def cycles(imports: list[Import]) -> list[list[str]]:
    """Import cycles between our modules (strongly connected components of 2+ modules, or a self-import),
    each as a closed path ``[a, b, ..., a]``."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.target.startswith(PACKAGE):
            graph.setdefault(imp.importer, set()).add(imp.target)
            graph.setdefault(imp.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components (recursion depth <= module count)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                found.append(_closed_path(sorted(component), graph))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _closed_path(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One cycle through the component's first module, found by breadth-first search inside it."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                return paths[v] + [start]
            if w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    return component


def heavy_at_import(imports: list[Import], heavy: set[str] = HEAVY) -> dict[str, set[str]]:
    """{module: the heavy libraries importing it loads}, following module-level imports only."""
    eager: dict[str, set[str]] = {}
    for imp in imports:
        if not imp.deferred:
            eager.setdefault(imp.importer, set()).add(imp.target)
    memo: dict[str, set[str]] = {}

    def libs(module: str, path: frozenset = frozenset()) -> set[str]:
        if module not in memo:
            found = set()
            for dep in eager.get(module, ()):
                if dep.split(".")[0] in heavy:
                    found.add(dep.split(".")[0])
                elif dep.startswith(PACKAGE) and dep not in path | {module}:
                    found |= libs(dep, path | {module})
            memo[module] = found
        return memo[module]

    return {m: libs(m) for m in sorted({imp.importer for imp in imports}) if libs(m)}


def deferred_light_imports(imports: list[Import], skip: set[str] = frozenset({"cli", "__main__"}),
                           heavy: set[str] = HEAVY | OPTIONAL) -> list[str]:
    """Function-level imports of anything light: the standard library, light third-party libraries, and our
    own modules that import no heavy library at module level."""
    heavy_modules = heavy_at_import(imports, heavy)
    bad = []
    for imp in imports:
        if not imp.deferred or package_of(imp.importer) in skip or imp.target == imp.importer:
            continue
        ours = imp.target.startswith(PACKAGE)
        if (ours and imp.target not in heavy_modules) or (not ours and imp.target.split(".")[0] not in heavy):
            bad.append(f"{imp.importer}:{imp.line} imports {imp.target} inside a function, but it is light: "
                       "import it at the top")
    return bad


def load_package(root: Path = ROOT / PACKAGE) -> tuple[dict[str, str], set[str]]:
    sources, packages = {}, set()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
            packages.add(".".join(parts))
        sources[".".join(parts)] = path.read_text(encoding="utf-8")
    return sources, packages


@pytest.fixture(scope="module")
def package_imports() -> list[Import]:
    return imports_of(*load_package())


# ---- the package itself ----------------------------------------------------------------------------------


def test_every_subpackage_is_placed():
    root = ROOT / PACKAGE
    present = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    present |= {p.stem for p in root.glob("*.py") if p.stem != "__init__"} | {PACKAGE}
    placed = set().union(*LAYERS)
    assert not present - placed, f"not in the layer rules (tests/test_layers.py, docs/architecture.md): " \
                                 f"{sorted(present - placed)}"
    assert not placed - present, f"rules for packages that no longer exist: {sorted(placed - present)}"


def test_every_module_of_a_layered_package_is_placed():
    for pkg, groups in INNER_LAYERS.items():
        root = ROOT / PACKAGE / pkg
        present = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
        present |= {p.stem for p in root.glob("*.py") if p.stem != "__init__"}
        placed = set().union(*groups)
        assert not present - placed, f"{pkg}: not in INNER_LAYERS (tests/test_layers.py, docs/architecture.md): " \
                                     f"{sorted(present - placed)}"
        assert not placed - present, f"{pkg}: rules for modules that no longer exist: {sorted(placed - present)}"


def test_imports_follow_the_inner_layers(package_imports):
    bad = inner_layer_violations(package_imports)
    assert not bad, "imports against the inner layers (docs/architecture.md):\n" + "\n".join(bad)


def test_imports_follow_the_layers(package_imports):
    bad = layer_violations(package_imports)
    assert not bad, "imports against the layers (docs/architecture.md):\n" + "\n".join(bad)


def test_no_import_cycles(package_imports):
    found = cycles(package_imports)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_own_modules_are_imported_at_the_top(package_imports):
    bad = deferred_light_imports(package_imports)
    assert not bad, "\n".join(bad)


# Modules that may import a heavy library at module level: torch.nn subclasses and the losses, which the
# trainer imports only when a run builds its model. Everything else imports them inside functions.
TORCH_BOUND = ("mlctl_zoo.training.model", "mlctl_zoo.training.heads", "mlctl_zoo.training.losses")


def test_only_torch_bound_modules_import_heavy_libraries_on_import(package_imports):
    bad = {m: sorted(libs) for m, libs in heavy_at_import(package_imports).items()
           if not m.startswith(TORCH_BOUND)}
    assert not bad, f"these modules import heavy libraries when imported (move them into functions): {bad}"


# ---- the checker can fail -------------------------------------------------------------------------------


def _synthetic(sources: dict[str, str]) -> list[Import]:
    packages = {m for m in sources if m.count(".") <= 1 and any(o.startswith(m + ".") for o in sources)}
    return imports_of(sources, packages)


def test_checker_reports_an_upward_import_and_a_sibling_import():
    imports = _synthetic({
        "mlctl_zoo": "",
        "mlctl_zoo.models": "",
        "mlctl_zoo.models.encoder": "def f():\n    from mlctl_zoo.export.providers import create_session\n",
        "mlctl_zoo.export": "",
        "mlctl_zoo.export.providers": "from ..models import encoder\n",
        "mlctl_zoo.training": "",
        "mlctl_zoo.training.trainer": "import mlctl_zoo.export.providers\n",
    })
    bad = layer_violations(imports)
    assert len(bad) == 2, bad
    assert bad[0].startswith("mlctl_zoo.models.encoder:2 imports mlctl_zoo.export.providers: "
                             "models (layer 2)")
    assert "siblings" in bad[1] and bad[1].startswith("mlctl_zoo.training.trainer:1")
    assert not layer_violations(imports, same_layer={("training", "export")})[1:]


def test_checker_reports_an_import_up_the_inner_layers():
    imports = _synthetic({
        "mlctl_zoo": "",
        "mlctl_zoo.serving": "",
        "mlctl_zoo.serving.core": "def f():\n    from .edge import tei\n",  # the core may not know HTTP
        "mlctl_zoo.serving.edge": "",
        "mlctl_zoo.serving.edge.tei": "from mlctl_zoo.serving.core import ServerState\nfrom . import errors\n",
        "mlctl_zoo.serving.edge.errors": "from mlctl_zoo.serving import app\n",  # nor the edge the factory
        "mlctl_zoo.serving.app": "from mlctl_zoo.serving.edge import tei\n",
    })
    bad = inner_layer_violations(imports)
    assert len(bad) == 2, bad
    assert bad[0].startswith("mlctl_zoo.serving.core:2 imports mlctl_zoo.serving.edge.tei: serving.core (inner "
                             "layer 0) may not import serving.edge (inner layer 1, higher)")
    assert bad[1].startswith("mlctl_zoo.serving.edge.errors:1 imports mlctl_zoo.serving.app")


def test_checker_reports_cycles_through_function_level_and_relative_imports():
    imports = _synthetic({
        "mlctl_zoo": "",
        "mlctl_zoo.models": "",
        "mlctl_zoo.models.encoder": "import numpy\n\ndef f():\n    from .onnx_encoder import OnnxEncoder\n",
        "mlctl_zoo.models.onnx_encoder": "from mlctl_zoo.models.encoder import l2_normalize\n",
        "mlctl_zoo.models.pooling": "from mlctl_zoo.models import pooling\n",  # a module importing itself
        "mlctl_zoo.models.loading": "from mlctl_zoo.models import encoder\n",  # no cycle
    })
    found = cycles(imports)
    assert ["mlctl_zoo.models.encoder", "mlctl_zoo.models.onnx_encoder", "mlctl_zoo.models.encoder"] in found
    assert ["mlctl_zoo.models.pooling", "mlctl_zoo.models.pooling"] in found
    assert len(found) == 2


def test_checker_reports_light_imports_inside_functions():
    imports = _synthetic({
        "mlctl_zoo": "",
        "mlctl_zoo.models": "",
        "mlctl_zoo.models.pooling": "import torch\n",
        "mlctl_zoo.models.heavy_too": "from mlctl_zoo.models.pooling import x\n",
        "mlctl_zoo.models.light": "import json\n",
        "mlctl_zoo.models.user": ("def f():\n    from mlctl_zoo.models import light\n"
                                  "    from mlctl_zoo.models.heavy_too import x\n"
                                  "    import shutil\n    import onnxruntime\n"),
        "mlctl_zoo.cli": "",
        "mlctl_zoo.cli.train": "def train():\n    from mlctl_zoo.models import light\n",  # the CLI may
    })
    assert heavy_at_import(imports) == {"mlctl_zoo.models.pooling": {"torch"},
                                        "mlctl_zoo.models.heavy_too": {"torch"}}
    bad = deferred_light_imports(imports)
    assert len(bad) == 2, bad
    assert bad[0].startswith("mlctl_zoo.models.user:2 imports mlctl_zoo.models.light")
    assert bad[1].startswith("mlctl_zoo.models.user:4 imports shutil")
