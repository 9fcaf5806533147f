"""Small names with large reach: isclose/allclose/equal, the legacy tensor types and
Tensor.type, the default device, gradcheck's PyTorch keywords, grad modes as decorators."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.autograd import Function, GradcheckError, gradcheck, gradgradcheck

F64 = gg.float64
NAN, INF = float("nan"), float("inf")


# ----------------------------------------------------------------------------- closeness

CLOSE = [
    ([1.0, 2.0, 3.0], [1.0 + 1e-9, 2.1, 3.0], {}),
    ([1.0, NAN, INF, -INF, INF], [1.0, NAN, INF, INF, 1.0], {}),
    ([1.0, NAN, INF], [1.0, NAN, INF], {"equal_nan": True}),
    ([100.0, 1e-9, 0.0], [100.05, 0.0, 1e-7], {"rtol": 1e-3, "atol": 1e-8}),
    ([[1.0], [2.0]], [1.0, 2.0], {}),
    ([1, 2, 3], [1, 3, 3], {}),
    ([1, 2, 3], [1, 3, 3], {"atol": 1.0}),
    ([True, False], [True, True], {}),
]


@pytest.mark.parametrize("a,b,kw", CLOSE)
def test_isclose_allclose_against_numpy(a, b, kw, device):
    x, y = gg.tensor(a, device=device), gg.tensor(b, device=device)
    got = gg.isclose(x, y, **kw)
    assert got.dtype == gg.bool and got.device.type == device
    want = np.isclose(np.array(a), np.array(b), **kw)
    np.testing.assert_array_equal(got.cpu().numpy(), want)
    assert gg.allclose(x, y, **kw) is bool(want.all())
    assert x.isclose(y, **kw).tolist() == got.tolist() and x.allclose(y, **kw) == bool(want.all())


def test_isclose_matches_torch():
    torch = pytest.importorskip("torch")
    for a, b, kw in CLOSE:
        want = torch.isclose(torch.tensor(a), torch.tensor(b), **kw).tolist()
        assert gg.isclose(gg.tensor(a), gg.tensor(b), **kw).tolist() == want
        assert gg.allclose(gg.tensor(a), gg.tensor(b), **kw) == torch.allclose(
            torch.tensor(a), torch.tensor(b), **kw)


def test_isclose_errors_and_scalars():
    with pytest.raises(RuntimeError, match="did not match"):
        gg.isclose(gg.ones(2), gg.ones(2, dtype=F64))
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        gg.allclose(gg.ones(2), gg.ones(3))
    with pytest.raises(RuntimeError, match="rtol must be greater than or equal to zero"):
        gg.isclose(gg.ones(2), gg.ones(2), rtol=-1.0)
    assert gg.isclose(gg.tensor([1.0, 2.0]), 1.0).tolist() == [True, False]
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    assert gg.isclose(x, x * 1).grad_fn is None


def test_equal():
    assert gg.equal(gg.tensor([1.0, 2.0]), gg.tensor([1.0, 2.0])) is True
    assert gg.equal(gg.tensor([1.0, 2.0]), gg.tensor([1.0, 2.5])) is False
    assert gg.equal(gg.ones(2), gg.ones(3)) is False
    assert gg.equal(gg.ones(2), gg.ones(2, 1)) is False  # no broadcasting
    assert gg.equal(gg.ones(2), gg.ones(2, dtype=gg.int64)) is True  # values, as torch
    assert gg.ones(2).equal(gg.ones(2))
    assert gg.equal(gg.tensor([NAN]), gg.tensor([NAN])) is False


# ----------------------------------------------------------------------------- legacy types

LEGACY = [("FloatTensor", gg.float32), ("DoubleTensor", gg.float64), ("LongTensor", gg.int64),
          ("IntTensor", gg.int32), ("BoolTensor", gg.bool), ("HalfTensor", gg.float16),
          ("ByteTensor", gg.uint8), ("ShortTensor", gg.int16), ("CharTensor", gg.int8)]


@pytest.mark.parametrize("name,dtype", LEGACY, ids=[n for n, _ in LEGACY])
def test_legacy_constructors(name, dtype):
    T = getattr(gg, name)
    assert T([1, 0]).dtype == dtype and T([1, 0]).tolist() == [dtype.name != "bool" and 1 or True,
                                                               dtype.name == "bool" and False or 0]
    z = T(2, 3)
    assert z.shape == (2, 3) and z.dtype == dtype and z.device.type == "cpu"
    assert T(gg.Size([4])).shape == (4,)
    assert T().shape == (0,)
    assert T(np.array([1, 0])).dtype == dtype
    assert isinstance(z, T) and isinstance(z, gg.Tensor)
    other = gg.DoubleTensor if name != "DoubleTensor" else gg.FloatTensor
    assert not isinstance(z, other)
    same = T(z)
    assert same is z
    with pytest.raises(TypeError, match="expected a tensor of dtype"):
        T(other(2))
    with pytest.raises(RuntimeError, match="legacy constructor expects device type: cpu"):
        T(2, device="cuda")
    with pytest.raises(TypeError):
        T([1.0], dtype=gg.float64)
    with pytest.raises(TypeError):
        T(2.5)


def test_legacy_constructors_match_torch():
    torch = pytest.importorskip("torch")
    for name, _ in LEGACY:
        for args in (([1.7, 2],), (2, 3), ()):
            a, b = getattr(gg, name)(*args), getattr(torch, name)(*args)
            assert tuple(a.shape) == tuple(b.shape) and a.dtype.name == str(b.dtype)[6:]
            if args and isinstance(args[0], list):
                assert a.tolist() == b.tolist()


def test_tensor_type():
    x = gg.ones(2)
    assert x.type() == "gpugrad.FloatTensor"
    assert gg.ones(2, dtype=gg.int64).type() == "gpugrad.LongTensor"
    assert x.type("torch.DoubleTensor").dtype == F64
    assert x.type("gpugrad.LongTensor").dtype == gg.int64
    assert x.type(gg.IntTensor).dtype == gg.int32
    assert x.type(gg.float64).dtype == F64
    with pytest.raises(ValueError, match="invalid type: 'float'"):
        x.type("float")
    with pytest.raises(ValueError, match="invalid type"):
        x.type("torch.float32")


def test_tensor_type_matches_torch():
    torch = pytest.importorskip("torch")
    for name in ("torch.DoubleTensor", "torch.LongTensor", "torch.BoolTensor"):
        assert gg.ones(2).type(name).dtype.name == str(torch.ones(2).type(name).dtype)[6:]
    assert gg.ones(2).type().split(".")[1] == torch.ones(2).type().split(".")[1]


@pytest.mark.cuda
def test_tensor_type_cuda(cuda_device):
    x = gg.ones(2).type("torch.cuda.FloatTensor")
    assert x.device.type == "cuda" and x.type() == "gpugrad.cuda.FloatTensor"
    assert not isinstance(x, gg.FloatTensor)
    assert x.type(gg.DoubleTensor).device.type == "cpu"


# ----------------------------------------------------------------------------- default device


@pytest.fixture
def restore_default_device():
    yield
    gg.set_default_device(None)


def test_default_device_is_cpu_and_honoured(restore_default_device, device):
    assert gg.get_default_device() == gg.device("cpu")
    gg.set_default_device(device)
    assert gg.get_default_device().type == device
    made = [gg.zeros(2), gg.ones(2), gg.empty(2), gg.full((2,), 3.0), gg.arange(3),
            gg.linspace(0, 1, 3), gg.eye(2), gg.rand(2), gg.randn(2), gg.randint(5, (2,)),
            gg.randperm(3), gg.tensor([1.0]), gg.as_tensor([1.0]), gg.normal(0.0, 1.0, (2,)),
            gg.logspace(0, 1, 3)]
    for t in made:
        assert t.device.type == device
    assert gg.zeros(2, device="cpu").device.type == "cpu"
    assert gg.from_numpy(np.ones(2)).device.type == "cpu"
    assert gg.FloatTensor(2).device.type == "cpu"  # legacy types are CPU types
    gg.set_default_device(None)
    assert gg.zeros(1).device.type == "cpu"


def test_default_device_matches_torch_api(restore_default_device):
    torch = pytest.importorskip("torch")
    assert str(gg.get_default_device()) == str(torch.get_default_device())
    gg.set_default_device("cpu")
    assert gg.zeros(1).device == gg.device("cpu")


# ----------------------------------------------------------------------------- gradcheck


def _x(*vals):
    return gg.tensor(list(vals), dtype=F64, requires_grad=True)


class WrongJvp(Function):
    """Correct backward, wrong forward-mode rule."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return t * 3 * x


class Noisy(Function):
    """A backward with tiny run-to-run noise (as atomics on a GPU give)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (2 * x + random.uniform(1e-9, 2e-9))


class BadUndefined(Function):
    """Right where the output gradient is non-zero; non-zero gradients for zero ones."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if not bool((g != 0).any().item()):
            return gg.ones_like(x)
        return g * 2 * x


def test_gradcheck_forward_ad():
    x = _x(0.5, -1.5)
    assert gradcheck(lambda x: (x.sin() * x).exp(), (x,), check_forward_ad=True)
    assert gradcheck(lambda x: (x.sin() * x).exp(), (x,), check_forward_ad=True, fast_mode=True)
    # the backward is right: only forward mode catches the wrong jvp
    assert gradcheck(WrongJvp.apply, (x,))
    with pytest.raises(GradcheckError, match=r"forward mode"):
        gradcheck(WrongJvp.apply, (x,), check_forward_ad=True)
    with pytest.raises(GradcheckError, match=r"forward mode"):
        gradcheck(WrongJvp.apply, (x,), check_forward_ad=True, check_backward_ad=False)
    with pytest.raises(GradcheckError, match="forward mode"):
        gradcheck(WrongJvp.apply, (x,), check_forward_ad=True, fast_mode=True)
    assert gradcheck(WrongJvp.apply, (x,), check_forward_ad=True, raise_exception=False) is False


def test_gradcheck_backward_ad_off_skips_reverse_mode():
    class WrongVjp(WrongJvp):
        @staticmethod
        def backward(ctx, g):
            return g * 5

        @staticmethod
        def jvp(ctx, t):
            (x,) = ctx.saved_tensors
            return t * 2 * x

    x = _x(0.5, -1.5)
    with pytest.raises(GradcheckError):
        gradcheck(WrongVjp.apply, (x,))
    assert gradcheck(WrongVjp.apply, (x,), check_backward_ad=False, check_forward_ad=True)
    with pytest.raises(ValueError, match="at least one of check_forward_ad or check_backward_ad"):
        gradcheck(WrongVjp.apply, (x,), check_backward_ad=False)


def test_gradcheck_nondet_tol():
    x = _x(0.5, -1.5)
    with pytest.raises(GradcheckError, match="not reentrant"):
        gradcheck(Noisy.apply, (x,))
    assert gradcheck(Noisy.apply, (x,), nondet_tol=1e-7)


def test_gradcheck_undefined_grad():
    x = _x(0.5, -1.5)
    with pytest.raises(GradcheckError, match="undefined"):
        gradcheck(BadUndefined.apply, (x,))
    assert gradcheck(BadUndefined.apply, (x,), check_undefined_grad=False)


def test_gradcheck_grad_dtypes_and_batched():
    x = _x(0.5, -1.5)
    assert gradcheck(lambda x: x.exp(), (x,), check_grad_dtypes=True)
    # the batched checks run under vmap (tests/test_vmap.py checks that they catch a bad rule)
    assert gradcheck(lambda x: x.exp(), (x,), check_batched_grad=True,
                     check_batched_forward_grad=True)
    assert gradgradcheck(lambda x: x.exp(), (x,), check_batched_grad=True)


def test_gradcheck_says_it_wants_float64():
    x32 = gg.tensor([0.3, 0.7], requires_grad=True)
    with pytest.warns(UserWarning, match="not float64"), \
            pytest.raises(GradcheckError, match="gradcheck wants float64"):
        gradcheck(lambda x: x.sin() * 100, (x32,))
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError):
            torch.autograd.gradcheck(lambda x: x.sin() * 100,
                                     (torch.tensor([0.3, 0.7], requires_grad=True),))
    assert any("double precision" in str(m.message) for m in w)  # PyTorch warns and fails too


def test_gradgradcheck_keywords():
    x = _x(0.5, -1.5)
    assert gradgradcheck(lambda x: x ** 3, (x,), check_fwd_over_rev=True)
    assert gradgradcheck(lambda x: x.sin() * x, (x,), check_fwd_over_rev=True,
                         check_rev_over_rev=False, nondet_tol=0.0, check_undefined_grad=True,
                         gen_non_contig_grad_outputs=True, fast_mode=True)


def test_gradcheck_keywords_accepted_by_both():
    torch = pytest.importorskip("torch")
    import inspect

    for name in ("gradcheck", "gradgradcheck"):
        ours = set(inspect.signature(getattr(gg.autograd, name)).parameters)
        theirs = set(inspect.signature(getattr(torch.autograd, name)).parameters)
        assert theirs <= ours, f"{name} lacks {sorted(theirs - ours)}"


# ----------------------------------------------------------------------------- grad modes


def test_grad_modes_as_decorators():
    x = gg.ones(1, requires_grad=True)

    @gg.no_grad
    def f(x):
        return (x * 2).requires_grad

    @gg.no_grad()
    def f2(x):
        return (x * 2).requires_grad

    @gg.enable_grad
    def g(x):
        return (x * 2).requires_grad

    @gg.inference_mode
    def h(x):
        return (x * 2).requires_grad, gg.is_inference_mode_enabled()

    @gg.inference_mode(mode=False)
    def k(x):
        return (x * 2).requires_grad, gg.is_inference_mode_enabled()

    assert f.__name__ == "f"
    assert f(x) is False and f2(x) is False and h(x) == (False, True) and k(x) == (True, False)
    with gg.no_grad():
        assert g(x) is True
        assert k(x) == (True, False)  # inference_mode(False) turns grad on, as in PyTorch
    with gg.inference_mode():
        assert gg.is_inference_mode_enabled() and not gg.is_grad_enabled()
        with gg.no_grad():
            assert gg.is_inference_mode_enabled()
    assert not gg.is_inference_mode_enabled() and gg.is_grad_enabled()
    with gg.set_grad_enabled(False):
        assert not gg.is_grad_enabled()
    assert gg.is_grad_enabled()


def test_grad_modes_match_torch():
    torch = pytest.importorskip("torch")
    for T in (gg, torch):
        x = T.ones(1, requires_grad=True)

        @T.inference_mode
        def h(x):
            return (x * 2).requires_grad

        @T.no_grad
        def f(x):
            return (x * 2).requires_grad

        with T.no_grad():
            with T.inference_mode(False):
                inner = (x * 2).requires_grad
        assert (h(x), f(x), inner) == (False, False, True), T.__name__


def test_cuda_legacy_types_without_constructing():
    assert gg.cuda.FloatTensor.__module__ == "gpugrad.cuda"
    assert not isinstance(gg.ones(2), gg.cuda.FloatTensor)
    with pytest.raises(RuntimeError, match="legacy constructor expects device type: cuda"):
        gg.cuda.FloatTensor(2, device="cpu")


@pytest.mark.cuda
def test_cuda_legacy_types(cuda_device):
    x = gg.cuda.FloatTensor([1.0, 2.0])
    assert x.device.type == "cuda" and isinstance(x, gg.cuda.FloatTensor)
    assert not isinstance(x, gg.FloatTensor)
    assert gg.ones(2).type(gg.cuda.DoubleTensor).device.type == "cuda"
    assert gg.cuda.LongTensor(2, 3).shape == (2, 3)


def test_set_default_tensor_type(restore_default_device):
    try:
        gg.set_default_tensor_type("torch.DoubleTensor")
        assert gg.get_default_dtype() == F64 and gg.zeros(1).dtype == F64
        gg.set_default_tensor_type(gg.FloatTensor)
        assert gg.get_default_dtype() == gg.float32
        with pytest.raises(TypeError, match="floating-point"):
            gg.set_default_tensor_type(gg.LongTensor)
        with pytest.raises(ValueError, match="invalid type"):
            gg.set_default_tensor_type("float")
    finally:
        gg.set_default_dtype(gg.float32)
