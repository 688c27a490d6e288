"""The package's import graph: no cycles, and no import that runs back up the pipeline.

The pipeline is envs -> layers -> video -> analysis -> agent -> experiments -> report -> cli
(api and cli_parser beside cli): a part may import its own level or below. ``video`` builds
on ``layers`` and registers its blocks with the layer registry (``layers.families``), so
``layers`` never imports ``video``. No folder holds more than 15 modules, and no module is
longer than 500 lines.
The leaf utilities (errors, io, checks, seeding, stats, threads, lazy) import only each
other, so any part may import them. Imports inside functions (lazy ones) count too: they
close a cycle at run time all the same. The graph is read from the source (ast), nothing is
imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rl_rosetta_layer

PACKAGE = Path(rl_rosetta_layer.__file__).resolve().parent
#: Level of each part of the pipeline; a part may import parts of its level or lower.
ORDER = {"envs": 0, "layers": 1, "video": 2, "analysis": 3, "agent": 4, "experiments": 5,
         "report": 6, "cli": 7, "cli_parser": 7, "api": 7, "interrupts": 7}
#: The most modules (``.py`` files, ``__init__`` included) one folder may hold.
MAX_MODULES = 15
#: The most lines one module may have.
MAX_LINES = 500
#: Leaf utilities: any part may import them; they import only each other.
LEAVES = frozenset({"errors", "io", "checks", "seeding", "stats", "threads", "lazy"})


def module_names(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under package folder ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, anywhere in its source (functions too).

    ``from PKG import NAME`` is an edge to the module ``PKG.NAME`` when there is one (a
    file or a subpackage), else to ``PKG``; parents a module's import runs implicitly are
    not edges (every module of a package needs its parents already)."""
    modules = module_names(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    targets.add(sub if sub in modules else source)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _part(module: str) -> str | None:
    """The part of the pipeline ``module`` is in (``pkg.layers.video`` -> 'layers')."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def up_imports(graph: dict[str, set[str]], order: dict[str, int] = ORDER,
               leaves: frozenset[str] = LEAVES) -> list[str]:
    """The edges that run up the pipeline ``order``, or out of a leaf to a non-leaf."""
    bad = []
    for module, targets in sorted(graph.items()):
        here = _part(module)
        for target in sorted(targets):
            there = _part(target)
            if here == there:
                continue
            if here in order and there in order and order[there] > order[here]:
                bad.append(f"{module} -> {target}")
            elif here in leaves and there is not None and there not in leaves:
                bad.append(f"{module} -> {target} (leaf)")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


@pytest.fixture(scope="module")
def graph():
    return import_graph(PACKAGE)


def test_no_import_runs_up_the_pipeline(graph):
    assert up_imports(graph) == []


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_layers_never_import_video(graph):
    """The one direction between the two: video -> layers (video's blocks reach the
    registry through the family they register), never layers -> video."""
    assert [f"{m} -> {t}" for m, targets in sorted(graph.items()) if _part(m) == "layers"
            for t in sorted(targets) if _part(t) == "video"] == []
    assert any(_part(m) == "video" and _part(t) == "layers"
               for m, targets in graph.items() for t in targets)


def crowded_folders(root: Path, limit: int = MAX_MODULES) -> dict[str, int]:
    """Folders under ``root`` with more than ``limit`` modules: folder -> count."""
    counts = {}
    for folder in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        n = len(list(folder.glob("*.py")))
        if n > limit:
            counts[str(folder.relative_to(root.parent))] = n
    return counts


def long_modules(root: Path, limit: int = MAX_LINES) -> dict[str, int]:
    """Modules under ``root`` longer than ``limit`` lines: module -> lines."""
    return {str(p.relative_to(root.parent)): n for p in sorted(root.rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > limit}


def test_no_folder_is_crowded_and_no_module_is_long():
    assert crowded_folders(PACKAGE) == {}
    assert long_modules(PACKAGE) == {}


def test_the_size_checks_find_planted_crowds_and_long_modules(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    for i in range(4):
        (pkg / "sub" / f"m{i}.py").write_text("x = 1\n" * (3 if i else 7))
    (pkg / "a.py").write_text("")
    assert crowded_folders(pkg, limit=3) == {"pkg/sub": 4}
    assert crowded_folders(pkg, limit=4) == {}
    assert long_modules(pkg, limit=5) == {"pkg/sub/m0.py": 7}


def test_every_part_of_the_package_is_ordered_or_known(graph):
    """A new part of the package must be placed in the pipeline (or named a leaf)."""
    known = {*ORDER, *LEAVES, "results", "provenance", "_version", None}
    assert {_part(m) for m in graph} - known == set()


def test_the_checks_find_planted_up_imports_leaks_and_cycles(tmp_path):
    files = {
        "__init__.py": "from ._version import V\n",
        "_version.py": "V = 1\n",
        "errors.py": "",
        "checks.py": "from .envs import grid\n",                      # a leaf that is not
        "stats/__init__.py": "from ..errors import E\n",
        "envs/__init__.py": "",
        "envs/grid.py": "from ..errors import E\n\n\ndef f():\n    from ..agent.dqn import g\n",
        "agent/__init__.py": "",
        "agent/dqn.py": "from .. import stats\nfrom ..envs import grid\n",
        "layers/__init__.py": "",
        "layers/a.py": "from .b import x\n",
        "layers/b.py": "import pkg.layers.c\n\n\ndef f():\n    from . import a\n",
        "layers/c.py": "import numpy\n",
    }
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    graph = import_graph(tmp_path / "pkg")
    assert graph["pkg"] == {"pkg._version"}
    assert graph["pkg.agent.dqn"] == {"pkg.stats", "pkg.envs.grid"}
    assert graph["pkg.envs.grid"] == {"pkg.errors", "pkg.agent.dqn"}
    assert graph["pkg.layers.b"] == {"pkg.layers.a", "pkg.layers.c"}
    assert graph["pkg.layers.c"] == set()
    assert up_imports(graph) == ["pkg.checks -> pkg.envs.grid (leaf)",
                                 "pkg.envs.grid -> pkg.agent.dqn"]
    assert cycles(graph) == [["pkg.agent.dqn", "pkg.envs.grid"],
                             ["pkg.layers.a", "pkg.layers.b"]]
