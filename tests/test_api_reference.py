"""README.md's "API reference" table matches the package: every listed name exists, and every
public function or class of the main namespaces (and every public Tensor attribute) is listed."""

import importlib
import importlib.util
import inspect
import pathlib
import re
import types

import pytest

import gpugrad

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"

# Namespaces whose public functions and classes must all be in the table.
CHECKED = ["gpugrad", "gpugrad.autograd", "gpugrad.func", "gpugrad.linalg", "gpugrad.nn",
           "gpugrad.optim", "gpugrad.utils.data", "gpugrad.distributed", "gpugrad.nn.parallel"]


def _table():
    """{namespace: set of names} from the rows ``| group | `namespace` | `a` `b` ... |``."""
    text = README.read_text(encoding="utf-8")
    m = re.search(r"^## API reference\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m, "README.md has no '## API reference' section"
    table: dict[str, set[str]] = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].startswith("`"):
            continue
        ns = cells[1].strip("`")
        names = re.findall(r"`([^`]+)`", cells[2])
        assert names, f"empty row for {ns}"
        table.setdefault(ns, set()).update(names)
    assert table, "the API reference section has no table rows"
    return table


def _resolve(ns):
    if ns == "gpugrad.Tensor":
        return gpugrad.Tensor
    return importlib.import_module(ns)


def _in_package(obj, ns):
    mod = getattr(obj, "__module__", None) or ""
    return mod == ns or mod.startswith(ns + ".")


def _public(ns):
    """Public functions and classes of module `ns`: not modules, not dtype or float constants,
    and not names re-exported from another listed namespace (``gpugrad.func.Tensor``)."""
    mod = importlib.import_module(ns)
    out = set()
    for name in dir(mod):
        if name.startswith("_"):
            continue
        obj = getattr(mod, name)
        if isinstance(obj, types.ModuleType) or not (callable(obj) or inspect.isclass(obj)):
            continue
        if isinstance(obj, gpugrad.dtype):  # float32, ... (instances, but keep them out anyway)
            continue
        elsewhere = getattr(gpugrad, name, None) is obj or \
            getattr(gpugrad.autograd, name, None) is obj
        if ns != "gpugrad" and not _in_package(obj, ns) and elsewhere:
            continue
        out.add(name)
    return out


TABLE = _table()


@pytest.mark.parametrize("ns", sorted(TABLE))
def test_listed_names_exist(ns):
    target = _resolve(ns)
    missing = sorted(n for n in TABLE[ns] if not hasattr(target, n))
    assert not missing, f"README API reference lists names that {ns} lacks: {missing}"


@pytest.mark.parametrize("ns", CHECKED)
def test_public_names_are_listed(ns):
    unlisted = sorted(_public(ns) - TABLE.get(ns, set()))
    assert not unlisted, f"public names of {ns} missing from README's API reference: {unlisted}"


def test_tensor_attributes_are_listed():
    public = {n for n in dir(gpugrad.Tensor) if not n.startswith("_")}
    unlisted = sorted(public - TABLE.get("gpugrad.Tensor", set()))
    assert not unlisted, f"Tensor attributes missing from README's API reference: {unlisted}"


def test_generated_stubs_and_table_are_current():
    """The type stubs and the README's table of ops are what tools/gen_api.py makes of the op
    declarations (run it after declaring an op)."""
    spec = importlib.util.spec_from_file_location(
        "gen_api", pathlib.Path(__file__).resolve().parents[1] / "tools" / "gen_api.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    stale = [str(p.relative_to(gen.ROOT)) for p, text in gen.generated().items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"out of date (run python tools/gen_api.py): {stale}"


def test_every_public_op_is_a_function_or_method():
    from gpugrad.ops.registry import PUBLIC

    for name, p in PUBLIC.items():
        if p.function:
            assert callable(getattr(gpugrad, name)), name
        if p.method:
            assert callable(getattr(gpugrad.Tensor, name)), name
        if p.inplace:
            assert callable(getattr(gpugrad.Tensor, name + "_")), name
