"""Tensor creation, dtypes and promotion, properties and conversions, printing, RNG."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gpugrad as gg


def val(t):
    return np.asarray(t.detach().cpu().numpy())


# ----------------------------------------------------------------------------- factories


def test_zeros_ones_full_empty(device):
    for t in (gg.zeros(2, 3, device=device), gg.zeros((2, 3), device=device)):
        assert t.shape == (2, 3) and t.dtype == gg.float32
        np.testing.assert_array_equal(val(t), np.zeros((2, 3)))
    np.testing.assert_array_equal(val(gg.ones(4, device=device)), np.ones(4))
    f = gg.full((2, 2), 7.0, device=device)
    assert f.dtype == gg.float32
    np.testing.assert_array_equal(val(f), np.full((2, 2), 7.0))
    assert gg.empty(3, device=device).shape == (3,)
    assert gg.zeros(2, dtype=gg.int64, device=device).dtype == gg.int64
    assert gg.ones(2, dtype=gg.float64, device=device).dtype == gg.float64
    assert gg.zeros((), device=device).shape == ()
    assert gg.zeros(0, 3, device=device).shape == (0, 3)
    assert gg.zeros(2, device=device).device.type == device


def test_arange_linspace_eye(device):
    a = gg.arange(5, device=device)
    assert a.dtype == gg.int64
    np.testing.assert_array_equal(val(a), np.arange(5))
    np.testing.assert_array_equal(val(gg.arange(1, 4, device=device)), [1, 2, 3])
    f = gg.arange(0.0, 1.0, 0.25, device=device)
    assert f.dtype == gg.float32
    np.testing.assert_allclose(val(f), [0.0, 0.25, 0.5, 0.75])
    assert gg.arange(5, dtype=gg.float64, device=device).dtype == gg.float64
    ls = gg.linspace(0, 1, 5, device=device)
    assert ls.dtype == gg.float32
    np.testing.assert_allclose(val(ls), np.linspace(0, 1, 5))
    np.testing.assert_array_equal(val(gg.eye(3, device=device)), np.eye(3))
    np.testing.assert_array_equal(val(gg.eye(2, 3, device=device)), np.eye(2, 3))


def test_random_factories(device):
    r = gg.rand(200, 3, device=device)
    assert r.shape == (200, 3) and r.dtype == gg.float32
    assert val(r).min() >= 0 and val(r).max() < 1
    n = gg.randn(2000, device=device)
    assert n.dtype == gg.float32
    assert abs(val(n).mean()) < 0.15 and 0.85 < val(n).std() < 1.15
    i = gg.randint(0, 10, (50,), device=device)
    assert i.dtype == gg.int64 and i.shape == (50,)
    assert val(i).min() >= 0 and val(i).max() < 10
    j = gg.randint(5, (3, 2), device=device)
    assert j.shape == (3, 2) and val(j).max() < 5


def test_like_factories(device):
    x = gg.tensor([[1.0, 2.0]], dtype=gg.float64, device=device)
    for t in (
        gg.zeros_like(x),
        gg.ones_like(x),
        gg.full_like(x, 2.0),
        gg.rand_like(x),
        gg.randn_like(x),
        gg.empty_like(x),
    ):
        assert t.shape == (1, 2) and t.dtype == gg.float64 and t.device == x.device
    np.testing.assert_array_equal(val(gg.full_like(x, 2.0)), [[2.0, 2.0]])


def test_tensor_infers_dtypes():
    assert gg.tensor(3.0).shape == ()
    assert gg.tensor(3.0).dtype == gg.float32
    assert gg.tensor([[1, 2], [3, 4]]).dtype == gg.int64
    assert gg.tensor([True, False]).dtype == gg.bool
    assert gg.tensor([1, 2.5]).dtype == gg.float32
    assert gg.tensor(np.arange(3.0)).dtype == gg.float64
    assert gg.tensor(np.arange(3, dtype=np.float32)).dtype == gg.float32
    assert gg.tensor([1.0, 2.0], dtype=gg.float64).dtype == gg.float64
    assert gg.tensor([], dtype=gg.float32).shape == (0,)


def test_tensor_keeps_the_dtype_of_numpy_scalars():
    assert gg.tensor(np.float64(1.5)).dtype == gg.float64
    assert gg.tensor(np.float32(1.5)).dtype == gg.float32
    assert gg.tensor(np.int32(2)).dtype == gg.int32
    assert gg.tensor(np.arange(3.0)[0]).item() == 0.0


def test_tensor_copies_but_from_numpy_shares():
    a = np.array([1.0, 2.0])
    t, s = gg.tensor(a), gg.from_numpy(a)
    a[0] = 5.0
    assert val(t)[0] == 1.0
    assert val(s)[0] == 5.0
    assert s.dtype == gg.float64
    assert gg.as_tensor(a).dtype == gg.float64


def test_dtype_names_and_aliases():
    assert repr(gg.float32) == "gpugrad.float32"
    assert str(gg.int64) == "gpugrad.int64"
    assert gg.float is gg.float32 or gg.float == gg.float32
    assert gg.double == gg.float64
    assert gg.long == gg.int64


def test_set_default_dtype():
    assert gg.get_default_dtype() == gg.float32
    gg.set_default_dtype(gg.float64)  # the autouse fixture restores it
    assert gg.get_default_dtype() == gg.float64
    assert gg.zeros(2).dtype == gg.float64
    assert gg.rand(2).dtype == gg.float64
    assert gg.tensor([1.0]).dtype == gg.float64
    assert gg.arange(0.0, 1.0, 0.5).dtype == gg.float64
    assert (gg.tensor([1, 2]) * 2.5).dtype == gg.float64
    assert gg.tensor([1, 2]).dtype == gg.int64


# ----------------------------------------------------------------------------- promotion


def test_int_tensor_plus_float_tensor_is_float():
    r = gg.tensor([1, 2]) + gg.tensor([0.5, 0.5])
    assert r.dtype == gg.float32
    np.testing.assert_allclose(val(r), [1.5, 2.5])
    assert (gg.tensor([1, 2]) + gg.tensor([0.5, 0.5], dtype=gg.float64)).dtype == gg.float64


def test_python_scalars_do_not_upcast_within_a_category():
    assert (gg.tensor([1.0, 2.0]) * 2.5).dtype == gg.float32
    assert (2.5 * gg.tensor([1.0], dtype=gg.float64)).dtype == gg.float64
    assert (gg.tensor([1, 2]) + 1).dtype == gg.int64
    assert (gg.tensor([1, 2], dtype=gg.int32) * 3).dtype == gg.int32


def test_int_tensor_times_float_scalar_is_default_float():
    r = gg.tensor([1, 2]) * 2.5
    assert r.dtype == gg.float32
    np.testing.assert_allclose(val(r), [2.5, 5.0])


def test_float32_plus_float64_is_float64_and_grads_keep_their_dtype():
    a = gg.tensor([1.0, 2.0], requires_grad=True)
    b = gg.tensor([3.0, 4.0], dtype=gg.float64, requires_grad=True)
    c = a * b
    assert c.dtype == gg.float64
    c.sum().backward()
    assert a.grad.dtype == gg.float32
    assert b.grad.dtype == gg.float64
    np.testing.assert_allclose(val(a.grad), [3.0, 4.0])


def test_comparisons_give_bool():
    assert (gg.tensor([1.0, 2.0]) > 1.5).dtype == gg.bool
    assert gg.eq(gg.tensor([1, 2]), gg.tensor([1.0, 3.0])).dtype == gg.bool


# ----------------------------------------------------------------------------- properties


def test_shape_size_dims():
    x = gg.zeros(2, 3)
    assert x.shape == (2, 3)
    assert tuple(x.shape) == (2, 3)
    assert x.size() == (2, 3)
    assert x.size(0) == 2 and x.size(-1) == 3
    assert x.ndim == 2 and x.dim() == 2
    assert x.numel() == 6
    assert gg.tensor(1.0).numel() == 1 and gg.tensor(1.0).ndim == 0


def test_T_transposes():
    x = gg.tensor([[1, 2, 3], [4, 5, 6]])
    assert x.T.shape == (3, 2)
    np.testing.assert_array_equal(val(x.T), [[1, 4], [2, 5], [3, 6]])


def test_item_tolist_numpy_array():
    x = gg.tensor([[1.5, 2.0], [3.0, 4.0]])
    assert gg.tensor(2.5).item() == 2.5 and isinstance(gg.tensor(2.5).item(), float)
    assert isinstance(gg.tensor(3).item(), int)
    assert gg.tensor([7.0]).item() == 7.0
    with pytest.raises(RuntimeError, match="item"):
        x.item()
    assert x.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert gg.tensor(2).tolist() == 2
    a = x.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(x), a)
    assert float(gg.tensor([2.5])) == 2.5 and int(gg.tensor(3)) == 3


def test_numpy_of_a_tensor_requiring_grad_raises():
    x = gg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert x.detach().numpy()[0] == 1.0


def test_len_and_iteration():
    x = gg.tensor([[1, 2], [3, 4], [5, 6]])
    assert len(x) == 3
    rows = list(x)
    assert len(rows) == 3 and all(isinstance(r, gg.Tensor) for r in rows)
    np.testing.assert_array_equal(val(rows[1]), [3, 4])
    assert [v.item() for v in gg.tensor([1, 2])] == [1, 2]
    with pytest.raises(TypeError, match="0-d"):
        len(gg.tensor(1.0))


def test_bool():
    assert bool(gg.tensor([1.0])) and not bool(gg.tensor(0.0))
    assert bool(gg.tensor(True))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(gg.tensor([1.0, 2.0]))


# ----------------------------------------------------------------------------- printing (as torch)

REPRS = [
    (lambda: gg.tensor([0.0, 4.0, 8.0, 12.0]), "tensor([ 0.,  4.,  8., 12.])"),
    (lambda: gg.tensor([1.5, 2.25]), "tensor([1.5000, 2.2500])"),
    (lambda: gg.tensor([-1.5, 2.0]), "tensor([-1.5000,  2.0000])"),
    (lambda: gg.tensor([-1.0, 2.0]), "tensor([-1.,  2.])"),
    (lambda: gg.tensor(2.5), "tensor(2.5000)"),
    (lambda: gg.tensor(3), "tensor(3)"),
    (lambda: gg.tensor([1, 2, 3]), "tensor([1, 2, 3])"),
    (lambda: gg.tensor([1, 2], dtype=gg.int32), "tensor([1, 2], dtype=gpugrad.int32)"),
    (lambda: gg.tensor([1.0, 2.0], dtype=gg.float64), "tensor([1., 2.], dtype=gpugrad.float64)"),
    (lambda: gg.tensor(True), "tensor(True)"),
    (lambda: gg.tensor([True, False]), "tensor([ True, False])"),
    (lambda: gg.tensor(1.0, requires_grad=True), "tensor(1., requires_grad=True)"),
    (lambda: gg.tensor([1.0, 2.0], requires_grad=True), "tensor([1., 2.], requires_grad=True)"),
    (lambda: gg.tensor(1.0, requires_grad=True) - 2, "tensor(-1., grad_fn=<SubBackward0>)"),
    (lambda: gg.tensor([[1.0, 2.0], [3.0, 4.0]]), "tensor([[1., 2.],\n        [3., 4.]])"),
    (lambda: gg.tensor([[1, 2], [3, 4]]), "tensor([[1, 2],\n        [3, 4]])"),
    (lambda: gg.zeros(2, 1, 2), "tensor([[[0., 0.]],\n\n        [[0., 0.]]])"),
    (lambda: gg.tensor([1.0, math.nan, math.inf]), "tensor([1., nan, inf])"),
    (lambda: gg.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
    (lambda: gg.tensor([]), "tensor([])"),
    (lambda: gg.zeros(2, 0), "tensor([], size=(2, 0))"),
]


@pytest.mark.parametrize("make, expected", REPRS, ids=[e for _, e in REPRS])
def test_repr_matches_torch(make, expected):
    t = make()
    assert repr(t) == expected
    assert str(t) == expected


def test_size_repr():
    assert repr(gg.zeros(2, 3).shape) == "gpugrad.Size([2, 3])"


# ----------------------------------------------------------------------------- constants, RNG


def test_constants():
    assert gg.pi == math.pi
    assert gg.e == math.e
    assert gg.inf == math.inf
    assert math.isnan(gg.nan)


@pytest.mark.parametrize(
    "make",
    [lambda: gg.rand(5), lambda: gg.randn(2, 3), lambda: gg.randint(0, 100, (6,))],
    ids=["rand", "randn", "randint"],
)
def test_manual_seed_reproduces(make):
    gg.manual_seed(123)
    a = val(make())
    b = val(make())
    gg.manual_seed(123)
    c = val(make())
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)


def test_random_factories_honour_a_generator():
    g1 = gg.Generator().manual_seed(7)
    a = [gg.rand(3, generator=g1), gg.randn(2, generator=g1), gg.randint(0, 9, (4,), generator=g1)]
    g2 = gg.Generator().manual_seed(7)
    b = [gg.rand(3, generator=g2), gg.randn(2, generator=g2), gg.randint(0, 9, (4,), generator=g2)]
    for x, y in zip(a, b):
        assert x.tolist() == y.tolist()
    gg.manual_seed(7)
    assert gg.rand(3).tolist() != gg.rand(3, generator=gg.Generator().manual_seed(8)).tolist()


def test_deepcopy_copies_a_leaf_and_refuses_a_non_leaf():
    import copy

    x = gg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    y = copy.deepcopy(x)
    assert y is not x and y.requires_grad and y.tolist() == [1.0, 2.0]
    assert y.grad.tolist() == [2.0, 4.0] and y.grad is not x.grad
    y.detach().add_(1.0)  # the copy has its own storage
    assert x.tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match="deepcopy"):
        copy.deepcopy(x * 2)
