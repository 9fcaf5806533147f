"""The package's layering, checked on the import graph built from the source with `ast`.

Every ``import`` and ``from ... import`` in gpugrad/ (at module level, in classes and in
functions; relative imports resolved) is an edge from the importing module to the imported
one: ``from pkg import name`` goes to ``pkg.name`` when that is a module, else to ``pkg``.
Imports under ``if TYPE_CHECKING:`` count too, except those of stub-only modules (a ``.pyi``
with no ``.py``, e.g. the generated ``gpugrad/core/_tensor_methods.pyi``): type checkers read
those, Python never runs them.

The rules:

- (a) no import cycle anywhere in gpugrad;
- (b) each module belongs to a layer (`LAYERS`, bottom up) and imports only from its own
  top-level package (``gpugrad.ops.*`` among themselves) or from lower layers; sibling
  packages of one layer do not import each other;
- (c) no function-local import of a gpugrad module (lazy imports of optional third-party
  packages such as cupy, graphviz, torch are fine);
- (d) only gpugrad/backend.py and the device kernels (gpugrad/ops/kernels/) import
  numpy/cupy.
"""

from __future__ import annotations

import ast
import dataclasses
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gpugrad"

# The layers, bottom up: a module may import from its own unit (top-level package or module
# of gpugrad, the first two parts of its name) and from units of lower layers only. Units
# listed together in one layer are siblings that must not import each other. "gpugrad" is
# the package's own __init__ (the public names), not its submodules.
LAYERS: list[tuple[str, ...]] = [
    ("gpugrad.backend",),  # 0: the only NumPy/CuPy importer
    ("gpugrad.core",),  # 1: state, node, dims, format, tensor, factories
    ("gpugrad.ops",),  # 2: registry, namespace, the op modules, methods, kernels/
    ("gpugrad.autograd",),  # 3: engine, reverse, grad modes, forward AD, functional, gradcheck
    ("gpugrad.func", "gpugrad.numerical", "gpugrad.cuda", "gpugrad.viz",
     "gpugrad.linalg"),  # 4: tools, and torch.linalg's namespace
    ("gpugrad.distributed",),  # 5: process groups and collectives (MPI, NCCL)
    ("gpugrad.nn", "gpugrad.optim", "gpugrad.utils"),  # 6: the training stack
    ("gpugrad.serialization",),  # 7: saves tensors, Parameters, optimizer states
    ("gpugrad",),  # 8: the package __init__: public names only
    ("gpugrad.bench",),  # 9: applications of the public API
]

# Where NumPy/CuPy may be imported (paths relative to the repository root).
ARRAY_LIBRARIES = {"numpy", "cupy", "cupyx"}
ARRAY_IMPORTERS = ("gpugrad/backend.py", "gpugrad/ops/kernels/")


# ----------------------------------------------------------------------------- the graph


@dataclasses.dataclass(frozen=True)
class Edge:
    """One import statement's edge: `source` (a module of the package) imports `target`."""

    source: str
    path: str  # the importing file, relative to the directory above the package
    line: int
    statement: str  # the import as written
    target: str  # the imported module (absolute name; third-party ones too)
    local: bool  # inside a function (runs lazily, at call time)
    type_only: bool  # under `if TYPE_CHECKING:`

    def where(self) -> str:
        return f"{self.path}:{self.line} `{self.statement}`"


@dataclasses.dataclass
class Graph:
    root: Path  # the directory above the package
    package: str
    modules: dict[str, Path]  # module name -> its .py file
    stubs: set[str]  # stub-only modules (a .pyi, no .py)
    edges: list[Edge]  # within the package (stub-only targets dropped)
    external: list[Edge]  # imports of modules outside the package
    unresolved: list[Edge]  # imports of package modules that do not exist

    def adjacency(self) -> dict[str, dict[str, Edge]]:
        adj: dict[str, dict[str, Edge]] = {m: {} for m in self.modules}
        for e in self.edges:
            if e.target != e.source:  # `from . import name` in a package's own __init__
                adj[e.source].setdefault(e.target, e)
        return adj


def _module_names(root: Path, package: str, suffix: str) -> dict[str, Path]:
    names = {}
    for path in sorted((root / package).rglob(f"*{suffix}")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST):
    """(node, local, type_only) for every import statement, and `importlib.import_module` /
    `__import__` calls with a literal name (as ast.Import-like tuples)."""
    out = []

    def visit(node, local, type_only):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append((node, local, type_only))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                fake = ast.Import(names=[ast.alias(name=node.args[0].value)])
                ast.copy_location(fake, node)
                out.append((fake, local, type_only))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, local, True)
            for child in node.orelse:
                visit(child, local, type_only)
            return
        inner = local or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner, type_only)

    visit(tree, False, False)
    return out


def build_graph(root: Path, package: str) -> Graph:
    """The import graph of the package `package` under directory `root`, from its source."""
    modules = _module_names(root, package, ".py")
    stubs = set(_module_names(root, package, ".pyi")) - set(modules)
    graph = Graph(root, package, modules, stubs, [], [], [])
    inside = (package, package + ".")
    for name, path in modules.items():
        source = path.read_text()
        tree = ast.parse(source, filename=str(path))
        is_pkg = path.name == "__init__.py"
        here = name.split(".") if is_pkg else name.split(".")[:-1]  # the importer's package
        rel = path.relative_to(root).as_posix()
        for node, local, type_only in _imports(tree):
            statement = " ".join((ast.get_source_segment(source, node) or "").split())
            if not statement:  # a call to import_module / __import__
                statement = f"import_module({node.names[0].name!r})"
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    base = here[: len(here) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                targets = []
                for a in node.names:
                    sub = f"{mod}.{a.name}"
                    is_mod = sub in modules or sub in stubs
                    targets.append(sub if a.name != "*" and is_mod else mod)
            for target in dict.fromkeys(targets):
                edge = Edge(name, rel, node.lineno, statement, target, local, type_only)
                if not target.startswith(inside):
                    graph.external.append(edge)
                elif target in modules:
                    graph.edges.append(edge)
                elif target in stubs:
                    if not type_only:  # a stub-only module cannot be imported at run time
                        graph.unresolved.append(edge)
                else:
                    graph.unresolved.append(edge)
    return graph


# ----------------------------------------------------------------------------- the checks


def find_cycles(graph: Graph) -> list[list[Edge]]:
    """One cycle (its edges, in order) for each strongly connected component that has one."""
    adj = graph.adjacency()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def strongconnect(v):  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in adj[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(adj):
        if v not in index:
            strongconnect(v)

    cycles = []
    for comp in components:
        members = set(comp)
        start = comp[0]
        # breadth-first from start, within the component, back to start: a shortest cycle
        prev: dict[str, Edge] = {}
        frontier = [start]
        found = None
        while frontier and found is None:
            nxt = []
            for v in frontier:
                for w, e in sorted(adj[v].items()):
                    if w == start:
                        found = e
                        break
                    if w in members and w not in prev:
                        prev[w] = e
                        nxt.append(w)
                if found:
                    break
            frontier = nxt
        path = [found]
        while path[-1].source != start:
            path.append(prev[path[-1].source])
        cycles.append(path[::-1])
    return cycles


def describe_cycle(cycle: list[Edge]) -> str:
    names = " -> ".join([e.source for e in cycle] + [cycle[0].source])
    return names + "\n" + "\n".join(f"    {e.where()}" for e in cycle)


def unit_of(module: str) -> str:
    """The top-level package or module of `module` (the package itself for its __init__)."""
    return ".".join(module.split(".")[:2])


def layer_table(layers) -> dict[str, int]:
    table = {}
    for i, units in enumerate(layers):
        for u in units:
            assert u not in table, f"{u} is listed in two layers ({table[u]} and {i})"
            table[u] = i
    return table


def unassigned_modules(graph: Graph, layers) -> list[str]:
    table = layer_table(layers)
    return [
        f"{graph.modules[m].relative_to(graph.root).as_posix()} ({m}): its unit {unit_of(m)} "
        "is in no layer"
        for m in sorted(graph.modules)
        if unit_of(m) not in table
    ]


def layer_violations(graph: Graph, layers) -> list[str]:
    """An entry per import of a higher layer, or of a sibling unit of the same layer."""
    table = layer_table(layers)
    out = []
    for e in graph.edges:
        su, tu = unit_of(e.source), unit_of(e.target)
        if su == tu or su not in table or tu not in table:
            continue  # within a unit; unassigned units fail their own check
        s, t = table[su], table[tu]
        if t > s:
            out.append(
                f"{e.where()}: {e.source} (layer {s}, {su}) imports {e.target} from a higher "
                f"layer ({t}, {tu})"
            )
        elif t == s:
            out.append(
                f"{e.where()}: {e.source} ({su}) imports {e.target} from its sibling {tu} "
                f"(both in layer {s})"
            )
    return out


def local_package_imports(graph: Graph) -> list[str]:
    return [
        f"{e.where()}: {e.source} imports {e.target} inside a function"
        for e in graph.edges + graph.unresolved
        if e.local
    ]


def array_library_imports(graph: Graph, allowed=ARRAY_IMPORTERS) -> list[str]:
    return [
        f"{e.where()}: {e.source} imports {e.target}"
        for e in graph.external
        if e.target.split(".")[0] in ARRAY_LIBRARIES and not e.path.startswith(allowed)
    ]


# ----------------------------------------------------------------------------- gpugrad

GRAPH = build_graph(ROOT, "gpugrad")


def test_the_graph_sees_the_package():
    assert "gpugrad.core.tensor" in GRAPH.modules, "no gpugrad sources found"
    assert len(GRAPH.modules) >= 40
    edges = {(e.source, e.target) for e in GRAPH.edges}
    # resolution: relative, `from pkg import module`, `from pkg import name`, absolute
    assert ("gpugrad.core.dims", "gpugrad.backend") in edges  # from .. import backend as B
    assert ("gpugrad.core.tensor", "gpugrad.core.format") in edges  # from . import format
    assert ("gpugrad.autograd.functional", "gpugrad.ops") in edges  # from ..ops import stack
    assert ("gpugrad.bench.mlp", "gpugrad.nn.functional") in edges  # from gpugrad.nn import F


def test_every_gpugrad_import_resolves():
    bad = [f"{e.where()}: {e.target} is not a module of gpugrad" for e in GRAPH.unresolved]
    assert not bad, "imports of gpugrad modules that do not exist:\n" + "\n".join(bad)


def test_no_import_cycles():
    cycles = find_cycles(GRAPH)
    assert not cycles, "import cycles in gpugrad:\n" + "\n".join(map(describe_cycle, cycles))


def test_every_module_has_a_layer():
    missing = unassigned_modules(GRAPH, LAYERS)
    assert not missing, (
        "modules in no layer: add their unit to LAYERS in tests/test_layers.py (and to the "
        "layer table in docs/DESIGN.md):\n" + "\n".join(missing)
    )


def test_every_layer_unit_exists():
    units = {unit_of(m) for m in GRAPH.modules}
    stale = sorted(u for layer in LAYERS for u in layer if u not in units)
    assert not stale, f"LAYERS names units that are not in gpugrad/: {stale}"


def test_no_module_imports_a_higher_layer_or_a_sibling():
    bad = layer_violations(GRAPH, LAYERS)
    assert not bad, "layering violations (layers bottom up: see LAYERS):\n" + "\n".join(bad)


def test_no_function_local_imports_of_gpugrad():
    bad = local_package_imports(GRAPH)
    assert not bad, (
        "function-local imports of gpugrad modules (import at module level; a lazy import "
        "hides a cycle or a layering violation):\n" + "\n".join(bad)
    )


def test_only_the_backend_imports_numpy_or_cupy():
    bad = array_library_imports(GRAPH)
    assert not bad, (
        "only gpugrad/backend.py (and gpugrad/ops/kernels/) may import numpy/cupy:\n"
        + "\n".join(bad)
    )


def test_the_kernels_directory_exists():
    """ARRAY_IMPORTERS names real places (a move would silently widen nothing, but say so)."""
    for p in ARRAY_IMPORTERS:
        assert (ROOT / p).exists(), f"{p} (allowed to import numpy/cupy) does not exist"


# ----------------------------------------------------------------------------- the checker


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))


FAKE_LAYERS = [("fake.low",), ("fake.mid_a", "fake.mid_b"), ("fake",)]


@pytest.fixture
def fake(tmp_path):
    _write(
        tmp_path,
        {
            "fake/__init__.py": "from . import low, mid_a\nfrom .mid_b import thing\n",
            "fake/low/__init__.py": "",
            # a cycle within one unit: low.x -> low.y -> low.z -> low.x
            "fake/low/x.py": "from . import y\n",
            "fake/low/y.py": "from .z import something\n",
            "fake/low/z.py": "import fake.low.x\n",
            # an upward import, at module level
            "fake/low/up.py": "from ..mid_a import helper\n",
            # a sibling import, and a lazy one of the package (and of a third-party module)
            "fake/mid_a.py": """\
                import numpy as np
                from .mid_b import thing


                def helper():
                    from .low import x
                    import cupy
                    return x, cupy
                """,
            "fake/mid_b.py": """\
                from typing import TYPE_CHECKING

                from . import low as _low

                if TYPE_CHECKING:
                    from ._stub import Stubbed
                    from .mid_a import helper
                thing = 1
                """,
            "fake/_stub.pyi": "class Stubbed: ...\n",
            "fake/extra.py": "import fake.nothing_here\n",
        },
    )
    return build_graph(tmp_path, "fake")


def test_checker_resolves_imports(fake):
    edges = {(e.source, e.target, e.local, e.type_only) for e in fake.edges}
    assert ("fake", "fake.low", False, False) in edges  # from . import low
    assert ("fake", "fake.mid_b", False, False) in edges  # from .mid_b import thing (a name)
    assert ("fake.low.x", "fake.low.y", False, False) in edges
    assert ("fake.low.z", "fake.low.x", False, False) in edges  # import fake.low.x
    assert ("fake.mid_a", "fake.low.x", True, False) in edges
    assert ("fake.mid_b", "fake.mid_a", False, True) in edges  # TYPE_CHECKING, a real module
    assert not any(e.target == "fake._stub" for e in fake.edges + fake.unresolved)
    assert [e.target for e in fake.unresolved] == ["fake.nothing_here"]
    assert {e.target for e in fake.external} == {"numpy", "cupy", "typing"}


def test_checker_finds_cycles(fake):
    cycles = find_cycles(fake)
    names = sorted(sorted(e.source for e in c) for c in cycles)
    # low.x -> low.y -> low.z -> low.x, and mid_a -> mid_b -> mid_a (TYPE_CHECKING counts)
    assert names == [["fake.low.x", "fake.low.y", "fake.low.z"], ["fake.mid_a", "fake.mid_b"]]
    text = "\n".join(map(describe_cycle, cycles))
    assert "fake/low/x.py:1 `from . import y`" in text
    assert "fake/low/z.py:1 `import fake.low.x`" in text


def test_checker_finds_upward_and_sibling_imports(fake):
    bad = layer_violations(fake, FAKE_LAYERS)
    assert any(
        m.startswith("fake/low/up.py:1 `from ..mid_a import helper`")
        and "higher layer (1, fake.mid_a)" in m
        for m in bad
    ), bad
    assert any(
        m.startswith("fake/mid_a.py:2 `from .mid_b import thing`") and "sibling fake.mid_b" in m
        for m in bad
    ), bad
    assert any(
        m.startswith("fake/mid_b.py:7 `from .mid_a import helper`") and "sibling fake.mid_a" in m
        for m in bad
    ), bad  # under TYPE_CHECKING: it counts
    # the package __init__ (top layer) importing everything is fine; so is low.x -> low.y
    assert not any(m.startswith(("fake/__init__.py", "fake/low/x.py")) for m in bad), bad


def test_checker_finds_unassigned_modules(fake):
    missing = unassigned_modules(fake, FAKE_LAYERS)
    assert missing == ["fake/extra.py (fake.extra): its unit fake.extra is in no layer"]


def test_checker_finds_local_and_array_library_imports(fake):
    assert local_package_imports(fake) == [
        "fake/mid_a.py:6 `from .low import x`: fake.mid_a imports fake.low.x inside a function"
    ]
    assert array_library_imports(fake, allowed=("fake/low/",)) == [
        "fake/mid_a.py:1 `import numpy as np`: fake.mid_a imports numpy",
        "fake/mid_a.py:7 `import cupy`: fake.mid_a imports cupy",
    ]
