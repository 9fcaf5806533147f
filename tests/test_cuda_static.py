"""The CUDA path checked without a GPU, on every CPU run (CuPy and NVRTC install without one):

- every CUDA C source in gpugrad.ops.kernels compiles with NVRTC for each architecture in
  ``kernels.ARCHS`` and each dtype it is built for, with no warning;
- every array-module name the library uses (``xp.<name>``, found by parsing its source) exists
  in the installed CuPy, callable where NumPy's is, and takes the keywords gpugrad passes;
- with CuPy installed and no GPU, ``import gpugrad`` does not import CuPy and
  ``gpugrad.cuda.is_available()`` is False (so the CUDA tests skip).

The tests that need CuPy skip only where it cannot be imported at all (CI installs it: the
``cuda-check`` extra).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import gpugrad
import gpugrad.ops.kernels as kernels

ROOT = Path(gpugrad.__file__).resolve().parent


def _cupy():
    try:
        import cupy
    except Exception as exc:  # not installed, or a broken install
        pytest.skip(f"CuPy cannot be imported ({type(exc).__name__}: {exc}); "
                    "install it with pip install -e '.[cuda-check]'")
    return cupy


# ----------------------------------------------------------------------------- kernel sources


def _kernel_modules():
    """Every module of gpugrad.ops.kernels, imported."""
    return [importlib.import_module(f"{kernels.__name__}.{m.name}")
            for m in pkgutil.iter_modules(kernels.__path__)]


def _sources():
    """(id, source, dtype) for every declared CUDA source and dtype it is built for."""
    out = []
    for mod in _kernel_modules():
        for src in getattr(mod, "CUDA_SOURCES", ()):
            for dtype in src.dtypes:
                out.append(pytest.param(src, dtype, id=f"{mod.__name__.rpartition('.')[2]}-"
                                                       f"{'+'.join(src.kernels)}-{dtype}"))
    return out


SOURCES = _sources()


# What marks CUDA code in a kernel module's text (CPU kernels, e.g. Numba loops, have none).
_CUDA_MARKS = ("__global__", "RawKernel", "RawModule", "ElementwiseKernel", "ReductionKernel",
               "fuse(")


def test_every_kernel_module_with_cuda_code_declares_its_sources():
    """A module with CUDA code declares every ``__global__`` kernel in its text in
    CUDA_SOURCES, so that the compile test below sees it."""
    mods = _kernel_modules()
    assert f"{kernels.__name__}.linear_mse" in [m.__name__ for m in mods]
    bad = []
    for mod in mods:
        text = Path(mod.__file__).read_text()
        srcs = getattr(mod, "CUDA_SOURCES", None)
        if srcs is None:
            marks = [m for m in _CUDA_MARKS if m in text]
            if marks:
                bad.append(f"{mod.__name__}: CUDA code ({', '.join(marks)}) but no CUDA_SOURCES")
            continue
        if not srcs or not all(isinstance(s, kernels.CudaSource) for s in srcs):
            bad.append(f"{mod.__name__}: CUDA_SOURCES is not a tuple of kernels.CudaSource")
            continue
        declared = [k for s in srcs for k in s.kernels]
        in_text = re.findall(r"__global__\s+void\s+(\w+)\s*\(", text)
        if sorted(in_text) != sorted(declared):
            bad.append(f"{mod.__name__}: __global__ kernels {sorted(in_text)} in the text, "
                       f"{sorted(declared)} declared")
        for s in srcs:
            for name in s.kernels:
                if not re.search(rf'extern "C" __global__ void {name}\(', s.code):
                    bad.append(f"{mod.__name__}: kernel {name} is not an extern \"C\" "
                               "__global__ function of its source")
            if not s.dtypes or not set(s.dtypes) <= {"float32", "float64"}:
                bad.append(f"{mod.__name__}: dtypes {s.dtypes}")
    assert not bad, "\n".join(bad)
    assert len(SOURCES) >= 2  # linear_mse, float32 and float64


@pytest.mark.parametrize("arch", kernels.ARCHS)
@pytest.mark.parametrize("source,dtype", SOURCES)
def test_cuda_source_compiles_without_warnings(source, dtype, arch):
    """NVRTC to a cubin (ptxas included) for `arch`. NVRTC has no warnings-as-errors flag for
    the front end, so the compile log must be empty; ptxas's warnings are errors."""
    _cupy()
    from cupy.cuda import nvrtc

    prog = nvrtc.createProgram(source.render(dtype), f"{source.kernels[0]}.cu", [], [])
    try:
        try:
            nvrtc.compileProgram(prog, [f"--gpu-architecture={arch}", "-Xptxas=-Werror"])
        except nvrtc.NVRTCError as exc:
            pytest.fail(f"{source.kernels} ({dtype}, {arch}) does not compile: {exc}\n"
                        f"{nvrtc.getProgramLog(prog)}")
        log = nvrtc.getProgramLog(prog).strip("\x00 \n")
        assert not log, f"{source.kernels} ({dtype}, {arch}): warnings\n{log}"
        assert len(nvrtc.getCUBIN(prog)) > 0
    finally:
        nvrtc.destroyProgram(prog)


def test_the_compile_check_sees_warnings_and_errors():
    """The check above can fail: a warning reaches the log, an error raises."""
    _cupy()
    from cupy.cuda import nvrtc

    for code, error in [('extern "C" __global__ void f(int* a) { int unused; a[0] = 1; }', False),
                        ('extern "C" __global__ void f(T* a) { a[0] = 1; }', True)]:
        prog = nvrtc.createProgram(code, "f.cu", [], [])
        try:
            if error:
                with pytest.raises(nvrtc.NVRTCError):
                    nvrtc.compileProgram(prog, ["--gpu-architecture=sm_80", "-Xptxas=-Werror"])
            else:
                nvrtc.compileProgram(prog, ["--gpu-architecture=sm_80", "-Xptxas=-Werror"])
                assert "warning" in nvrtc.getProgramLog(prog)
        finally:
            nvrtc.destroyProgram(prog)


def test_the_kernel_compiles_the_declared_source(monkeypatch):
    """What runs on a GPU is what was compiled above: the kernel builds its module from
    `render` of its declared source."""
    from gpugrad.ops.kernels import linear_mse

    made = []

    class FakeModule:
        def __init__(self, code):
            made.append(code)

        def get_function(self, name):
            return name

    class FakeCupy:
        @staticmethod
        def RawModule(code):  # noqa: N802 - CuPy's name
            return FakeModule(code)

    monkeypatch.setattr(linear_mse, "_modules", {})
    for dtype in ("float32", "float64"):
        assert linear_mse._kernels(FakeCupy, np.dtype(dtype)) == linear_mse.SOURCE.kernels
        assert made[-1] == linear_mse.SOURCE.render(dtype)
    linear_mse._kernels(FakeCupy, np.dtype("float32"))
    assert len(made) == 2, "the module is compiled once per dtype"
    with pytest.raises(ValueError, match="not built for float16"):
        linear_mse.SOURCE.render("float16")


# ----------------------------------------------------------------------------- xp.<name> in CuPy

# The spellings of the array module in gpugrad's source: a name `xp` (rule and forward
# parameters, locals), an attribute `.xp` (`self.xp`, `F.xp`, `bench.xp`), and the backend's
# lookups used in place (`B.xp_of(a).name`, `B.xp_for(dev).name`).
_LOOKUPS = {"xp_of", "xp_for"}
# CuPy's ufuncs (no signature to inspect) take these keywords (cupy.ufunc.__call__'s doc).
_CUPY_UFUNC_KEYWORDS = {"out", "dtype", "casting"}


def _is_lookup(node) -> bool:
    f = node.func if isinstance(node, ast.Call) else None
    return ((isinstance(f, ast.Name) and f.id in _LOOKUPS)
            or (isinstance(f, ast.Attribute) and f.attr in _LOOKUPS))


def _is_module(node) -> bool:
    return ((isinstance(node, ast.Name) and node.id == "xp")
            or (isinstance(node, ast.Attribute) and node.attr == "xp")
            or _is_lookup(node))


def _dotted(node):
    """'linalg.solve' for ``xp.linalg.solve``; None when `node` is not such a chain."""
    parts = []
    while isinstance(node, ast.Attribute) and not _is_module(node):
        parts.append(node.attr)
        node = node.value
    return ".".join(reversed(parts)) if parts and _is_module(node) else None


def _scan():
    """name -> {"where": [file:line], "keywords": {keyword: [file:line]}} for every use of the
    array module in gpugrad; and the lookups whose result is kept under another spelling."""
    uses: dict = defaultdict(lambda: {"where": [], "keywords": defaultdict(list)})
    hidden = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).as_posix()
        text = path.read_text()
        lines = text.splitlines()
        tree = ast.parse(text, rel)
        parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and not isinstance(parents.get(node),
                                                                  ast.Attribute):
                # the whole chain, and each prefix: xp.linalg.solve -> linalg, linalg.solve
                chain = node
                while isinstance(chain, ast.Attribute):
                    name = _dotted(chain)
                    if name:
                        uses[name]["where"].append(f"{rel}:{chain.lineno}")
                    chain = chain.value
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = _dotted(node.func)
                if name:
                    for kw in node.keywords:
                        if kw.arg is not None:
                            uses[name]["keywords"][kw.arg].append(f"{rel}:{node.lineno}")
            if _is_lookup(node):
                p = parents.get(node)
                while isinstance(p, ast.IfExp):  # xp = xp_of(a) if ... else ...
                    p = parents.get(p)
                named_xp = (isinstance(p, ast.Assign) and len(p.targets) == 1
                            and isinstance(p.targets[0], ast.Name) and p.targets[0].id == "xp")
                # (compared, `xp_of(a) is not B.numpy`, it is used for no name)
                if not (named_xp or isinstance(p, (ast.Attribute, ast.Return, ast.Compare))):
                    hidden.append((f"{rel}:{node.lineno}", lines[node.lineno - 1].strip()))
    return uses, hidden


def _resolve(module, name):
    obj = module
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def _parameters(f):
    """The keyword names `f` takes; None where its signature cannot be read or takes any."""
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind is not p.POSITIONAL_ONLY}


def test_every_array_module_name_the_library_uses_exists_in_cupy():
    cupy = _cupy()
    uses, hidden = _scan()
    # A lookup kept under another spelling would hide its uses from this test; the known one:
    # autograd/function.py keeps xp_of(output) in a ctx._meta tuple and calls meta[2].zeros.
    known = {"zeros"}
    hidden = [h for h in hidden if not (h[0].startswith("gpugrad/autograd/function.py:")
                                        and h[1].startswith("ctx._meta = "))]
    assert not hidden, ("array-module lookups kept under a name other than `xp`, whose uses the "
                        f"scan cannot see: {hidden}")
    names = set(uses) | known
    assert len(names) > 60, f"the scan found only {len(names)} names: is it still seeing xp?"
    bad, keyword_checks = [], 0
    for name in sorted(names):
        where = ", ".join(uses[name]["where"][:3]) if name in uses else "autograd/function.py"
        try:
            c = _resolve(cupy, name)
        except AttributeError:
            bad.append(f"xp.{name}: not in CuPy {cupy.__version__} (used at {where})")
            continue
        try:
            n = _resolve(np, name)
        except AttributeError:
            n = None
        if n is not None and callable(n) and not callable(c):
            bad.append(f"xp.{name}: callable in NumPy, not in CuPy (used at {where})")
        keywords = uses[name]["keywords"] if name in uses else {}
        if not keywords:
            continue
        if type(c).__name__ == "ufunc":
            takes = _CUPY_UFUNC_KEYWORDS
        else:
            takes = _parameters(c)
            if takes is None or _parameters(n) is None:
                continue  # one of the two cannot be introspected (or takes any keyword)
        keyword_checks += 1
        for kw, at in keywords.items():
            if kw not in takes:
                bad.append(f"xp.{name}(..., {kw}=): CuPy's takes no '{kw}' (used at "
                           f"{', '.join(at[:3])})")
    assert not bad, "\n".join(bad)
    print(f"{len(names)} array-module names checked against CuPy {cupy.__version__}, "
          f"keywords of {keyword_checks} of them")


def test_the_name_scan_sees_every_spelling(tmp_path, monkeypatch):
    """The scan finds names behind each spelling of the array module, with their keywords."""
    pkg = tmp_path / "gpugrad"
    pkg.mkdir()
    (pkg / "m.py").write_text(
        "def f(xp, F, self, B, a, dev):\n"
        "    xp.numpy_only_name(a, spam=1)\n"
        "    F.xp.linalg.solve(a, a)\n"
        "    self.xp.zeros_like(a, shape=(2,))\n"
        "    B.xp_of(a).take_along_axis(a, a, axis=0)\n"
        "    xp_for(dev).arange(3)\n"
        "    mod = B.xp_of(a)\n"
        "    a.xp_is_not_a_module.sum()\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", pkg)
    uses, hidden = _scan()
    assert set(uses) == {"numpy_only_name", "linalg", "linalg.solve", "zeros_like",
                         "take_along_axis", "arange"}
    assert dict(uses["numpy_only_name"]["keywords"]) == {"spam": ["gpugrad/m.py:2"]}
    assert set(uses["zeros_like"]["keywords"]) == {"shape"}
    assert hidden == [("gpugrad/m.py:7", "mod = B.xp_of(a)")]


# ----------------------------------------------------------------------------- no GPU, CuPy there


def test_cupy_without_a_gpu_is_not_imported_by_gpugrad_and_not_available():
    _cupy()
    code = ("import sys, gpugrad\n"
            "cupy = [m for m in sys.modules if m.startswith(('cupy', 'cupyx', 'cupy_backends'))]\n"
            "assert not cupy, f'import gpugrad imported {cupy}'\n"
            "print(gpugrad.cuda.is_available(), gpugrad.cuda.device_count())\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=ROOT.parent)
    assert r.returncode == 0, r.stderr
    if r.stdout.split() != ["False", "0"]:
        pytest.skip("a GPU is visible here: the no-GPU behaviour is not checked")
