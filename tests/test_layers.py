"""The package's shape (issue 16): the parent side never imports torch, and the drawing of
who imports whom has no cycle between packages and no package importing from above it."""

import ast
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.conftest import ROOT

# The parent side, bottom to top: a package imports from its own layer and those below.
# The Hydra plugins drive sweeps: they sit with sweep (the issue: the sweeper should not
# need cli's helpers). A search drives sweeps too (the sweeper hands it over; it plans with sweep).
LAYERS = [{"xeonsweep", "errors", "hf", "stats"}, {"machine"}, {"config"}, {"store"}, {"launch"}, {"blocks"},
          {"sweep", "search", "hydra_plugins"}, {"report"}, {"deploy"}, {"cli"}]
# The child side may import the parent's bottom layers and itself, never what only the parent runs.
CHILD = {"worker", "models", "backends", "quantizers", "serving"}
PARENT_ONLY = {"blocks", "sweep", "search", "hydra_plugins", "report", "cli", "store", "deploy"}
# Backends and quantizers are plugins both sides read: the parent builds them to validate a run's
# options (config.components) and a recipe reads their option names; they load heavy libraries
# only inside their methods (test_the_parent_side_imports_no_heavy_library imports them).
PLUGINS = {"backends", "quantizers"}
PARENT = set().union(*LAYERS)
HEAVY = ("torch", "torchvision", "timm", "transformers", "onnxruntime", "openvino", "nncf")

# Imports that break the rules today, each with who removes it. Empty it as they go: an
# entry that no longer happens fails the test too, so the list only shrinks.
KNOWN: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    files = [*(ROOT / "xeonsweep").rglob("*.py"), *(ROOT / "hydra_plugins").rglob("*.py")]
    # deploy/templates hold the text of a recipe's infer.py: data written out, never imported here
    return {module_name(path): path for path in sorted(files)
            if "__pycache__" not in path.parts and "templates" not in path.parts}


def package_of(module: str) -> str:
    """xeonsweep.store.rows -> store; xeonsweep.cli -> cli; hydra_plugins.* -> hydra_plugins."""
    parts = module.split(".")
    if parts[0] == "hydra_plugins":
        return "hydra_plugins"
    if parts[1:2] == ["__main__"]:
        return "cli"
    return parts[1] if len(parts) > 1 else parts[0]


def imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The xeonsweep modules `module` imports, at module level or in a function."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, `level - 1` steps up
                base = ".".join([*package.split(".")[:len(package.split(".")) - node.level + 1], *filter(None, [base])])
            # `from a import b` imports module a.b when there is one, else a name of a
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        found |= {name for name in names if name.split(".")[0] == "xeonsweep"}
    return found - {module}


def drawing() -> dict[tuple[str, str], str]:
    """Every import between two modules of different packages: (importer, imported) -> why it is wrong, or ''."""
    known = modules()
    edges = {}
    for module, path in known.items():
        for target in imported(module, path, known):
            if package_of(target) != package_of(module):
                edges[(module, target)] = wrong(package_of(module), package_of(target))
    return edges


def layer(package: str) -> int:
    return next(i for i, members in enumerate(LAYERS) if package in members)


def wrong(importer: str, target: str) -> str:
    if importer in CHILD:
        return f"the child imports {target}, which only the parent runs" if target in PARENT_ONLY else ""
    if target in PLUGINS:
        return ""
    if target in CHILD:
        return f"the parent's {importer} imports the child's {target}"
    if layer(target) > layer(importer):
        return f"{importer} imports from {target}, a layer above it"
    return ""


def cycles(edges) -> list[set[str]]:
    """Groups of packages that import each other, directly or round about."""
    graph = {}
    for importer, target in edges:
        graph.setdefault(package_of(importer), set()).add(package_of(target))
    reach = {}
    for start in graph:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        reach[start] = seen
    groups = {frozenset(p for p in graph if p in reach[start] and start in reach[p]) for start in graph}
    return sorted((set(g) for g in groups if g), key=sorted)


def test_every_package_has_a_place_in_the_drawing():
    packages = {package_of(module) for module in modules()}
    assert packages == PARENT | CHILD, packages ^ (PARENT | CHILD)


def test_no_package_imports_from_a_layer_above_it_and_the_child_stays_off_the_parent():
    edges = drawing()
    broken = {edge: why for edge, why in edges.items() if why and edge not in KNOWN}
    assert not broken, "\n".join(f"{a} imports {b}: {why}" for (a, b), why in sorted(broken.items()))
    gone = [edge for edge in KNOWN if not edges.get(edge)]
    assert not gone, f"no longer imported (or no longer wrong): remove from KNOWN: {gone}"
    if KNOWN:
        left = "; ".join(f"{a} -> {b}" for a, b in sorted(KNOWN))
        warnings.warn(f"imports still against the layers: {left}", stacklevel=1)


def test_no_cycle_between_packages():
    edges = [edge for edge in drawing() if edge not in KNOWN]
    assert cycles(edges) == []


def test_the_rules_catch_what_they_are_for():
    assert wrong("store", "launch") and wrong("config", "models") and wrong("worker", "blocks")
    assert not wrong("sweep", "store") and not wrong("models", "config") and not wrong("backends", "models")
    assert cycles([("xeonsweep.a.x", "xeonsweep.b.y"), ("xeonsweep.b.y", "xeonsweep.c.z"),
                   ("xeonsweep.c.z", "xeonsweep.a.w"), ("xeonsweep.c.z", "xeonsweep.d.v")]) == [{"a", "b", "c"}]


def parent_modules() -> list[str]:
    return [module for module in modules() if package_of(module) in PARENT and module != "xeonsweep.__main__"]


@pytest.mark.slow
def test_the_parent_side_imports_no_heavy_library():
    """Every parent-side module, the Hydra plugins too, imported in a fresh interpreter."""
    script = ("import importlib, json, sys\n"
              f"for name in {parent_modules()!r}:\n"
              "    importlib.import_module(name)\n"
              f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []
