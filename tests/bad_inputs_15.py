"""Issue 15's own probe: bad (and borderline) inputs written as ONE function of a module ``m``,
run on ``gpugrad`` and on ``torch`` alike. PyTorch's behaviour for each is recorded in
``tests/data/bad_inputs_torch.json`` (``python tools/gen_bad_inputs.py`` rewrites it), so the
comparison runs where torch is not installed. ``tests/test_reliability_bad_inputs.py`` compares:
where torch raises, gpugrad raises an error naming the op (these rows also join the catalogue
of ``tests/test_reliability_errors.py``); where torch returns, gpugrad returns the same dtype,
shape and values, unless the case records a difference (``differs=``: gpugrad refuses clearly
what PyTorch accepts; never a different value)."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import tempfile
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    op: str  # a regex the error message must contain (the op's name)
    fn: Callable  # fn(m): m is gpugrad or torch
    differs: str = ""  # why gpugrad raises where PyTorch returns (a documented difference)
    exc: tuple = ()  # exception types gpugrad raises where PyTorch raises another one
    accepts: str = ""  # why gpugrad computes what PyTorch refuses (the exact value, promoted)


CASES: list[Case] = []

HERE = os.path.dirname(os.path.abspath(__file__))

# What gpugrad may raise where PyTorch raises another type (the same meaning, or Python's more
# specific class: an index out of range is an IndexError, a value that does not fit an
# OverflowError, a wrong argument type a TypeError ...).
SIMILAR = {
    "RuntimeError": (RuntimeError, ValueError, IndexError, TypeError),
    "IndexError": (IndexError, RuntimeError),
    "TypeError": (TypeError, RuntimeError, ValueError, IndexError),
    "ValueError": (ValueError, RuntimeError, TypeError),
    "NotImplementedError": (NotImplementedError, RuntimeError, TypeError),
    "ZeroDivisionError": (ZeroDivisionError, RuntimeError),
    "FileNotFoundError": (FileNotFoundError,),
    "IsADirectoryError": (IsADirectoryError,),
    "AssertionError": (RuntimeError, ValueError),
    "UnpicklingError": (ValueError, RuntimeError),
    "EOFError": (ValueError, RuntimeError),
    "OverflowError": (OverflowError,),
}


def torch_record():
    """PyTorch's recorded behaviour, by case id."""
    with open(os.path.join(HERE, "data", "bad_inputs_torch.json")) as f:
        return json.load(f)["cases"]


def raising_cases():
    """(case, exception types gpugrad must raise) for every case where gpugrad raises: those
    where PyTorch raises too, and the recorded differences (``differs=``)."""
    rec = torch_record()
    out = []
    for c in CASES:
        want = rec[c.id]
        if c.accepts or "raises" not in want and not c.differs:
            continue
        kinds = c.exc or (SIMILAR.get(want["raises"], (Exception,)) if "raises" in want else
                          (RuntimeError, ValueError, TypeError, IndexError))
        out.append((c, kinds))
    return out


def C(id, op, fn, differs="", exc=(), accepts=""):
    CASES.append(Case(id, op, fn, differs, tuple(exc), accepts))


def F(m):
    return m.nn.functional


def T(m, *a, **k):
    return m.tensor(*a, **k)


def ones(m, *shape, dtype=None):
    return m.ones(*shape, dtype=dtype if dtype is None else getattr(m, dtype))


def leaf(m, *shape):
    return m.ones(*shape, requires_grad=True)


# ----------------------------------------------------------------------------- construction

C("tensor-ragged", "tensor", lambda m: T(m, [[1, 2], [3]]), exc=(ValueError,))
C("tensor-ragged-deep", "tensor", lambda m: T(m, [[[1.0]], [[1.0, 2.0]]]), exc=(ValueError,))
C("tensor-str-list", "tensor", lambda m: T(m, ["a", "b"]))
C("tensor-mixed-str", "tensor", lambda m: T(m, [1, "a"]))
C("tensor-none", "tensor", lambda m: T(m, None), exc=(TypeError,))
C("tensor-none-in-list", "tensor", lambda m: T(m, [1.0, None]), exc=(TypeError,))
C("tensor-dict", "tensor", lambda m: T(m, {"a": 1}), exc=(TypeError,))
C("tensor-set", "tensor", lambda m: T(m, {1, 2}), exc=(TypeError,))
C("tensor-2**63", "tensor", lambda m: T(m, [2**63]), exc=(OverflowError,))
C("tensor-2**64", "tensor", lambda m: T(m, 2**64), exc=(OverflowError,))
C("tensor--2**63-1", "tensor", lambda m: T(m, [-2**63 - 1]), exc=(OverflowError,))
C("tensor-min-int64", "tensor", lambda m: T(m, [-2**63]))
C("tensor-300-uint8", "tensor", lambda m: T(m, [300], dtype=m.uint8), exc=(OverflowError,))
C("tensor-2**40-int32", "tensor", lambda m: T(m, [2**40], dtype=m.int32), exc=(OverflowError,))
C("tensor-1e10-int32", "tensor", lambda m: T(m, [1e10], dtype=m.int32), exc=(OverflowError,))
C("tensor-inf-int64", "tensor", lambda m: T(m, [float("inf")], dtype=m.int64),
  exc=(OverflowError,))
C("tensor-nan-int16", "tensor", lambda m: T(m, [float("nan")], dtype=m.int16),
  exc=(OverflowError,))
C("tensor-1.9-int64", "tensor", lambda m: T(m, [1.9, -1.9], dtype=m.int64))
C("tensor-2-bool", "tensor", lambda m: T(m, [2, 0], dtype=m.bool))
C("tensor-1e6-float16", "tensor", lambda m: T(m, [1e6], dtype=m.float16))
C("tensor-1e300-float32", "tensor", lambda m: T(m, [1e300]))
C("tensor-bool-int-mix", "tensor", lambda m: T(m, [True, 2]))
C("tensor-int-float-mix", "tensor", lambda m: T(m, [1, 2.5]))
C("tensor-empty", "tensor", lambda m: T(m, []))
C("tensor-empty-nested", "tensor", lambda m: T(m, [[], []]))
C("tensor-0d-bool", "tensor", lambda m: T(m, True))
C("tensor-requires-grad-int", "requires_grad", lambda m: T(m, [1], requires_grad=True))
C("tensor-dtype-int-type", "tensor", lambda m: T(m, [1.5], dtype=int))
C("tensor-dtype-float-type", "tensor", lambda m: T(m, [1], dtype=float))
C("tensor-bad-device", "device", lambda m: T(m, [1.0], device="tpu"), exc=(ValueError,))
C("tensor-bad-device-index", "device", lambda m: T(m, [1.0], device="cuda:x"),
  exc=(ValueError,))
C("tensor-device-int-type", "device", lambda m: T(m, [1.0], device=1.5), exc=(TypeError,))
C("as_tensor-str", "as_tensor", lambda m: m.as_tensor(["x"]))

# ----------------------------------------------------------------------------- factories

for _f in ("zeros", "ones", "empty", "rand", "randn"):
    C(f"{_f}-negative", _f, lambda m, f=_f: getattr(m, f)(2, -1))
    C(f"{_f}-float-size", _f, lambda m, f=_f: getattr(m, f)(2.5))
    C(f"{_f}-str-size", _f, lambda m, f=_f: getattr(m, f)("3"))
    C(f"{_f}-none-size", _f, lambda m, f=_f: getattr(m, f)(None))
C("zeros-2**62", "zeros", lambda m: m.zeros(2**62))
C("zeros-zero-dims", "zeros", lambda m: m.zeros(0, 3))
C("full-none", "full", lambda m: m.full((2,), None))
C("full-str", "full", lambda m: m.full((2,), "x"))
C("full-1e10-int32", "full", lambda m: m.full((2,), 1e10, dtype=m.int32), exc=(OverflowError,))
C("full-nan-int64", "full", lambda m: m.full((2,), float("nan"), dtype=m.int64),
  exc=(OverflowError,))
C("full-inf-int8", "full", lambda m: m.full((2,), float("inf"), dtype=m.int8),
  exc=(OverflowError,))
C("full-300-uint8", "full", lambda m: m.full((2,), 300, dtype=m.uint8), exc=(OverflowError,))
C("full-2.7-int64", "full", lambda m: m.full((2,), 2.7, dtype=m.int64))
C("full-bool-value", "full", lambda m: m.full((2,), True))
C("full-int-value", "full", lambda m: m.full((2,), 3))
C("full-negative-size", "full", lambda m: m.full((-2,), 1.0))
C("full_like-nan-int", "full_like", lambda m: m.full_like(ones(m, 2, dtype="int32"),
                                                          float("nan")), exc=(OverflowError,))
C("full_like-2.5-int", "full_like", lambda m: m.full_like(ones(m, 2, dtype="int32"), 2.5))
C("arange-step-0", "arange", lambda m: m.arange(0, 10, 0))
C("arange-wrong-sign", "arange", lambda m: m.arange(10, 0, 1))
C("arange-float", "arange", lambda m: m.arange(0, 1, 0.25))
C("arange-empty", "arange", lambda m: m.arange(3, 3))
C("arange-nan", "arange", lambda m: m.arange(0, float("nan")))
C("arange-inf", "arange", lambda m: m.arange(0, float("inf")))
C("linspace-negative", "linspace", lambda m: m.linspace(0, 1, -1))
C("linspace-one", "linspace", lambda m: m.linspace(0, 1, 1))
C("eye-negative", "eye", lambda m: m.eye(-1))
C("eye-zero", "eye", lambda m: m.eye(0))
C("randint-empty-range", "randint", lambda m: m.randint(5, 5, (2,)))
C("randint-reversed", "randint", lambda m: m.randint(5, 2, (2,)))
C("randint-uint8-300", "randint", lambda m: m.randint(0, 300, (2,), dtype=m.uint8),
  exc=(OverflowError,))
C("randint-int8-neg", "randint", lambda m: m.randint(-200, 0, (2,), dtype=m.int8),
  exc=(OverflowError,))
C("randint-int32-2**40", "randint", lambda m: m.randint(0, 2**40, (2,), dtype=m.int32),
  exc=(OverflowError,))
C("randint-negative-size", "randint", lambda m: m.randint(0, 5, (-1,)))
C("randperm-negative", "randperm", lambda m: m.randperm(-1))
C("randperm-int8-300", "randperm", lambda m: m.randperm(300, dtype=m.int8),
  exc=(OverflowError,))
C("randperm-zero", "randperm", lambda m: m.randperm(0))
C("rand-int-dtype", "rand", lambda m: m.rand(2, dtype=m.int64), exc=(TypeError,))
C("randn-bool-dtype", "randn", lambda m: m.randn(2, dtype=m.bool), exc=(TypeError,))
C("manual_seed-negative", "manual_seed", lambda m: m.manual_seed(-1) and None)
C("manual_seed-float", "manual_seed", lambda m: m.manual_seed(1.5) and None)
C("manual_seed-2**64", "manual_seed", lambda m: m.manual_seed(2**64) and None,
  exc=(OverflowError,))
C("manual_seed-str", "manual_seed", lambda m: m.manual_seed("a") and None, exc=(ValueError,))

# ----------------------------------------------------------------------------- arithmetic dtypes

_INT_FLOAT = "gpugrad computes it in floating point (PyTorch has no integer kernel for it)"
_PROMOTES = "gpugrad promotes mixed dtypes (PyTorch requires one dtype)"
_BIN = ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "remainder", "fmod", "atan2",
        "floor_divide", "eq", "lt", "logaddexp", "hypot")
for _op in _BIN:
    C(f"{_op}-shapes", _op, lambda m, op=_op: getattr(m, op)(ones(m, 2, 3), ones(m, 4, 5)))
    C(f"{_op}-int-int", _op, lambda m, op=_op: getattr(m, op)(T(m, [7, -7, 5]), T(m, [2, 3, -3])),
      accepts=_INT_FLOAT if _op in ("logaddexp", "hypot") else "")
    C(f"{_op}-uint8-int8", _op, lambda m, op=_op: getattr(m, op)(
        T(m, [7, 200, 5], dtype=m.uint8), T(m, [2, 3, -3], dtype=m.int8)),
      accepts=_INT_FLOAT if _op in ("logaddexp", "hypot") else "")
    C(f"{_op}-f16-f64", _op, lambda m, op=_op: getattr(m, op)(
        T(m, [1.5, -2.0], dtype=m.float16), T(m, [2.0, 0.5], dtype=m.float64)))
    C(f"{_op}-int-0d-float", _op, lambda m, op=_op: getattr(m, op)(T(m, [3, 4]), T(m, 2.0)))
    C(f"{_op}-empty", _op, lambda m, op=_op: getattr(m, op)(ones(m, 0, 3), ones(m, 3)))
C("int-floordiv-zero", "floor_divide|ZeroDivision", lambda m: T(m, [1]) // T(m, [0]),
  exc=(ZeroDivisionError,))
C("int-mod-zero", "remainder|ZeroDivision", lambda m: T(m, [1]) % T(m, [0]),
  exc=(ZeroDivisionError,))
C("int-floordiv-big", "floor_divide", lambda m: T(m, [16777217]) // 1)
C("int-mod-neg", "remainder", lambda m: T(m, [-7, 7]) % T(m, [2, -2]))
C("bool-sub", "sub", lambda m: T(m, [True]) - T(m, [False]))
C("bool-neg", "neg", lambda m: -T(m, [True]))
C("bool-add", "add", lambda m: T(m, [True]) + T(m, [True]))
C("int-sqrt", "sqrt", lambda m: T(m, [4, 9]).sqrt())
C("int-exp", "exp", lambda m: T(m, [0, 1]).exp())
C("int-div", "div", lambda m: T(m, [5]) / T(m, [2]))
C("int-true-div-scalar", "div", lambda m: T(m, [5]) / 2)
C("uint8-wrap", "sub", lambda m: T(m, [0], dtype=m.uint8) - 1)
C("int8-plus-1000", "add", lambda m: T(m, [1], dtype=m.int8) + 1000,
  differs="gpugrad refuses a Python int the dtype can't hold (PyTorch wraps it)")
C("int-add_-float", "add_", lambda m: T(m, [1]).add_(1.5))
C("int-mul_-float-tensor", "mul_", lambda m: T(m, [1]).mul_(T(m, [1.5])))
C("int-div_", "div_", lambda m: T(m, [4]).div_(2))
C("float-add_-double", "add_", lambda m: ones(m, 2).add_(ones(m, 2, dtype="float64")))
C("add_-broadcast-out", "add_", lambda m: ones(m, 3).add_(ones(m, 3, 3)))
C("bool-add_-int", "add_", lambda m: T(m, [True]).add_(T(m, [2])))
C("int32-add_-2**40", "add_", lambda m: ones(m, 2, dtype="int32").add_(2**40),
  differs="gpugrad refuses a Python int the dtype can't hold (PyTorch wraps it)")
C("pow-int-negative", "pow", lambda m: T(m, [2]) ** -1)
C("pow-int-int-negative", "pow", lambda m: T(m, [2]) ** T(m, [-1]))
C("pow-0-0", "pow", lambda m: T(m, [0.0]) ** 0)
C("clamp-min-gt-max", "clamp", lambda m: T(m, [0.5, 2.0]).clamp(1.0, 0.0))
C("clamp-none-none", "clamp", lambda m: T(m, [0.5]).clamp())
C("clamp-int-float-bound", "clamp", lambda m: T(m, [1, 5]).clamp(0.5, 2.5))
C("where-non-bool-cond", "where", lambda m: m.where(T(m, [1.0, 0.0]), ones(m, 2), ones(m, 2)))
C("where-int-cond", "where", lambda m: m.where(T(m, [1, 0]), ones(m, 2), ones(m, 2)))
C("where-mixed-dtypes", "where", lambda m: m.where(T(m, [True, False]), T(m, [1]),
                                                  T(m, [0.5])))
C("lerp-int", "lerp", lambda m: m.lerp(T(m, [1]), T(m, [2]), 0.5),
  accepts=_INT_FLOAT)
C("bitwise-float", "bitwise_and", lambda m: m.bitwise_and(ones(m, 2), ones(m, 2)))
C("logical_not-float", "logical_not", lambda m: m.logical_not(T(m, [0.0, 2.0])))
C("round-int", "round", lambda m: T(m, [3]).round())
C("sign-bool", "sign", lambda m: T(m, [True, False]).sign())
C("abs-bool", "abs", lambda m: T(m, [True]).abs(),
  accepts="abs of a bool tensor is the tensor (PyTorch has no kernel)")
C("reciprocal-int-zero", "reciprocal", lambda m: T(m, [0, 2]).reciprocal())

# ----------------------------------------------------------------------------- reductions

_RED = ("sum", "mean", "prod", "amax", "amin", "argmax", "argmin", "std", "var", "logsumexp",
        "all", "any")
for _op in _RED:
    C(f"{_op}-dim-out-of-range", _op, lambda m, op=_op: getattr(m, op)(ones(m, 2, 3), 5))
    C(f"{_op}-dim-float", _op, lambda m, op=_op: getattr(m, op)(ones(m, 2, 3), 1.5))
    C(f"{_op}-dim-str", _op, lambda m, op=_op: getattr(m, op)(ones(m, 2, 3), "a"))
    C(f"{_op}-0d-dim0", _op, lambda m, op=_op: getattr(m, op)(T(m, 3.0), 0))
    C(f"{_op}-empty-dim0", _op, lambda m, op=_op: getattr(m, op)(ones(m, 0, 3), 0))
    C(f"{_op}-empty-dim1", _op, lambda m, op=_op: getattr(m, op)(ones(m, 0, 3), 1))
C("sum-dim-empty-tuple", "sum", lambda m: ones(m, 2, 3).sum(dim=()))
C("mean-dim-empty-list", "mean", lambda m: ones(m, 2, 3).mean(dim=[]))
C("sum-repeated-dim", "sum", lambda m: ones(m, 2, 3).sum((0, 0)))
C("sum-bool", "sum", lambda m: T(m, [True, True]).sum())
C("sum-int8", "sum", lambda m: T(m, [100, 100], dtype=m.int8).sum())
C("sum-f16-70000", "sum", lambda m: m.ones(70000, dtype=m.float16).sum())
C("mean-f16-70000", "mean", lambda m: m.ones(70000, dtype=m.float16).mean())
C("norm-f16", "norm", lambda m: T(m, [300.0, 400.0], dtype=m.float16).norm())
C("mean-int", "mean", lambda m: T(m, [1, 2]).mean())
C("std-int", "std", lambda m: T(m, [1, 2]).std())
C("var-one-element", "var", lambda m: T(m, [1.0]).var())
C("std-correction-big", "std", lambda m: T(m, [1.0, 2.0]).std(correction=5))
C("norm-int", "norm", lambda m: T(m, [3, 4]).norm())
C("norm-bad-p", "norm", lambda m: ones(m, 2).norm(p="nuc"))
C("norm-empty", "norm", lambda m: ones(m, 0).norm())
C("max-empty", "max", lambda m: ones(m, 0).max())
C("max-empty-dim0", "max", lambda m: ones(m, 0, 3).max(0), exc=(IndexError,))
C("max-empty-dim1", "max", lambda m: ones(m, 0, 3).max(1))
C("max-0d-dim0", "max", lambda m: T(m, 3.0).max(0))
C("min-0d-dim-1", "min", lambda m: T(m, 3.0).min(-1))
C("max-dim-2-on-0d", "max", lambda m: T(m, 3.0).max(2), exc=(IndexError,))
C("softmax-empty-dim", "softmax", lambda m: m.softmax(ones(m, 0, 3), 0))
C("log_softmax-empty", "log_softmax", lambda m: m.log_softmax(ones(m, 0), 0))
C("softmax-0d", "softmax", lambda m: m.softmax(T(m, 2.0), 0))
C("softmax-int", "softmax", lambda m: m.softmax(T(m, [1, 2]), 0),
  accepts=_INT_FLOAT)
C("softmax-dim-out", "softmax", lambda m: m.softmax(ones(m, 2), 3))
C("logsumexp-empty", "logsumexp", lambda m: m.logsumexp(ones(m, 0), 0))
C("logsumexp-int", "logsumexp", lambda m: m.logsumexp(T(m, [1, 2]), 0))

# ----------------------------------------------------------------------------- indexing

C("index-out-of-range", "getitem|index", lambda m: ones(m, 3)[5])
C("index-negative-out", "getitem|index", lambda m: ones(m, 3)[-4])
C("index-float", "getitem|ind", lambda m: ones(m, 3)[1.5])
C("index-str", "getitem|ind", lambda m: ones(m, 3)["a"])
C("index-list-out", "getitem|index", lambda m: ones(m, 3)[[0, 5]])
C("index-tensor-out", "getitem|index", lambda m: ones(m, 3)[T(m, [0, 5])])
C("index-float-tensor", "getitem|ind", lambda m: ones(m, 3)[T(m, [0.0])])
C("index-mask-wrong-len", "getitem|mask|index", lambda m: ones(m, 3)[T(m, [True, False])])
C("index-uint8-mask", "getitem", lambda m: m.arange(3)[T(m, [1, 0, 1], dtype=m.uint8)])
C("index-too-many", "getitem|ind", lambda m: ones(m, 3)[0, 0])
C("index-two-ellipsis", "getitem|ellipsis", lambda m: ones(m, 3)[..., ...],
  differs="gpugrad allows one ellipsis in an index, as NumPy")
C("index-ragged-list", "getitem", lambda m: ones(m, 3, 3)[[[0, 1], [1]]],
  differs="gpugrad refuses a ragged index list (PyTorch reads it as a tuple, deprecated)")
C("index-empty-list", "getitem", lambda m: ones(m, 3)[[]])
C("index-none-none", "getitem", lambda m: ones(m, 3)[None, None])
C("index-bool-scalar", "getitem", lambda m: ones(m, 3)[True])
C("setitem-out", "setitem|index", lambda m: ones(m, 3).__setitem__(5, 1.0))
C("setitem-shape", "setitem", lambda m: ones(m, 3).__setitem__(slice(None), ones(m, 4)))
C("setitem-int-float", "setitem", lambda m: T(m, [1, 2]).__setitem__(0, 2.7))
C("gather-negative", "gather", lambda m: m.gather(ones(m, 2, 3), 1, T(m, [[-1]])),
  exc=(IndexError,))
C("gather-out", "gather", lambda m: m.gather(ones(m, 2, 3), 1, T(m, [[3]])), exc=(IndexError,))
C("gather-float-index", "gather", lambda m: m.gather(ones(m, 2, 3), 1, T(m, [[0.0]])),
  exc=(TypeError,))
C("gather-dim-out", "gather", lambda m: m.gather(ones(m, 2, 3), 2, T(m, [[0]])))
C("gather-ndim", "gather", lambda m: m.gather(ones(m, 2, 3), 1, T(m, [0])))
C("gather-int32-index", "gather", lambda m: m.gather(ones(m, 2, 3), 1,
                                                    T(m, [[0]], dtype=m.int32)),
)
C("scatter_add-negative", "scatter_add", lambda m: m.scatter_add(
    ones(m, 2, 3), 1, T(m, [[-1]]), ones(m, 1, 1)), exc=(IndexError,))
C("scatter_add-out", "scatter_add", lambda m: m.scatter_add(
    ones(m, 2, 3), 1, T(m, [[7]]), ones(m, 1, 1)), exc=(IndexError,))
C("scatter_add-float-index", "scatter_add", lambda m: m.scatter_add(
    ones(m, 2, 3), 1, T(m, [[0.0]]), ones(m, 1, 1)), exc=(TypeError,))
C("index_put-shape", "index_put", lambda m: m.index_put(ones(m, 2, 3), (T(m, [0]),), ones(m, 5)))
C("select-out", "select", lambda m: m.select(ones(m, 2, 3), 1, 5), exc=(IndexError,))
C("narrow-out", "narrow", lambda m: m.narrow(ones(m, 2, 3), 1, 2, 5))

# ----------------------------------------------------------------------------- shapes

C("reshape-two-minus-one", "reshape|view", lambda m: ones(m, 6).reshape(-1, -1))
C("reshape-wrong-size", "reshape|view", lambda m: ones(m, 6).reshape(4))
C("reshape-negative", "reshape|view", lambda m: ones(m, 6).reshape(-2, 3))
C("reshape-float", "reshape|view", lambda m: ones(m, 6).reshape(2.0, 3))
C("view-empty-minus-one", "reshape|view", lambda m: ones(m, 0).view(-1, 0))
C("squeeze-out", "squeeze", lambda m: ones(m, 2, 1).squeeze(5), exc=(IndexError,))
C("unsqueeze-out", "unsqueeze", lambda m: ones(m, 2).unsqueeze(5), exc=(IndexError,))
C("permute-repeated", "permute", lambda m: ones(m, 2, 3).permute(0, 0))
C("permute-too-few", "permute", lambda m: ones(m, 2, 3).permute(0))
C("transpose-out", "transpose", lambda m: ones(m, 2, 3).transpose(0, 5), exc=(IndexError,))
C("t-3d", "t", lambda m: ones(m, 2, 3, 4).t())
C("cat-empty-list", "cat", lambda m: m.cat([]))
C("cat-ndim", "cat", lambda m: m.cat([ones(m, 2, 3), ones(m, 3)]))
C("cat-shapes", "cat", lambda m: m.cat([ones(m, 2, 3), ones(m, 2, 4)]))
C("cat-dtypes", "cat", lambda m: m.cat([ones(m, 2), T(m, [1, 2])]))
C("cat-dim-out", "cat", lambda m: m.cat([ones(m, 2), ones(m, 2)], 3), exc=(IndexError,))
C("cat-not-list", "cat", lambda m: m.cat(ones(m, 2)))
C("stack-shapes", "stack", lambda m: m.stack([ones(m, 2), ones(m, 3)]))
C("stack-empty", "stack", lambda m: m.stack([]))
C("expand-smaller", "expand", lambda m: ones(m, 2, 3).expand(2))
C("expand-wrong", "expand", lambda m: ones(m, 2, 3).expand(4, 3))
C("expand-negative-new", "expand", lambda m: ones(m, 3).expand(-1, 3))
C("flatten-out", "flatten", lambda m: ones(m, 2, 3).flatten(5), exc=(IndexError,))
C("flatten-reversed", "flatten", lambda m: ones(m, 2, 3, 4).flatten(2, 1))
C("split-zero", "split", lambda m: ones(m, 4).split(0))
C("chunk-zero", "chunk", lambda m: ones(m, 4).chunk(0))
C("flip-out", "flip", lambda m: ones(m, 2).flip(3), exc=(IndexError,))
C("repeat-too-few", "repeat", lambda m: ones(m, 2, 3).repeat(2))
C("repeat-negative", "repeat", lambda m: ones(m, 2).repeat(-1))
C("movedim-out", "movedim", lambda m: m.movedim(ones(m, 2, 3), 0, 4), exc=(IndexError,))
C("unbind-0d", "unbind", lambda m: T(m, 1.0).unbind(0))
C("broadcast_to-wrong", "expand|broadcast", lambda m: m.broadcast_to(ones(m, 2, 3), (4, 5)))
C("tile-empty", "tile|repeat", lambda m: m.tile(ones(m, 2), ()))

# ----------------------------------------------------------------------------- linalg

C("matmul-0d", "matmul", lambda m: m.matmul(T(m, 1.0), ones(m, 2)))
C("matmul-int-float", "matmul", lambda m: m.matmul(T(m, [[1, 2]]), ones(m, 2, 1)),
  accepts=_PROMOTES)
C("matmul-int-int", "matmul", lambda m: m.matmul(T(m, [[1, 2]]), T(m, [[3], [4]])))
C("matmul-empty-inner", "matmul", lambda m: m.matmul(ones(m, 2, 0), ones(m, 0, 3)))
C("mm-1d", "mm|matmul", lambda m: m.mm(ones(m, 3), ones(m, 3, 2)))
C("mv-2d-vec", "mv|matmul", lambda m: m.mv(ones(m, 2, 3), ones(m, 3, 1)))
C("bmm-batch-mismatch", "bmm|matmul", lambda m: m.bmm(ones(m, 2, 2, 3), ones(m, 3, 3, 2)))
C("dot-dtypes", "dot", lambda m: m.dot(ones(m, 3), ones(m, 3, dtype="float64")),
  accepts=_PROMOTES)
C("dot-2d", "dot", lambda m: m.dot(ones(m, 2, 2), ones(m, 2, 2)))
C("dot-empty", "dot", lambda m: m.dot(ones(m, 0), ones(m, 0)))
C("outer-0d", "outer", lambda m: m.outer(T(m, 1.0), ones(m, 2)))
C("addmm-shapes", "addmm|matmul", lambda m: m.addmm(ones(m, 2, 2), ones(m, 2, 3), ones(m, 2, 2)))

# ----------------------------------------------------------------------------- autograd


def _hook(m, hook, leaf_hook=True):
    x = leaf(m, 3)
    y = x * 2
    (x if leaf_hook else y).register_hook(hook)
    y.sum().backward()
    return x.grad


def _set_grad(m, value):
    x = leaf(m, 3)
    x.grad = value(m)
    return x.grad


def _backward_twice(m):
    x = leaf(m, 3)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _grad_unused(m):
    x, z = leaf(m, 3), leaf(m, 3)
    return m.autograd.grad((x * 2).sum(), [x, z])


def _grad_unused_allowed(m):
    x, z = leaf(m, 3), leaf(m, 3)
    g = m.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)
    return g[0]


def _inplace_saved(m):
    x = leaf(m, 3)
    y = x * 2
    z = y * y
    y.mul_(2)
    z.sum().backward()


C("backward-non-scalar", "backward|grad can be implicitly", lambda m: (leaf(m, 3) * 2).backward())
C("backward-no-grad", "backward|does not require grad", lambda m: ones(m, 3).sum().backward())
C("backward-twice", "second time", _backward_twice)
C("backward-gradient-shape", "backward|shape|Mismatch",
  lambda m: (leaf(m, 3) * 2).backward(ones(m, 4)))
C("backward-gradient-dtype", "backward", lambda m: (leaf(m, 3) * 2).backward(
    ones(m, 3, dtype="float64")))
C("grad-unused", "allow_unused|unused", _grad_unused)
C("grad-unused-allowed", "grad", _grad_unused_allowed)
C("grad-non-tensor-input", "grad", lambda m: m.autograd.grad((leaf(m, 3) * 2).sum(), [1.0]))
C("inplace-saved", "modified by an inplace|version", _inplace_saved)
C("inplace-leaf", "leaf", lambda m: leaf(m, 3).add_(1))
C("requires_grad-int", "requires_grad", lambda m: ones(m, 3, dtype="int64").requires_grad_())
C("requires_grad-off-nonleaf", "requires_grad", lambda m: (leaf(m, 3) * 2).requires_grad_(False))
C("register_hook-no-grad", "register_hook|hook", lambda m: ones(m, 3).register_hook(lambda g: g))
C("retain_grad-no-grad", "retain_grad", lambda m: ones(m, 3).retain_grad())
C("hook-returns-float", "hook", lambda m: _hook(m, lambda g: 1.0))
C("hook-returns-double", "hook", lambda m: _hook(m, lambda g: g.double()))
C("hook-returns-shape", "hook", lambda m: _hook(m, lambda g: g[:2]))
C("hook-returns-scalar-tensor", "hook", lambda m: _hook(m, lambda g: g.sum()))
C("hook-nonleaf-double", "hook", lambda m: _hook(m, lambda g: g.double(), False))
C("hook-nonleaf-shape", "hook", lambda m: _hook(m, lambda g: g[:1], False))
C("hook-returns-none", "hook", lambda m: _hook(m, lambda g: None))
C("hook-returns-list", "hook", lambda m: _hook(m, lambda g: [1.0, 2.0, 3.0]))
C("grad-assign-double", "grad", lambda m: _set_grad(m, lambda m: ones(m, 3, dtype="float64")))
C("grad-assign-int", "grad", lambda m: _set_grad(m, lambda m: ones(m, 3, dtype="int64")))
C("grad-assign-shape", "grad", lambda m: _set_grad(m, lambda m: ones(m, 4)))
C("grad-assign-float", "grad", lambda m: _set_grad(m, lambda m: 3.0))
C("grad-assign-list", "grad", lambda m: _set_grad(m, lambda m: [1.0, 1.0, 1.0]))
C("grad-assign-none", "grad", lambda m: _set_grad(m, lambda m: None))
C("grad-assign-ok", "grad", lambda m: _set_grad(m, lambda m: m.zeros(3)))
C("detach-then-backward", "backward|does not require grad",
  lambda m: (leaf(m, 3) * 2).detach().sum().backward())
C("no_grad-backward", "backward|does not require grad", lambda m: _no_grad_backward(m))


def _no_grad_backward(m):
    x = leaf(m, 3)
    with m.no_grad():
        y = (x * 2).sum()
    y.backward()


# ----------------------------------------------------------------------------- nn

C("Linear-zero-in", "Linear", lambda m: m.nn.Linear(0, 3).weight.shape and None)
C("Linear-negative", "Linear|negative", lambda m: m.nn.Linear(-1, 3))
C("Linear-float", "Linear|int", lambda m: m.nn.Linear(2.5, 3))
C("Linear-wrong-input", "linear|matmul", lambda m: m.nn.Linear(3, 2)(ones(m, 4, 5)))
C("Linear-int-input", "linear|matmul", lambda m: m.nn.Linear(3, 2)(T(m, [[1, 2, 3]])),
  accepts=_PROMOTES)
C("Linear-zero-in-forward", "linear", lambda m: m.nn.Linear(0, 2)(ones(m, 4, 0)).shape and None)
C("dropout-p-negative", "dropout", lambda m: F(m).dropout(ones(m, 3), -0.1))
C("dropout-p-big", "dropout", lambda m: F(m).dropout(ones(m, 3), 1.5))
C("dropout-int-train", "dropout", lambda m: F(m).dropout(ones(m, 3, dtype="int64"), 0.5))
C("dropout-int-eval", "dropout", lambda m: F(m).dropout(ones(m, 3, dtype="int64"), 0.5, False))
C("dropout-p1", "dropout", lambda m: F(m).dropout(ones(m, 3), 1.0))
C("relu-int", "relu", lambda m: F(m).relu(T(m, [-1, 2])))
C("relu-bool", "relu", lambda m: F(m).relu(T(m, [True])))
C("sigmoid-int", "sigmoid", lambda m: F(m).sigmoid(T(m, [0, 1])))
C("softplus-int", "softplus", lambda m: F(m).softplus(T(m, [0, 1])),
  accepts=_INT_FLOAT)
C("mse-int", "mse_loss|mean", lambda m: F(m).mse_loss(T(m, [1, 2]), T(m, [1, 3])))
C("mse-reduction-bad", "mse_loss", lambda m: F(m).mse_loss(ones(m, 2), ones(m, 2), reduction="x"))
C("l1-reduction-bad", "l1_loss", lambda m: F(m).l1_loss(ones(m, 2), ones(m, 2), reduction="x"))
C("bce-logits-shapes", "binary_cross_entropy_with_logits",
  lambda m: F(m).binary_cross_entropy_with_logits(ones(m, 2, 3), ones(m, 4, 5)))
C("cross_entropy-float-target-shape", "cross_entropy",
  lambda m: F(m).cross_entropy(ones(m, 2, 3), ones(m, 2, 4)))
C("cross_entropy-batch", "cross_entropy",
  lambda m: F(m).cross_entropy(ones(m, 2, 3), T(m, [0, 1, 2])))
C("nll-float-target", "nll_loss", lambda m: F(m).nll_loss(ones(m, 2, 3), T(m, [0.0, 1.0])),
  exc=(TypeError, RuntimeError))
C("Sequential-non-module", "Sequential|Module", lambda m: m.nn.Sequential(1)(ones(m, 2)))
C("module-bad-state-dict", "state_dict", lambda m: m.nn.Linear(2, 2).load_state_dict(
    {"weight": ones(m, 3, 3), "bias": ones(m, 2)}))
C("module-missing-key", "state_dict", lambda m: m.nn.Linear(2, 2).load_state_dict(
    {"weight": ones(m, 2, 2)}))
C("module-unexpected-key", "state_dict", lambda m: m.nn.Linear(2, 2).load_state_dict(
    {"weight": ones(m, 2, 2), "bias": ones(m, 2), "extra": ones(m, 1)}))
C("parameter-int", "Parameter|requires_grad|floating",
  lambda m: m.nn.Parameter(T(m, [1, 2])))

# ----------------------------------------------------------------------------- optimizers


def _sgd_step_no_grad(m):
    p = leaf(m, 2)
    opt = m.optim.SGD([p], lr=0.1)
    opt.step()
    return p.detach()


C("optim-empty-params", "empty parameter list|SGD", lambda m: m.optim.SGD([], lr=0.1))
C("optim-tensor-params", "iterable|SGD", lambda m: m.optim.SGD(leaf(m, 2), lr=0.1))
C("optim-nonleaf", "non-leaf|leaf", lambda m: m.optim.SGD([leaf(m, 2) * 2], lr=0.1))
C("optim-dup-params", "duplicate|appear|more than one", lambda m: _dup(m),
  differs="gpugrad refuses duplicate parameters (PyTorch warns)")
C("optim-step-without-grad", "SGD", _sgd_step_no_grad)
C("optim-bad-group", "param|group", lambda m: m.optim.SGD([{"lr": 0.1}], lr=0.1))
C("optim-state-dict-bad", "load_state_dict|state", lambda m: m.optim.SGD(
    [leaf(m, 2)], lr=0.1).load_state_dict({"state": {}, "param_groups": []}))


def _dup(m):
    p = leaf(m, 2)
    return m.optim.SGD([p, p], lr=0.1) and None


# ----------------------------------------------------------------------------- data


def _ds(m, *sizes):
    return m.utils.data.TensorDataset(*(m.ones(n, 2) for n in sizes))


C("loader-batch-zero", "batch_size", lambda m: m.utils.data.DataLoader(_ds(m, 4), batch_size=0))
C("loader-batch-negative", "batch_size", lambda m: m.utils.data.DataLoader(
    _ds(m, 4), batch_size=-1))
C("loader-batch-float", "batch_size", lambda m: m.utils.data.DataLoader(
    _ds(m, 4), batch_size=1.5))
C("tensordataset-sizes", "TensorDataset|[Ss]ize mismatch", lambda m: _ds(m, 4, 5),
  exc=(ValueError,))
C("dataset-index-out", "index|range", lambda m: _ds(m, 4)[7])
C("random_split-bad-sum", "random_split|sum", lambda m: m.utils.data.random_split(
    _ds(m, 4), [1, 2]))
C("random_split-negative", "random_split|negative", lambda m: m.utils.data.random_split(
    _ds(m, 4), [-1, 5]))
C("loader-sampler-and-shuffle", "sampler|shuffle", lambda m: m.utils.data.DataLoader(
    _ds(m, 4), shuffle=True, sampler=[0, 1, 2, 3]))
C("loader-len-drop-last", "DataLoader", lambda m: len(m.utils.data.DataLoader(
    _ds(m, 5), batch_size=2, drop_last=True)))
C("loader-empty-dataset", "DataLoader", lambda m: list(m.utils.data.DataLoader(_ds(m, 0))))

# ----------------------------------------------------------------------------- files


def _load_bytes(m, data):
    fd, path = tempfile.mkstemp(suffix=".bin")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return m.load(path)
    finally:
        os.unlink(path)


C("load-missing-file", "No such file|load", lambda m: m.load("/nonexistent/dir/x.gpugrad"),
  exc=(FileNotFoundError,))
C("load-empty-file", "load", lambda m: _load_bytes(m, b""))
C("load-garbage", "load", lambda m: _load_bytes(m, b"not a checkpoint at all" * 10))
C("load-zip-header", "load", lambda m: _load_bytes(m, b"PK\x03\x04" + bytes(60)))
C("load-directory", "load|Is a directory", lambda m: m.load(tempfile.gettempdir()),
  exc=(IsADirectoryError,))
C("save-to-directory", "save|Is a directory|directory", lambda m: m.save(
    {"a": ones(m, 1)}, tempfile.gettempdir()), exc=(IsADirectoryError,))
C("save-to-missing-dir", "save|No such file|directory", lambda m: m.save(
    {"a": ones(m, 1)}, "/nonexistent/dir/x.gpugrad"), exc=(FileNotFoundError,))
C("save-load-stream-roundtrip", "save", lambda m: _roundtrip(m))


def _roundtrip(m):
    buf = io.BytesIO()
    m.save({"w": m.arange(3.0)}, buf)
    buf.seek(0)
    return m.load(buf)["w"]


# ----------------------------------------------------------------------------- devices and dtypes

C("to-bad-device", "device", lambda m: ones(m, 2).to("tpu"), exc=(ValueError,))
C("to-bad-dtype-str", "dtype|device", lambda m: ones(m, 2).to("float99"))
C("to-cuda-missing", "CUDA|CuPy|GPU|cuda", lambda m: ones(m, 2).to("cuda:7"))
C("ones-cuda-missing", "CUDA|CuPy|GPU|cuda", lambda m: m.ones(2, device="cuda:7"))
C("device-negative-index", "device", lambda m: m.device("cuda:-1"))
C("device-unknown", "device", lambda m: m.device("gpu"))
C("set_default_dtype-int", "set_default_dtype", lambda m: m.set_default_dtype(m.int64))
C("type-conv-nan-to-int", "to", lambda m: T(m, [float("nan"), 1.5]).to(m.int64).shape and None)
C("item-multi", "item|one element|a Tensor with", lambda m: ones(m, 2).item())
C("item-empty", "item|one element|a Tensor with", lambda m: ones(m, 0).item())
C("bool-multi", "ambiguous|bool", lambda m: bool(ones(m, 2)))
C("int-multi", "only one element|int|convert", lambda m: int(ones(m, 2)))
C("float-empty", "only one element|float|convert", lambda m: float(ones(m, 0)))
C("len-0d", "len|0-d", lambda m: len(T(m, 1.0)))
C("iter-0d", "iter|0-d", lambda m: list(T(m, 1.0)))
C("numpy-requires-grad", "numpy|requires grad", lambda m: leaf(m, 2).numpy())
C("tolist-0d", "tolist", lambda m: T(m, 2.5).tolist())
C("numel-empty", "numel", lambda m: m.numel(ones(m, 0, 3)))
C("fill_-expanded", "fill_", lambda m: ones(m, 3).expand(2, 3).fill_(1),
  differs="gpugrad refuses writes into expanded (read-only) memory; PyTorch writes through")
C("fill_-nan-int", "fill_", lambda m: ones(m, 2, dtype="int32").fill_(float("nan")),
  exc=(OverflowError,))
C("fill_-str", "fill_", lambda m: ones(m, 2).fill_("a"))
C("zero_-int", "zero_", lambda m: T(m, [3]).zero_())
C("clone-int-requires-grad", "requires_grad", lambda m: T(m, [1]).clone().requires_grad_())
