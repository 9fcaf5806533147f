"""Bad input across the public API: ONE table of (call, exception type, message patterns) and one
parametrised test. A message must name the op and the offending shapes, dtypes or devices, so a
user can find the mistake without a debugger. A row whose message is still too weak may be
marked with `xfail=` (a strict xfail with the reason) until the library is fixed."""

from __future__ import annotations

import os
import re
import tempfile
import warnings

import numpy as np
import pytest
from bad_inputs_15 import raising_cases

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.autograd import forward_ad as fwAD


def S(*shape):
    """A regex for a shape as messages print it, e.g. S(2, 3) matches '(2, 3)'."""
    return re.escape(str(tuple(shape)))


def A(d, *shape):
    return gg.ones(*shape, device=d)


def leaf(d, *shape):
    return gg.ones(*shape, device=d, requires_grad=True)


# ----------------------------------------------------------------------------- helpers for rows


def _second_backward(d):
    x = leaf(d, 3)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _second_grad(d):
    x = leaf(d, 3)
    y = (x * x).sum()
    gg.autograd.grad(y, [x])
    gg.autograd.grad(y, [x])


def _inplace_saved_input(d):
    x = leaf(d, 3)
    y = x * 2
    z = y * y
    y.mul_(2)
    z.sum().backward()


def _inplace_saved_output(d):
    x = leaf(d, 3)
    y = (x * 1).exp()
    y.add_(1)
    y.sum().backward()


def _inplace_saved_sin(d):
    x = leaf(d, 3)
    y = x * 1
    z = y.sin()
    y.div_(2)
    z.sum().backward()


def _unused_input(d):
    x, z = leaf(d, 3), leaf(d, 3)
    gg.autograd.grad((x * 2).sum(), [x, z])


def _make_dual(d, primal, tangent):
    with fwAD.dual_level():
        fwAD.make_dual(primal, tangent)


def _load_bytes(data: bytes):
    fd, path = tempfile.mkstemp(suffix=".pt")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        gg.load(path)
    finally:
        os.unlink(path)


def _save(obj):
    with tempfile.TemporaryDirectory() as tmp:
        gg.save(obj, os.path.join(tmp, "x.gg"))


def _set_requires_grad(t):
    t.requires_grad = True


def _setitem(t, index, value):
    t[index] = value


BROADCAST = [S(2, 3), S(4, 5), "broadcast"]
MM = [S(2, 3), S(4, 5), "cannot be multiplied"]


def case(id, fn, exc, *patterns, xfail=None):
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(fn, exc, patterns, id=id, marks=marks)


# fmt: off
CASES = [
    # -- broadcasting: the op and both shapes
    case("add", lambda d: gg.add(A(d, 2, 3), A(d, 4, 5)), RuntimeError, "add", *BROADCAST),
    case("add-operator", lambda d: A(d, 2, 3) + A(d, 4, 5), RuntimeError, "add", *BROADCAST),
    case("sub", lambda d: A(d, 2, 3) - A(d, 4, 5), RuntimeError, "sub", *BROADCAST),
    case("mul", lambda d: gg.mul(A(d, 2, 3), A(d, 4, 5)), RuntimeError, "mul", *BROADCAST),
    case("div", lambda d: A(d, 2, 3) / A(d, 4, 5), RuntimeError, "div", *BROADCAST),
    case("pow", lambda d: A(d, 2, 3) ** A(d, 4, 5), RuntimeError, "pow", *BROADCAST),
    case("maximum", lambda d: gg.maximum(A(d, 2, 3), A(d, 4, 5)), RuntimeError, "maximum",
         *BROADCAST),
    case("minimum", lambda d: gg.minimum(A(d, 2, 3), A(d, 4, 5)), RuntimeError, "minimum",
         *BROADCAST),
    case("where", lambda d: gg.where(A(d, 2, 3) > 0, A(d, 2, 3), A(d, 4, 5)), RuntimeError,
         "where", *BROADCAST),
    case("index_put", lambda d: gg.index_put(A(d, 2, 3), (gg.tensor([0], device=d),), A(d, 5)),
         RuntimeError, "index_put", S(2, 3), S(5)),
    case("broadcast_to", lambda d: A(d, 2, 3).broadcast_to((4, 5)), RuntimeError, "expand",
         S(2, 3), re.escape("[4, 5]")),
    case("expand", lambda d: A(d, 2, 3).expand(4, 3), RuntimeError, "expand", S(2, 3),
         re.escape("[4, 3]")),
    case("broadcast_tensors", lambda d: gg.broadcast_tensors(A(d, 2, 3), A(d, 4, 5)),
         (RuntimeError, ValueError), "broadcast_tensors", S(2, 3), S(4, 5)),
    case("lerp", lambda d: gg.lerp(A(d, 2, 3), A(d, 4, 5), 0.5), RuntimeError, "lerp", S(2, 3),
         S(4, 5)),
    case("mse_loss-shapes", lambda d: F.mse_loss(A(d, 2, 3), A(d, 4, 5)), RuntimeError,
         "mse_loss", S(2, 3), S(4, 5)),
    case("bce_with_logits-shapes",
         lambda d: F.binary_cross_entropy_with_logits(A(d, 2, 3), A(d, 4, 5)), ValueError,
         "binary_cross_entropy_with_logits", S(2, 3), S(4, 5)),
    # -- matmul family: both shapes
    case("matmul", lambda d: gg.matmul(A(d, 2, 3), A(d, 4, 5)), RuntimeError, "matmul", *MM),
    case("matmul-operator", lambda d: A(d, 2, 3) @ A(d, 4, 5), RuntimeError, "matmul", *MM),
    case("matmul-1d", lambda d: A(d, 3) @ A(d, 4), RuntimeError, "matmul", S(3), S(4)),
    case("matmul-batched", lambda d: A(d, 2, 2, 3) @ A(d, 3, 2, 4), RuntimeError, "matmul",
         S(2, 2, 3), S(3, 2, 4)),
    case("matmul-0d", lambda d: gg.matmul(gg.tensor(1.0, device=d), A(d, 2, 3)), RuntimeError,
         "matmul", re.escape("()"), S(2, 3)),
    case("mm", lambda d: gg.mm(A(d, 2, 3), A(d, 4, 5)), RuntimeError, "matmul", *MM),
    case("mv", lambda d: gg.mv(A(d, 2, 3), A(d, 4)), RuntimeError, "matmul", S(2, 3), S(4)),
    case("bmm-2d", lambda d: gg.bmm(A(d, 2, 3), A(d, 2, 3)), RuntimeError, "bmm", "3-D", S(2, 3)),
    case("dot", lambda d: gg.dot(A(d, 3), A(d, 4)), RuntimeError, "dot", "3", "4"),
    case("outer-2d", lambda d: gg.outer(A(d, 2, 3), A(d, 2, 3)), RuntimeError, "outer", "1-D",
         S(2, 3)),
    case("addmm", lambda d: gg.addmm(A(d, 2, 2), A(d, 2, 3), A(d, 4, 2)), RuntimeError, "matmul",
         S(2, 3), S(4, 2)),
    case("F.linear", lambda d: F.linear(A(d, 2, 3), A(d, 5, 4)), RuntimeError, "linear", S(2, 3),
         S(5, 4)),
    case("F.linear-0d-weight", lambda d: F.linear(A(d, 2, 3), A(d)), RuntimeError, "linear",
         S(2, 3), "weight of shape " + S()),
    # -- requires_grad on a non-float dtype: names the dtype
    case("tensor-int-requires-grad", lambda d: gg.tensor([1, 2], device=d, requires_grad=True),
         RuntimeError, "requires_grad", "floating", "int64"),
    case("tensor-bool-requires-grad",
         lambda d: gg.tensor([True], device=d, requires_grad=True), RuntimeError,
         "requires_grad", "bool"),
    case("zeros-int-requires-grad",
         lambda d: gg.zeros(2, dtype=gg.int64, device=d, requires_grad=True), RuntimeError,
         "requires_grad", "int64"),
    case("arange-requires-grad", lambda d: gg.arange(3, device=d, requires_grad=True),
         RuntimeError, "requires_grad", "int64"),
    case("requires_grad_-int32", lambda d: gg.zeros(2, dtype=gg.int32, device=d).requires_grad_(),
         RuntimeError, "requires_grad_", "int32"),
    case("requires_grad-attr-uint8",
         lambda d: _set_requires_grad(gg.zeros(2, dtype=gg.uint8, device=d)), RuntimeError,
         "requires_grad", "uint8"),
    # -- backward and autograd.grad
    case("backward-non-scalar", lambda d: (leaf(d, 3) * 2).backward(), RuntimeError, "backward",
         "scalar", S(3)),
    case("backward-gradient-shape", lambda d: (leaf(d, 3) * 2).backward(A(d, 4)), RuntimeError,
         "backward", S(4), S(3)),
    case("grad-grad_outputs-shape",
         lambda d: gg.autograd.grad((leaf(d, 3) * 2).sum(), [leaf(d, 3)], grad_outputs=[A(d, 3)]),
         RuntimeError, "grad", S(3), re.escape("()")),
    case("backward-no-grad_fn", lambda d: A(d).sum().backward(), RuntimeError, "backward",
         "does not require grad"),
    case("backward-twice", _second_backward, RuntimeError, "MulBackward0", "second time",
         "retain_graph"),
    case("grad-twice", _second_grad, RuntimeError, "second time", "retain_graph"),
    case("grad-unused-input", _unused_input, RuntimeError, "grad", "input 1", "allow_unused"),
    case("grad-input-without-requires-grad",
         lambda d: gg.autograd.grad((A(d, 3) * 2).sum(), [A(d, 3)]), RuntimeError, "grad",
         "does not require grad"),
    # -- in-place ops
    case("inplace-leaf-add_", lambda d: leaf(d, 3).add_(1), RuntimeError, "add_", "leaf",
         "requires grad", "no_grad"),
    case("inplace-leaf-zero_", lambda d: leaf(d, 3).zero_(), RuntimeError, "fill_", "leaf"),
    case("inplace-leaf-setitem", lambda d: _setitem(leaf(d, 3), 0, 1.0), RuntimeError, "setitem",
         "leaf"),
    case("inplace-saved-input", _inplace_saved_input, RuntimeError, "MulBackward0", "in-place",
         "version 1", "version 0", S(3)),
    case("inplace-saved-output", _inplace_saved_output, RuntimeError, "ExpBackward0", "output",
         "version 1", "version 0"),
    case("inplace-saved-sin", _inplace_saved_sin, RuntimeError, "SinBackward0", "version 1",
         "version 0"),
    # -- bad dim: IndexError with the valid range
    case("dim-sum", lambda d: A(d, 2, 3).sum(dim=5), IndexError, "sum", re.escape("[-2, 1]"), "5"),
    case("dim-mean", lambda d: A(d, 2, 3).mean(dim=(0, 4)), IndexError, "mean",
         re.escape("[-2, 1]"), "4"),
    case("dim-softmax", lambda d: F.softmax(A(d, 2, 3), dim=3), IndexError, "softmax",
         re.escape("[-2, 1]")),
    case("dim-log_softmax", lambda d: F.log_softmax(A(d, 2, 3), dim=2), IndexError, "log_softmax",
         re.escape("[-2, 1]")),
    case("dim-logsumexp", lambda d: gg.logsumexp(A(d, 2, 3), dim=2), IndexError, "logsumexp",
         re.escape("[-2, 1]")),
    case("dim-cat", lambda d: gg.cat([A(d, 2, 3), A(d, 2, 3)], dim=3), IndexError, "cat",
         re.escape("[-2, 1]")),
    case("dim-transpose", lambda d: A(d, 2, 3).transpose(0, 4), IndexError, "transpose",
         re.escape("[-2, 1]"), "4"),
    case("dim-argmax", lambda d: A(d, 2, 3).argmax(dim=-4), IndexError, "argmax",
         re.escape("[-2, 1]"), "-4"),
    case("dim-amax", lambda d: A(d, 2, 3).amax(dim=2), IndexError, "amax", re.escape("[-2, 1]")),
    case("dim-max", lambda d: A(d, 2, 3).max(dim=2), IndexError, r"(?<!arg)max",
         re.escape("[-2, 1]")),
    case("dim-norm", lambda d: A(d, 2, 3).norm(dim=3), IndexError, "norm", re.escape("[-2, 1]")),
    case("dim-var", lambda d: A(d, 2, 3).var(dim=5), IndexError, "var", re.escape("[-2, 1]")),
    case("dim-unsqueeze", lambda d: A(d, 2, 3).unsqueeze(5), IndexError, "unsqueeze",
         re.escape("[-3, 2]")),
    case("dim-squeeze", lambda d: A(d, 2, 3).squeeze(4), IndexError, "squeeze",
         re.escape("[-2, 1]")),
    case("dim-flip", lambda d: A(d, 2, 3).flip(5), IndexError, "flip", re.escape("[-2, 1]")),
    case("dim-unbind", lambda d: A(d, 2, 3).unbind(3), IndexError, "unbind", re.escape("[-2, 1]")),
    case("dim-movedim", lambda d: gg.movedim(A(d, 2, 3), 0, 3), IndexError, "movedim",
         re.escape("[-2, 1]")),
    # -- indices: out of range, wrong dtype
    case("index-out-of-range", lambda d: A(d, 2, 3)[5], IndexError, "index 5", "axis 0",
         "size 2"),
    case("index-out-of-range-axis1", lambda d: A(d, 2, 3)[0, 7], IndexError, "index 7", "axis 1",
         "size 3"),
    case("index-too-many", lambda d: A(d, 2, 3)[0, 0, 0], IndexError, "too many indices",
         S(2, 3)),
    case("index-bool-mask-shape", lambda d: A(d, 2, 3)[gg.tensor([True, False, True], device=d)],
         IndexError, "boolean index", "2", "3"),
    case("index-float-tensor", lambda d: A(d, 2, 3)[gg.tensor([0.5], device=d)], IndexError,
         "getitem", "long, int or bool", "float32"),
    case("index-python-float", lambda d: A(d, 2, 3)[1.0], IndexError, "getitem", "float"),
    case("setitem-float-index",
         lambda d: _setitem(A(d, 2, 3), gg.tensor([0.5], device=d), 1.0), IndexError, "setitem",
         "float32"),
    case("gather-float-index", lambda d: gg.gather(A(d, 2, 3), 1, gg.tensor([[0.0]], device=d)),
         TypeError, "gather", "integer", "float32"),
    case("gather-bool-index", lambda d: gg.gather(A(d, 2, 3), 1, gg.tensor([[True]], device=d)),
         TypeError, "gather", "bool"),
    case("gather-out-of-range", lambda d: gg.gather(A(d, 2, 3), 1, gg.tensor([[9]], device=d)),
         IndexError, "gather", "index 9", "size 3"),
    case("gather-ndim", lambda d: gg.gather(A(d, 2, 3), 1, gg.tensor([0, 1], device=d)),
         RuntimeError, "gather", "1 dims", "2"),
    case("take_along_dim-float",
         lambda d: gg.take_along_dim(A(d, 2, 3), gg.tensor([[0.0]], device=d), 1), TypeError,
         "float32"),
    case("scatter_add-float",
         lambda d: gg.scatter_add(A(d, 2, 3), 1, gg.tensor([[0.0]], device=d), A(d, 1, 1)),
         TypeError, "scatter_add", "float32"),
    case("select-out-of-range", lambda d: A(d, 2, 3).select(0, 5), IndexError, "select", "5"),
    case("narrow-out-of-range", lambda d: A(d, 2, 3).narrow(1, 2, 5), RuntimeError, "narrow",
         "5", "3"),
    # -- losses: targets
    case("cross_entropy-target-out-of-range",
         lambda d: F.cross_entropy(A(d, 2, 3), gg.tensor([0, 7], device=d)), IndexError,
         "cross_entropy", "7"),
    case("nll_loss-float-target", lambda d: F.nll_loss(A(d, 2, 3), gg.tensor([0.0, 1.0], device=d)),
         (TypeError, RuntimeError), "nll_loss", "float32"),
    case("cross_entropy-batch-mismatch",
         lambda d: F.cross_entropy(A(d, 2, 3), gg.tensor([0, 1, 2], device=d)), ValueError,
         "cross_entropy", S(2, 3), S(3)),
    # -- optimizers
    case("SGD-non-leaf", lambda d: gg.optim.SGD([leaf(d, 3) * 2], lr=0.1), ValueError, "non-leaf",
         "MulBackward0", S(3)),
    case("Adam-non-leaf", lambda d: gg.optim.Adam([leaf(d, 3) * 2]), ValueError, "non-leaf"),
    case("SGD-float-param", lambda d: gg.optim.SGD([1.0], lr=0.1), TypeError, "Tensors", "float"),
    case("SGD-bare-tensor", lambda d: gg.optim.SGD(leaf(d, 2), lr=0.1), TypeError, "iterable"),
    case("SGD-empty", lambda d: gg.optim.SGD([], lr=0.1), ValueError, "empty"),
    case("SGD-negative-lr", lambda d: gg.optim.SGD([leaf(d, 2)], lr=-1), ValueError,
         "learning rate", "-1"),
    case("Adam-beta", lambda d: gg.optim.Adam([leaf(d, 2)], betas=(1.5, 0.9)), ValueError, "beta",
         "1.5"),
    # -- unknown method / reduction names
    case("derivative-method",
         lambda d: gg.numerical.derivative(lambda v: v, 1.0, method="sideways"), ValueError,
         "derivative", "sideways", "central"),
    case("gradient-method",
         lambda d: gg.numerical.gradient(lambda v: v.sum(), A(d, 2), method="sideways"), ValueError,
         "gradient", "sideways"),
    case("jacobian-method",
         lambda d: gg.numerical.jacobian(lambda v: v, A(d, 2), method="sideways"), ValueError,
         "jacobian", "sideways"),
    case("mse_loss-reduction", lambda d: F.mse_loss(A(d, 2), A(d, 2), reduction="bogus"),
         ValueError, "mse_loss", "bogus", "mean"),
    case("l1_loss-reduction", lambda d: F.l1_loss(A(d, 2), A(d, 2), reduction="bogus"), ValueError,
         "l1_loss", "bogus"),
    case("cross_entropy-reduction",
         lambda d: F.cross_entropy(A(d, 2, 3), gg.tensor([0, 1], device=d), reduction="bogus"),
         ValueError, "cross_entropy", "bogus"),
    case("nll_loss-reduction",
         lambda d: F.nll_loss(A(d, 2, 3), gg.tensor([0, 1], device=d), reduction="bogus"),
         ValueError, "nll_loss", "bogus"),
    case("bce_with_logits-reduction",
         lambda d: F.binary_cross_entropy_with_logits(A(d, 2), A(d, 2), reduction="bogus"),
         ValueError, "binary_cross_entropy_with_logits", "bogus"),
    case("dropout-p", lambda d: F.dropout(A(d, 2), p=2.0), ValueError, "dropout", "2.0"),
    # -- shape ops
    case("reshape", lambda d: A(d, 2, 3).reshape(4, 2), RuntimeError, "reshape",
         re.escape("[4, 2]"), "size 6"),
    case("reshape-inferred", lambda d: A(d, 2, 3).reshape(-1, 4), RuntimeError, "reshape",
         re.escape("[-1, 4]"), "6"),
    case("view", lambda d: A(d, 2, 3).view(7), RuntimeError, r"\bview\b", re.escape("[7]"), "6"),
    case("permute", lambda d: A(d, 2, 3).permute(0, 0), RuntimeError, "permute",
         re.escape("[0, 0]"), S(2, 3)),
    case("repeat", lambda d: A(d, 2, 3).repeat(2), RuntimeError, "repeat", "1", "2"),
    case("split-sizes", lambda d: A(d, 2, 3).split([1, 1], dim=1), RuntimeError, "split",
         re.escape("[1, 1]"), "3"),
    case("chunk-zero", lambda d: A(d, 2, 3).chunk(0), RuntimeError, "chunk", "0"),
    case("cat-shapes", lambda d: gg.cat([A(d, 2, 3), A(d, 4, 5)]), RuntimeError, "cat", S(2, 3),
         S(4, 5)),
    case("stack-shapes", lambda d: gg.stack([A(d, 2, 3), A(d, 4, 5)]), RuntimeError, "stack",
         S(2, 3), S(4, 5)),
    # -- forward mode and func
    case("make_dual-shapes", lambda d: _make_dual(d, A(d, 3), A(d, 4)), RuntimeError, "make_dual",
         S(4), S(3)),
    case("make_dual-outside-level", lambda d: fwAD.make_dual(A(d, 3), A(d, 3)), RuntimeError,
         "make_dual", "dual_level"),
    case("func.jvp-tangent-shape",
         lambda d: gg.func.jvp(lambda v: v * 2, (A(d, 3),), (A(d, 4),)), RuntimeError, S(4), S(3)),
    case("func.vjp-cotangent-shape", lambda d: gg.func.vjp(lambda v: v * 2, A(d, 3))[1](A(d, 4)),
         RuntimeError, "vjp", S(4), S(3)),
    case("func.grad-non-scalar", lambda d: gg.func.grad(lambda v: v * 2)(A(d, 3)), RuntimeError,
         "grad", "single element", S(3)),
    # -- save / load
    case("load-foreign-file", lambda d: _load_bytes(b"PK\x03\x04 not a gpugrad file"), ValueError,
         "load", "not a gpugrad file"),
    case("load-empty-file", lambda d: _load_bytes(b""), ValueError, "load", "gpugrad"),
    case("save-unsupported-object", lambda d: _save(object()), TypeError, "save", "object"),
    case("save-nested-function", lambda d: _save({"f": len}), TypeError, "save",
         re.escape("['f']")),
    # -- dtypes, devices and factories
    case("bitwise-float", lambda d: gg.bitwise_and(A(d, 2), A(d, 2)), TypeError, "bitwise_and",
         "float32"),
    case("where-float-condition", lambda d: gg.where(A(d, 2), A(d, 2), A(d, 2)), TypeError, "where",
         "bool", "float32"),
    case("mean-int", lambda d: gg.tensor([1, 2], device=d).mean(), RuntimeError, "mean", "int64"),
    case("std-int", lambda d: gg.tensor([1, 2], device=d).std(), RuntimeError, "int64"),
    case("randn-int-dtype", lambda d: gg.randn(2, dtype=gg.int64, device=d), TypeError, "randn",
         "int64"),
    case("set_default_dtype-int", lambda d: gg.set_default_dtype(gg.int64), TypeError,
         "set_default_dtype", "int64"),
    case("unsupported-dtype", lambda d: gg.tensor([1.0], dtype="float99", device=d), TypeError,
         "float99"),
    case("unknown-device", lambda d: gg.zeros(2, device="tpu"), ValueError, "device", "tpu"),
    case("bad-cuda-index", lambda d: gg.zeros(2, device="cuda:x"), ValueError, "cuda:x"),
    case("zeros-negative", lambda d: gg.zeros(-1, device=d), RuntimeError, "zeros", "-1"),
    case("arange-zero-step", lambda d: gg.arange(0, 1, 0, device=d), RuntimeError, "arange",
         "step"),
    case("randint-bounds", lambda d: gg.randint(5, 2, (3,), device=d), RuntimeError, "randint",
         "5", "2"),
    case("linspace-negative-steps", lambda d: gg.linspace(0, 1, -1, device=d), RuntimeError,
         "linspace", "-1"),
    case("eye-negative", lambda d: gg.eye(-2, device=d), (ValueError, RuntimeError), r"\beye\b",
         "-2"),
    case("randperm-negative", lambda d: gg.randperm(-1, device=d), (ValueError, RuntimeError),
         "randperm", "-1"),
    case("tensor-ragged", lambda d: gg.tensor([[1.0, 2.0], [3.0]], device=d),
         (ValueError, TypeError), r"\btensor\b", "length|ragged|inhomogeneous"),
    case("item-many-elements", lambda d: A(d, 2, 3).item(), RuntimeError, "item", "6 elements"),
    case("bool-ambiguous", lambda d: bool(A(d, 2, 3)), RuntimeError, "ambiguous", "6 elements"),
    case("numpy-requires-grad", lambda d: leaf(d, 3).numpy(), RuntimeError, "numpy", "detach"),
    case("register_hook-no-grad", lambda d: A(d, 3).register_hook(lambda g: g), RuntimeError,
         "register_hook", "require"),
    case("pow-int-negative", lambda d: gg.tensor([2], device=d) ** -1, RuntimeError, "pow",
         "negative"),
    case("clamp-no-bounds", lambda d: A(d, 2).clamp(), ValueError, "clamp", "min", "max"),
    case("load_state_dict-shape",
         lambda d: gg.nn.Linear(3, 4).load_state_dict({"weight": A(d, 2, 2), "bias": A(d, 4)}),
         RuntimeError, "weight", S(2, 2), S(4, 3)),
    case("load_state_dict-missing",
         lambda d: gg.nn.Linear(3, 4).load_state_dict({"weight": A(d, 4, 3)}), RuntimeError,
         "Missing", "bias"),
]
# fmt: on


# -- issue 15's probe (tests/bad_inputs_15.py): every input PyTorch refuses, and those gpugrad
# refuses by a recorded difference; each message must name the op.
CASES += [case(f"probe-{c.id}", lambda d, c=c: _quiet(c.fn, gg), kinds, c.op)
          for c, kinds in raising_cases()]


def _quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def test_the_catalogue_is_large_and_ids_are_unique():
    ids = [p.id for p in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 60 + 200  # 141 before issue 15, and its probe's


@pytest.mark.parametrize("fn, exc, patterns", CASES)
def test_bad_input_raises_a_clear_error(fn, exc, patterns, device):
    with pytest.raises(exc) as info:
        fn(device)
    message = str(info.value)
    missing = [p for p in patterns if not re.search(p, message)]
    assert not missing, f"message {message!r} lacks {missing}"


# ----------------------------------------------------------------------------- not errors


def test_nan_and_inf_are_values_not_errors(device):
    x = gg.tensor(
        [float("nan"), float("inf"), -float("inf"), 1.0],
        device=device,
        dtype=gg.float64,
        requires_grad=True,
    )
    outs = [
        x * 2,
        x + 1,
        x.exp(),
        x.sigmoid(),
        x.tanh(),
        F.relu(x),
        x.abs(),
        x / 3,
        -x,
        gg.maximum(x, gg.zeros_like(x)),
        x.clamp(-1.0, 1.0),
        F.softplus(x),
    ]
    loss = sum(o.sum() for o in outs)
    loss.backward()
    got = (x * 2).detach().cpu().numpy()
    assert np.isnan(got[0]) and got[1] == np.inf and got[2] == -np.inf and got[3] == 2.0
    assert np.isnan(loss.item())
    assert x.grad is not None and x.grad.shape == (4,)
    flags = gg.isnan(x), gg.isinf(x), gg.isfinite(x)
    assert [f.cpu().numpy().tolist() for f in flags] == [
        [True, False, False, False],
        [False, True, True, False],
        [False, False, False, True],
    ]


@pytest.mark.skipif(gg.cuda.is_available(), reason="checks the message shown without a GPU")
@pytest.mark.parametrize(
    "fn",
    [
        lambda: gg.zeros(2, device="cuda"),
        lambda: gg.ones(2).to("cuda"),
        lambda: gg.ones(2).cuda(),
        lambda: gg.tensor([1.0], device="cuda:0"),
    ],
    ids=["zeros", "to", "cuda", "tensor"],
)
def test_cuda_without_cupy_or_gpu_says_how_to_fix(fn):
    with pytest.raises(RuntimeError) as info:
        fn()
    message = str(info.value)
    assert re.search(r"CuPy|GPU", message), message
    assert re.search(r"pip install|device='cpu'", message), message
