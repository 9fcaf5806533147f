"""Scans, sorting, counting and linear algebra against PyTorch: values, indices, dtypes,
gradients (reverse and forward mode) and errors. The op table (tests/op_table.py) checks the
same ops against NumPy and finite differences; here the reference is torch itself."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gpugrad as gg

torch = pytest.importorskip("torch")


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _both(a, requires_grad=False):
    a = np.asarray(a)
    return (gg.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def _same(g, t, exact=False):
    gv, tv = _np(g), _np(t)
    assert gv.shape == tv.shape, (gv.shape, tv.shape)
    assert str(gv.dtype) == str(tv.dtype), (gv.dtype, tv.dtype)
    if exact:
        np.testing.assert_array_equal(gv, tv)
    else:
        np.testing.assert_allclose(gv, tv, rtol=1e-7, atol=1e-9)


def _grads(f, *arrays, seed=0):
    """f(T, *tensors) on gpugrad and torch: outputs and gradients of a random projection."""
    rng = np.random.default_rng(seed)
    gs = [gg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    go, to = f(gg, *gs), f(torch, *ts)
    _same(go, to)
    w = rng.standard_normal(tuple(to.shape))
    (go * gg.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    for g, t in zip(gs, ts):
        if t.grad is None:
            assert g.grad is None or not np.any(_np(g.grad))
        else:
            _same(g.grad, t.grad)


def _jvp(f, *arrays, seed=1):
    """Forward-mode tangents of f on gpugrad and torch along random directions."""
    import torch.autograd.forward_ad as tfw

    from gpugrad.autograd import forward_ad as gfw

    rng = np.random.default_rng(seed)
    dirs = [rng.standard_normal(np.shape(a)) for a in arrays]
    with gfw.dual_level():
        go = f(gg, *[gfw.make_dual(gg.tensor(a), gg.tensor(d)) for a, d in zip(arrays, dirs)])
        gt = gfw.unpack_dual(go).tangent
    with tfw.dual_level():
        to = f(torch, *[tfw.make_dual(torch.tensor(a), torch.tensor(d))
                        for a, d in zip(arrays, dirs)])
        tt = tfw.unpack_dual(to).tangent
    _same(gt, tt)


RNG = np.random.default_rng(42)
X = RNG.standard_normal((4, 6))
TIES = np.array([[1., 3., 1., 2., 3., 1.], [2., 1., 2., 1., 3., 0.], [5., 5., 5., 5., 5., 5.]])

# ----------------------------------------------------------------------------- scans


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scans_match_torch(name, dim):
    _grads(lambda T, x: getattr(T, name)(x, dim), X)
    _jvp(lambda T, x: getattr(T, name)(x, dim), X)


def test_cumprod_gradient_with_zeros_matches_torch():
    a = np.array([[1.5, 0.0, -2.0, 0.5, 1.1], [0.0, 1.2, 0.0, 2.0, -0.7],
                  [0.5, 1.2, 2.0, -0.8, 0.0], [0.0, 0.0, 0.0, 1.3, 0.0]])
    _grads(lambda T, x: T.cumprod(x, 1), a)
    _jvp(lambda T, x: T.cumprod(x, 1), a)
    # second order: the Hessian-vector product of <w, cumprod(x)> against torch's
    w = np.random.default_rng(3).standard_normal(a.shape)
    v = np.random.default_rng(4).standard_normal(a.shape)
    out = []
    for T in (gg, torch):
        x = T.tensor(a, requires_grad=True)
        (g,) = T.autograd.grad((T.cumprod(x, 1) * T.tensor(w)).sum(), x, create_graph=True)
        (h,) = T.autograd.grad((g * T.tensor(v)).sum(), x)
        out.append(_np(h))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
def test_integer_scans_are_int64(dtype):
    a = np.array([[1, 0, 3], [2, 2, 1]]).astype(dtype)
    for name in ("cumsum", "cumprod"):
        g, t = _both(a)
        _same(getattr(g, name)(1), getattr(t, name)(1), exact=True)
    g, t = _both(a)
    _same(g.cumsum(0, dtype=gg.float64), t.cumsum(0, dtype=torch.float64))


# ----------------------------------------------------------------------------- sorting


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1])
def test_sort_is_stable_like_torch(descending, dim):
    a = np.concatenate([TIES, [[np.nan, 1., np.nan, -np.inf, np.inf, 0.]]])
    g, t = _both(a)
    gr, tr = g.sort(dim, descending=descending), t.sort(dim=dim, descending=descending, stable=True)
    _same(gr.values, tr.values, exact=True)
    _same(gr.indices, tr.indices, exact=True)
    _same(g.argsort(dim, descending),
          t.argsort(dim=dim, descending=descending, stable=True), exact=True)
    assert type(gr).__name__ == "sort" and gr[0] is gr.values
    _grads(lambda T, x: T.sort(x, dim, descending=descending).values, X)


def test_sort_of_ints_and_bools():
    for a in (np.array([3, -1, 2, -1, 0]), np.array([True, False, True])):
        g, t = _both(a)
        for desc in (False, True):
            _same(g.sort(descending=desc).values, t.sort(descending=desc, stable=True).values,
                  exact=True)
            _same(g.sort(descending=desc).indices, t.sort(descending=desc, stable=True).indices,
                  exact=True)


def test_topk_values_and_gradients():
    for largest in (True, False):
        g, t = _both(X)
        gr, tr = g.topk(3, 1, largest=largest), t.topk(3, 1, largest=largest)
        _same(gr.values, tr.values)
        _same(gr.indices, tr.indices, exact=True)  # distinct values: the same indices
        _grads(lambda T, x, lg=largest: T.topk(x, 2, 0, largest=lg).values, X)
    # With ties the values agree and the indices point at them, first ones first; PyTorch's
    # own choice among equal values is an implementation detail of its selection algorithm.
    g, t = _both(TIES)
    gr, tr = g.topk(2), t.topk(2)
    _same(gr.values, tr.values, exact=True)
    np.testing.assert_array_equal(np.take_along_axis(TIES, _np(gr.indices), 1), _np(gr.values))
    np.testing.assert_array_equal(_np(gr.indices)[0], [1, 4])


def test_kthvalue_median_mode_match_torch():
    g, t = _both(X)
    for k in (1, 3, 6):
        gr, tr = g.kthvalue(k, 1), t.kthvalue(k, 1)
        _same(gr.values, tr.values)
        _same(gr.indices, tr.indices, exact=True)
    _grads(lambda T, x: T.kthvalue(x, 2, 0, keepdim=True).values, X)
    for dim in (0, 1):  # even and odd lengths: the lower middle
        gr, tr = g.median(dim), t.median(dim)
        _same(gr.values, tr.values)
        _same(gr.indices, tr.indices, exact=True)
        _grads(lambda T, x, d=dim: T.median(x, d).values, X)
    _same(g.median(), t.median())
    _grads(lambda T, x: T.median(x), X)
    # ties: the lower of the two middles, at the index PyTorch gives
    g, t = _both(TIES)
    for dim in (0, 1):
        _same(g.median(dim).values, t.median(dim).values, exact=True)
        _same(g.median(dim).indices, t.median(dim).indices, exact=True)
        _same(g.mode(dim).values, t.mode(dim).values, exact=True)
        _same(g.mode(dim).indices, t.mode(dim).indices, exact=True)
    _grads(lambda T, x: T.mode(x, 1).values, X)


def test_median_with_nan_is_nan_at_the_first_nan():
    a = np.array([[1., np.nan, 2., np.nan], [3., 1., 2., 0.]])
    g, t = _both(a)
    _same(g.median(1).values, t.median(1).values, exact=True)
    _same(g.median(1).indices, t.median(1).indices, exact=True)
    assert math.isnan(g.median().item())


def test_selection_errors_and_shapes():
    g, t = _both(X)
    with pytest.raises(RuntimeError, match="kthvalue"):
        g.kthvalue(7, 1)
    with pytest.raises(IndexError, match=r"mode\(\): Expected reduction dim 1 to have non-zero"):
        gg.ones(2, 0).mode(1)
    with pytest.raises(NotImplementedError, match="\"histogram_cpu\" not implemented for 'Long'"):
        gg.histc(gg.tensor([1, 2]), 4)
    with pytest.raises(RuntimeError, match="topk"):
        g.topk(7)
    with pytest.raises(IndexError, match="dimension out of range"):
        g.sort(2)
    gr, tr = g.median(0, keepdim=True), t.median(0, keepdim=True)
    assert gr.values.shape == tr.values.shape and gr.indices.dtype == gg.int64
    s = gg.tensor(2.5)
    assert s.sort().values.item() == 2.5 and s.median().item() == 2.5
    assert "gpugrad.return_types.kthvalue(" in repr(g.kthvalue(1))


# ----------------------------------------------------------------------------- counting


def test_unique_matches_torch():
    a = np.array([[3, 1, 2], [1, 3, 3]])
    g, t = _both(a)
    for kw in ({}, {"return_inverse": True}, {"return_counts": True},
               {"return_inverse": True, "return_counts": True}):
        gr, tr = g.unique(**kw), t.unique(**kw)
        for x, y in zip(gr if isinstance(gr, tuple) else (gr,),
                        tr if isinstance(tr, tuple) else (tr,)):
            _same(x, y, exact=True)
    rows = np.array([[1., 2.], [0., 1.], [1., 2.]])
    g, t = _both(rows)
    for x, y in zip(gg.unique(g, dim=0, return_inverse=True, return_counts=True),
                    torch.unique(t, dim=0, return_inverse=True, return_counts=True)):
        _same(x, y, exact=True)


def test_unique_backward_raises_as_torch():
    g = gg.tensor([1., 2., 1.], requires_grad=True)
    u = g.unique()
    assert u.requires_grad and u.grad_fn.name() == "Unique2Backward0"
    with pytest.raises(NotImplementedError, match="the derivative for '_unique2' is not "):
        u.sum().backward()


def test_bincount_matches_torch():
    i = np.array([0, 3, 1, 3, 3])
    w = np.array([0.5, 1.0, 2.0, -1.0, 0.25])
    gi, ti = _both(i)
    _same(gi.bincount(), ti.bincount(), exact=True)
    _same(gg.bincount(gi, minlength=7), torch.bincount(ti, minlength=7), exact=True)
    for dt in ("float32", "float64"):
        gw, tw = _both(w.astype(dt))
        _same(gg.bincount(gi, gw), torch.bincount(ti, tw))
    _same(gg.bincount(gg.tensor([], dtype=gg.int64)), torch.bincount(torch.tensor([],
                                                                          dtype=torch.int64)))
    with pytest.raises(RuntimeError, match="1-d non-negative integral"):
        gg.bincount(gg.tensor([1, -1]))
    with pytest.raises(RuntimeError, match="1-d non-negative integral"):
        gg.bincount(gg.tensor([1., 2.]))
    gw = gg.tensor(w, requires_grad=True)
    out = gg.bincount(gi, gw)
    assert out.grad_fn.name() == "NotImplemented"
    with pytest.raises(RuntimeError, match="derivative for aten::bincount is not implemented"):
        out.sum().backward()


def test_histc_matches_torch():
    a = RNG.standard_normal(50)
    g, t = _both(a)
    _same(g.histc(7), t.histc(7))
    _same(gg.histc(g, 5, min=-1, max=1), torch.histc(t, 5, min=-1, max=1))
    g, t = _both(np.array([1., 2., 1., 4.]))
    _same(g.histc(4, 0, 3), t.histc(4, 0, 3))
    g = gg.tensor(a, requires_grad=True)
    assert not g.histc(3).requires_grad  # no gradient, as in PyTorch
    with pytest.raises(RuntimeError, match="bins must be > 0"):
        g.histc(0)
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        g.histc(3, 2, 1)


# ----------------------------------------------------------------------------- triangles, diagonals


@pytest.mark.parametrize("k", [-2, 0, 1])
def test_tril_triu_diag(k):
    b = RNG.standard_normal((2, 4, 5))
    for name in ("tril", "triu"):
        _grads(lambda T, x, n=name: getattr(T, n)(x, k), b)
        _jvp(lambda T, x, n=name: getattr(T, n)(x, k), b)
    _grads(lambda T, x: T.diag(x, k), X)
    _grads(lambda T, x: T.diag(x[0], k), X)
    _grads(lambda T, x: T.diagonal(x, k, 2, 0), b)
    _grads(lambda T, x: T.diag_embed(x, k, 0, 2), b[0])
    _jvp(lambda T, x: T.diag_embed(x, k), b)


def test_trace():
    _grads(lambda T, x: T.trace(x), X)
    with pytest.raises(RuntimeError, match="trace: expected a matrix"):
        gg.trace(gg.ones(3))


# ----------------------------------------------------------------------------- einsum

EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("iij->ji", [(3, 3, 2)]),
    ("ij->", [(3, 4)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 2)]),
    ("b...,b->...", [(2, 3, 4), (2,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ij, kj -> ik", [(3, 4), (2, 4)]),
    ("ij,ij->ij", [(3, 4), (1, 4)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum_matches_torch(eq, shapes):
    arrays = [RNG.standard_normal(s) for s in shapes]
    _grads(lambda T, *xs: T.einsum(eq, *xs), *arrays)
    _jvp(lambda T, *xs: T.einsum(eq, *xs), *arrays)


def test_einsum_list_operands_and_errors():
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 2))
    _same(gg.einsum("ij,jk", [gg.tensor(a), gg.tensor(b)]),
          torch.einsum("ij,jk", [torch.tensor(a), torch.tensor(b)]))
    with pytest.raises(RuntimeError, match="number of subscripts"):
        gg.einsum("ijk,jk", gg.tensor(a), gg.tensor(b))
    with pytest.raises(RuntimeError, match="subscript j has size 4 for operand 1 which does not "):
        gg.einsum("ij,jk->ik", gg.ones(2, 3), gg.ones(4, 2))
    with pytest.raises(RuntimeError, match="output subscript z"):
        gg.einsum("ij,jk->iz", gg.tensor(a), gg.tensor(b))
    with pytest.raises(ValueError, match="operands"):
        gg.einsum("ij,jk->ik", gg.tensor(a))


def test_einsum_second_order():
    a, b = RNG.standard_normal((3, 3)), RNG.standard_normal((3, 3))
    out = []
    for T in (gg, torch):
        x, y = T.tensor(a, requires_grad=True), T.tensor(b, requires_grad=True)
        (gx,) = T.autograd.grad((T.einsum("ij,jk,ki->", x, x, y) ** 2), x, create_graph=True)
        (h,) = T.autograd.grad(gx.sum(), y)
        out.append(_np(h))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-9)


# ----------------------------------------------------------------------------- linalg

A3 = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
AB = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)


@pytest.mark.parametrize("A", [A3, AB], ids=["matrix", "batched"])
def test_inv_det_slogdet_match_torch(A):
    for f in (lambda T, a: T.linalg.inv(a), lambda T, a: T.inverse(a),
              lambda T, a: T.linalg.det(a), lambda T, a: T.det(a),
              lambda T, a: T.linalg.slogdet(a).logabsdet, lambda T, a: T.logdet(a @ a.mT)):
        _grads(f, A)
        _jvp(f, A)
    g, t = _both(-A)
    _same(gg.linalg.slogdet(g).sign, torch.linalg.slogdet(t).sign)
    assert type(gg.linalg.slogdet(g)).__name__ == "linalg_slogdet"
    assert type(gg.slogdet(g)).__name__ == "slogdet"


def test_solve_matches_torch():
    b = RNG.standard_normal((3, 2))
    for f, args in [
        (lambda T, a, y: T.linalg.solve(a, y), (A3, b)),
        (lambda T, a, y: T.linalg.solve(a, y), (A3, b[:, 0])),
        (lambda T, a, y: T.linalg.solve(a, y), (AB, b)),  # broadcast batch
        (lambda T, a, y: T.linalg.solve(a, y), (AB, RNG.standard_normal((2, 3)))),  # vectors
        (lambda T, a, y: T.linalg.solve(a, y, left=False), (A3, b.T)),
    ]:
        _grads(f, *args)
        _jvp(f, *args)


def test_cholesky_matches_torch():
    def spd(T, a):
        return a @ a.mT + T.eye(3, dtype=a.dtype)

    for upper in (False, True):
        for a in (A3, AB):
            _grads(lambda T, x, u=upper: T.linalg.cholesky(spd(T, x), upper=u), a)
            _jvp(lambda T, x, u=upper: T.linalg.cholesky(spd(T, x), upper=u), a)


@pytest.mark.parametrize("m,n,k", [(6, 3, 2), (6, 3, None), (3, 5, 2), (4, 4, 1)])
def test_lstsq_matches_torch(m, n, k):
    a = RNG.standard_normal((m, n))
    b = RNG.standard_normal((m,) if k is None else (m, k))
    _grads(lambda T, x, y: T.linalg.lstsq(x, y).solution, a, b)
    _jvp(lambda T, x, y: T.linalg.lstsq(x, y).solution, a, b)
    g, t = gg.linalg.lstsq(*_both(a)[:1], _both(b)[0]), torch.linalg.lstsq(torch.tensor(a),
                                                                           torch.tensor(b))
    _same(g.rank, t.rank, exact=True)
    _same(g.residuals, t.residuals)
    _same(g.singular_values, t.singular_values)
    if m > n:  # gelsd: residuals and singular values filled, as PyTorch does
        gd = gg.linalg.lstsq(gg.tensor(a), gg.tensor(b), driver="gelsd")
        td = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver="gelsd")
        _same(gd.residuals, td.residuals)
        _same(gd.singular_values, td.singular_values)
        _same(gd.rank, td.rank, exact=True)


def test_lstsq_batched_and_regression():
    a, b = RNG.standard_normal((2, 7, 3)), RNG.standard_normal((2, 7, 2))
    _grads(lambda T, x, y: T.linalg.lstsq(x, y).solution, a, b)
    # the closed-form linear regression recovers the weights of noiseless data
    X_ = gg.tensor(RNG.standard_normal((50, 4)))
    w = gg.tensor([1.5, -2.0, 0.5, 3.0])
    sol = gg.linalg.lstsq(X_, X_ @ w).solution
    np.testing.assert_allclose(_np(sol), _np(w), rtol=1e-10)


@pytest.mark.parametrize("ord_", [2, 1, 3, 0.5, math.inf, -math.inf, 0])
def test_vector_norm_matches_torch(ord_):
    a = RNG.standard_normal((3, 4))
    _same(gg.linalg.vector_norm(gg.tensor(a), ord_), torch.linalg.vector_norm(torch.tensor(a),
                                                                              ord_))
    if ord_ != 0:
        _grads(lambda T, x: T.linalg.vector_norm(x, ord_, dim=1), a)
        _grads(lambda T, x: T.linalg.norm(x, ord_, dim=0, keepdim=True), a)


@pytest.mark.parametrize("ord_", ["fro", 1, -1, math.inf, -math.inf])
def test_matrix_norm_matches_torch(ord_):
    a = RNG.standard_normal((2, 3, 4))
    _grads(lambda T, x: T.linalg.matrix_norm(x, ord_), a)
    _grads(lambda T, x: T.linalg.matrix_norm(x, ord_, dim=(2, 0), keepdim=True), a)
    _grads(lambda T, x: T.linalg.norm(x[0], ord_), a)
    _grads(lambda T, x: T.linalg.norm(x), a)


def test_matrix_norms_from_singular_values_say_so():
    with pytest.raises(NotImplementedError, match="singular values"):
        gg.linalg.matrix_norm(gg.ones(2, 2), "nuc")


# ----------------------------------------------------------------------------- errors


def _torch_error(f):
    try:
        f()
    except Exception as exc:  # noqa: BLE001 - the message is what is compared
        return type(exc), str(exc)
    raise AssertionError("torch did not raise")


SINGULAR = [np.array([[1., 2.], [2., 4.]]),
            np.array([[[1., 0.], [0., 1.]], [[0., 0.], [0., 1.]]]),
            np.array([[2., 1., 0.], [4., 2., 0.], [1., 1., 1.]])]


@pytest.mark.parametrize("i", range(len(SINGULAR)))
@pytest.mark.parametrize("op", ["inv", "solve"])
def test_singular_matrices_raise_linalg_error_as_torch(op, i):
    a = SINGULAR[i]
    g, t = _both(a)
    calls = {"inv": lambda T, x: T.linalg.inv(x),
             "solve": lambda T, x: T.linalg.solve(x, T.ones(x.shape[:-1], dtype=x.dtype))}
    kind, msg = _torch_error(lambda: calls[op](torch, t))
    with pytest.raises(gg.linalg.LinAlgError) as info:
        calls[op](gg, g)
    assert str(info.value) == msg
    assert isinstance(info.value, RuntimeError) and issubclass(kind, RuntimeError)


@pytest.mark.parametrize("a", [
    np.array([[4., 0., 0.], [0., 1., 3.], [0., 3., 1.]]),
    np.array([[1., 2.], [2., 1.]]),
    np.array([[[1., 0.], [0., 1.]], [[-1., 0.], [0., 1.]]]),
])
def test_cholesky_not_positive_definite_as_torch(a):
    g, t = _both(a)
    _, msg = _torch_error(lambda: torch.linalg.cholesky(t))
    with pytest.raises(gg.linalg.LinAlgError) as info:
        gg.linalg.cholesky(g)
    assert str(info.value) == msg


def test_linalg_shape_and_dtype_errors_as_torch():
    for f in (lambda T: T.linalg.inv(T.ones(2, 3)), lambda T: T.linalg.inv(T.ones(3)),
              lambda T: T.linalg.det(T.ones(2, 3)), lambda T: T.linalg.cholesky(T.ones(2, 3)),
              lambda T: T.linalg.inv(T.ones(2, 2, dtype=T.int64))):
        kind, msg = _torch_error(lambda f=f: f(torch))
        with pytest.raises(RuntimeError) as info:
            f(gg)
        assert str(info.value) == msg
    with pytest.raises(RuntimeError, match="Incompatible shapes"):
        gg.linalg.solve(gg.eye(3), gg.ones(2))
    with pytest.raises(RuntimeError, match="lstsq"):
        gg.linalg.lstsq(gg.ones(3, 2), gg.ones(4, 1))


def test_linalg_error_is_torchs_kind():
    assert issubclass(gg.linalg.LinAlgError, RuntimeError)
    with pytest.raises(RuntimeError, match="singular"):
        gg.linalg.inv(gg.zeros(2, 2))


@pytest.mark.parametrize("a", [
    np.array([[1., 2.], [2., 4.]]),
    np.array([[1., 2., 3.], [4., 5., 6.], [7., 8., 9.]]),
    np.array([[[1., 2., 3.], [2., 4., 6.], [0., 1., 5.]], [[2., 0., 1.], [1., 3., 0.],
                                                           [0., 1., 1.]]]),
])
def test_det_gradient_at_singular_matrices_is_the_adjugate(a):
    """det is a polynomial: its gradient at a singular matrix is the cofactor matrix (checked
    against central differences). PyTorch 2.13 returns zeros there instead."""
    x = gg.tensor(a, requires_grad=True)
    gg.linalg.det(x).sum().backward()
    h = 1e-6
    fd = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        e = np.zeros_like(a)
        e[i] = h
        fd[i] = (np.linalg.det(a + e).sum() - np.linalg.det(a - e).sum()) / (2 * h)
    np.testing.assert_allclose(_np(x.grad), fd, atol=1e-6)
    with pytest.raises(gg.linalg.LinAlgError, match="singular matrix"):
        y = gg.tensor(a, requires_grad=True)
        gg.autograd.grad(gg.linalg.det(y).sum(), y, create_graph=True)


@pytest.mark.parametrize("values", [[1., 2., 2., 3.], [2., 2., 2.], [1., 5., 5., 5., 0., 5.],
                                    [-np.inf] * 3 + [1.], [np.inf] * 3 + [1.], [3.]])
def test_median_of_all_shares_the_gradient_among_ties_as_torch(values):
    torch = pytest.importorskip("torch")
    g = gg.tensor(values, dtype=gg.float64, requires_grad=True)
    t = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    g.median().backward()
    t.median().backward()
    np.testing.assert_array_equal(_np(g.grad), t.grad.numpy())
    assert g.median().grad_fn.name() == "MedianBackward0"
