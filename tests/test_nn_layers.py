"""Layers and activations against PyTorch: every functional form and module for values and
gradients over strides, padding, dilation, groups and channels; BatchNorm's running
statistics in train and eval; state dicts, initialisation, reprs and error messages as
PyTorch's. The primitives (conv, its transposes, max-pool indices, ndtr) have their rows in
the op table; the composites here are also checked against finite differences in float64 in
both modes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad import nn


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "cpu") else np.asarray(t)


def compare(torch, g_fn, t_fn, arrays, *, grad=None, device="cpu", rtol=1e-10, atol=1e-10,
            int_args=()):
    """g_fn on gpugrad tensors and t_fn on torch tensors (float64) give the same outputs, and
    the same gradients of <u, out> for every float input (or those in `grad`)."""
    grad = tuple(range(len(arrays))) if grad is None else grad
    gs = [gg.tensor(a, device=device, requires_grad=i in grad and i not in int_args)
          for i, a in enumerate(arrays)]
    ts = [torch.tensor(a, requires_grad=i in grad and i not in int_args)
          for i, a in enumerate(arrays)]
    go, to = g_fn(*gs), t_fn(*ts)
    go = go if isinstance(go, tuple) else (go,)
    to = to if isinstance(to, tuple) else (to,)
    assert len(go) == len(to)
    for a, b in zip(go, to):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol)
    if not grad:
        return go
    rng = np.random.default_rng(1)
    u = rng.standard_normal(tuple(go[0].shape))
    (go[0] * gg.tensor(u, device=device)).sum().backward()
    (to[0] * torch.tensor(u)).sum().backward()
    for i in grad:
        if i in int_args:
            continue
        assert gs[i].grad is not None, f"input {i} got no gradient"
        np.testing.assert_allclose(_np(gs[i].grad), _np(ts[i].grad), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")
    return go


def fd_both_modes(fn, arrays, h=1e-6, rtol=1e-6, atol=1e-8):
    """Reverse mode (vjp) and forward mode (jvp) against central differences in float64,
    along random directions."""
    rng = np.random.default_rng(5)
    vs = [rng.standard_normal(a.shape) for a in arrays]

    def f(*arrs):
        return _np(fn(*[gg.tensor(a) for a in arrs]))

    fd = (f(*[a + h * v for a, v in zip(arrays, vs)])
          - f(*[a - h * v for a, v in zip(arrays, vs)])) / (2 * h)
    out, jv = gg.func.jvp(fn, tuple(gg.tensor(a) for a in arrays),
                          tuple(gg.tensor(v) for v in vs))
    np.testing.assert_allclose(_np(jv), fd, rtol=rtol, atol=atol)
    u = rng.standard_normal(tuple(out.shape))
    xs = [gg.tensor(a, requires_grad=True) for a in arrays]
    grads = gg.autograd.grad((fn(*xs) * gg.tensor(u)).sum(), xs)
    got = sum(float((_np(g) * v).sum()) for g, v in zip(grads, vs))
    np.testing.assert_allclose(got, float((u * fd).sum()), rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------- convolution

CONV2D = [  # x shape, w shape, kwargs
    ((2, 3, 7, 6), (4, 3, 3, 3), {}),
    ((2, 3, 7, 6), (4, 3, 3, 2), dict(stride=2, padding=1)),
    ((1, 4, 8, 7), (6, 2, 3, 3), dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2)),
    ((2, 4, 6, 6), (4, 1, 3, 3), dict(padding=1, groups=4)),  # depthwise
    ((2, 2, 5, 6), (3, 2, 4, 2), dict(padding="same")),  # even kernel: asymmetric padding
    ((2, 2, 5, 6), (3, 2, 3, 3), dict(padding="same", dilation=2)),
    ((2, 2, 5, 6), (3, 2, 2, 2), dict(padding="valid", stride=3)),
    ((3, 5, 5), (2, 3, 1, 1), {}),  # unbatched input, 1x1 kernel
    ((1, 6, 9, 9), (6, 3, 3, 3), dict(stride=3, padding=2, dilation=3, groups=2)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note on even kernels
@pytest.mark.parametrize("xs, ws, kw", CONV2D, ids=[str(i) for i in range(len(CONV2D))])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_conv2d_matches_torch(torch, xs, ws, kw, bias, rng):
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    if bias:
        compare(torch, lambda x, w, b: F.conv2d(x, w, b, **kw),
                lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kw), [x, w, b])
    else:
        compare(torch, lambda x, w: F.conv2d(x, w, **kw),
                lambda x, w: torch.nn.functional.conv2d(x, w, **kw), [x, w])


@pytest.mark.parametrize("xs, ws, kw", [
    ((2, 3, 10), (4, 3, 3), {}),
    ((2, 4, 11), (6, 2, 4), dict(stride=2, padding=3, dilation=2, groups=2)),
    ((3, 9), (2, 3, 2), dict(padding="same")),
])
def test_conv1d_matches_torch(torch, xs, ws, kw, rng):
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    compare(torch, lambda x, w, b: F.conv1d(x, w, b, **kw),
            lambda x, w, b: torch.nn.functional.conv1d(x, w, b, **kw), [x, w, b])


def test_conv3d_matches_torch(torch, rng):
    x, w = rng.standard_normal((1, 4, 4, 5, 3)), rng.standard_normal((2, 2, 2, 3, 2))
    kw = dict(stride=(1, 2, 1), padding=(1, 0, 1), groups=2)
    compare(torch, lambda x, w: F.conv3d(x, w, **kw),
            lambda x, w: torch.nn.functional.conv3d(x, w, **kw), [x, w])


def test_conv2d_double_backward_matches_torch(torch, rng):
    """Gradient of a function of the gradient: through conv_input_grad and conv_weight_grad."""
    x, w = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((6, 2, 3, 3))
    kw = dict(stride=2, padding=1, groups=2)
    out = {}
    for lib, f in ((gg, F.conv2d), (torch, torch.nn.functional.conv2d)):
        xt = lib.tensor(x, requires_grad=True)
        wt = lib.tensor(w, requires_grad=True)
        y = f(xt, wt, **kw)
        gx, gw = lib.autograd.grad((y * y).sum(), [xt, wt], create_graph=True)
        s = (gx * gx).sum() + (gw.sin()).sum()
        out[lib.__name__] = [_np(t) for t in lib.autograd.grad(s, [xt, wt])]
    for a, b in zip(out["gpugrad"], out["torch"]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_conv2d_runs_on_the_device(device, rng):
    """The same numbers on every device (CuPy on a GPU)."""
    x, w = rng.standard_normal((2, 4, 6, 6)), rng.standard_normal((4, 2, 3, 3))
    ref = F.conv2d(gg.tensor(x), gg.tensor(w), padding=1, groups=2)
    xt = gg.tensor(x, device=device, requires_grad=True)
    y = F.conv2d(xt, gg.tensor(w, device=device), padding=1, groups=2)
    assert y.device.type == device
    np.testing.assert_allclose(_np(y), _np(ref), rtol=1e-12)
    y.sum().backward()
    assert xt.grad.device.type == device
    pooled = F.max_pool2d(y, 2)
    np.testing.assert_allclose(_np(pooled), _np(F.max_pool2d(ref, 2)))


def test_conv_float32_keeps_its_dtype():
    x = gg.randn(1, 2, 5, 5, requires_grad=True)
    w = gg.randn(3, 2, 3, 3, requires_grad=True)
    y = F.conv2d(x, w)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == w.grad.dtype == gg.float32


# ----------------------------------------------------------------------------- pooling

MAXPOOL = [
    (3, {}),
    (2, dict(stride=1)),
    ((3, 2), dict(stride=(2, 1), padding=1)),
    (3, dict(stride=2, padding=1, dilation=2)),
    (3, dict(stride=2, ceil_mode=True)),
    (2, dict(stride=2, padding=1, ceil_mode=True)),
]


@pytest.mark.parametrize("k, kw", MAXPOOL, ids=[str(i) for i in range(len(MAXPOOL))])
def test_max_pool2d_matches_torch(torch, k, kw, rng):
    x = rng.standard_normal((2, 3, 7, 8))
    gv, gi = compare(torch, lambda x: F.max_pool2d(x, k, return_indices=True, **kw),
                     lambda x: torch.nn.functional.max_pool2d(x, k, return_indices=True, **kw),
                     [x])
    ti = torch.nn.functional.max_pool2d(torch.tensor(x), k, return_indices=True, **kw)[1]
    assert gi.dtype == gg.int64
    np.testing.assert_array_equal(_np(gi), ti.numpy())


def test_max_pool_ties_and_nan_as_torch(torch):
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, np.nan, 2.0], [2.0, 2.0, 2.0]]]])
    g = F.max_pool2d(gg.tensor(x), 2, stride=1, return_indices=True)
    t = torch.nn.functional.max_pool2d(torch.tensor(x), 2, stride=1, return_indices=True)
    np.testing.assert_array_equal(_np(g[0]), t[0].numpy())
    np.testing.assert_array_equal(_np(g[1]), t[1].numpy())
    y = gg.tensor([[[[3.0, 3.0], [3.0, 3.0]]]], requires_grad=True)
    F.max_pool2d(y, 2).sum().backward()  # the first maximum takes the whole gradient
    np.testing.assert_array_equal(_np(y.grad), [[[[1.0, 0.0], [0.0, 0.0]]]])


def test_max_pool_of_integers_as_torch(torch):
    x = np.array([[[[3, -7, 2], [9, 9, -1], [0, 4, 5]]]])
    g = F.max_pool2d(gg.tensor(x), 2, stride=1, return_indices=True)
    t = torch.nn.functional.max_pool2d(torch.tensor(x), 2, stride=1, return_indices=True)
    assert g[0].dtype == gg.int64
    np.testing.assert_array_equal(_np(g[0]), t[0].numpy())
    np.testing.assert_array_equal(_np(g[1]), t[1].numpy())


def test_max_pool1d_matches_torch(torch, rng):
    x = rng.standard_normal((2, 3, 9))
    compare(torch, lambda x: F.max_pool1d(x, 3, stride=2, padding=1),
            lambda x: torch.nn.functional.max_pool1d(x, 3, stride=2, padding=1), [x])
    compare(torch, lambda x: nn.MaxPool1d(2, ceil_mode=True)(x),
            lambda x: torch.nn.MaxPool1d(2, ceil_mode=True)(x), [x])


AVGPOOL = [
    (2, {}),
    (3, dict(stride=2, padding=1)),
    (3, dict(stride=2, padding=1, count_include_pad=False)),
    ((3, 2), dict(stride=(1, 2), padding=(1, 0))),
    (3, dict(stride=2, ceil_mode=True)),
    (3, dict(stride=2, padding=1, ceil_mode=True)),
    (3, dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    (2, dict(divisor_override=3)),
]


@pytest.mark.parametrize("k, kw", AVGPOOL, ids=[str(i) for i in range(len(AVGPOOL))])
def test_avg_pool2d_matches_torch(torch, k, kw, rng):
    x = rng.standard_normal((2, 3, 7, 8))
    compare(torch, lambda x: F.avg_pool2d(x, k, **kw),
            lambda x: torch.nn.functional.avg_pool2d(x, k, **kw), [x])


def test_avg_pool1d_matches_torch(torch, rng):
    x = rng.standard_normal((2, 3, 9))
    compare(torch, lambda x: F.avg_pool1d(x, 3, stride=2, padding=1, count_include_pad=False),
            lambda x: torch.nn.functional.avg_pool1d(x, 3, stride=2, padding=1,
                                                     count_include_pad=False), [x])


@pytest.mark.parametrize("size, out", [((5, 7), (3, 2)), ((8, 8), 4), ((5, 5), 1),
                                       ((6, 5), (None, 3)), ((4, 4), (4, 4))])
def test_adaptive_avg_pool2d_matches_torch(torch, size, out, rng):
    x = rng.standard_normal((2, 3) + size)
    compare(torch, lambda x: F.adaptive_avg_pool2d(x, out),
            lambda x: torch.nn.functional.adaptive_avg_pool2d(x, out), [x])
    compare(torch, lambda x: nn.AdaptiveAvgPool2d(out)(x),
            lambda x: torch.nn.AdaptiveAvgPool2d(out)(x), [x[0]])


def test_adaptive_avg_pool1d_matches_torch(torch, rng):
    x = rng.standard_normal((2, 3, 10))
    compare(torch, lambda x: F.adaptive_avg_pool1d(x, 4),
            lambda x: torch.nn.functional.adaptive_avg_pool1d(x, 4), [x])


# ----------------------------------------------------------------------------- embedding


def test_embedding_matches_torch(torch, rng):
    w = rng.standard_normal((6, 3))
    idx = np.array([[0, 2, 5], [2, 2, 1]])
    compare(torch, lambda w: F.embedding(gg.tensor(idx), w),
            lambda w: torch.nn.functional.embedding(torch.tensor(idx), w), [w])
    go = compare(torch, lambda w: F.embedding(gg.tensor(idx), w, padding_idx=2),
                 lambda w: torch.nn.functional.embedding(torch.tensor(idx), w, padding_idx=2),
                 [w])
    assert go[0].grad_fn.name() == "EmbeddingBackward0"


def test_embedding_padding_row_gets_no_gradient():
    emb = nn.Embedding(5, 2, padding_idx=1)
    np.testing.assert_array_equal(_np(emb.weight[1]), [0.0, 0.0])
    emb(gg.tensor([1, 3, 1, 0])).sum().backward()
    np.testing.assert_array_equal(_np(emb.weight.grad[1]), [0.0, 0.0])
    np.testing.assert_array_equal(_np(emb.weight.grad[3]), [1.0, 1.0])


def test_embedding_max_norm_renorms_rows_as_torch(torch, rng):
    w = rng.standard_normal((5, 4)) * 3
    idx = np.array([0, 3, 3])
    gw, tw = gg.tensor(w), torch.tensor(w)
    go = F.embedding(gg.tensor(idx), gw, max_norm=1.5)
    to = torch.nn.functional.embedding(torch.tensor(idx), tw, max_norm=1.5)
    np.testing.assert_allclose(_np(go), to.numpy(), rtol=1e-12)
    np.testing.assert_allclose(_np(gw), tw.numpy(), rtol=1e-12)  # rows 0 and 3 renormed
    np.testing.assert_allclose(_np(gw[1]), w[1])  # rows not looked up are left alone


def test_embedding_module_and_from_pretrained(torch):
    emb = nn.Embedding(10, 3, padding_idx=-1, max_norm=2.0)
    assert emb.padding_idx == 9
    assert repr(emb) == repr(torch.nn.Embedding(10, 3, padding_idx=-1, max_norm=2.0))
    pre = nn.Embedding.from_pretrained(gg.eye(3))
    assert not pre.weight.requires_grad
    np.testing.assert_array_equal(_np(pre(gg.tensor([2]))), [[0.0, 0.0, 1.0]])


# ----------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize("shape, norm", [((4, 5), (5,)), ((2, 3, 4), (3, 4)), ((3, 6), 6)])
def test_layer_norm_matches_torch(torch, shape, norm, rng):
    x = rng.standard_normal(shape) * 3 + 1
    ns = (norm,) if isinstance(norm, int) else norm
    w, b = rng.standard_normal(ns), rng.standard_normal(ns)
    compare(torch, lambda x, w, b: F.layer_norm(x, norm, w, b),
            lambda x, w, b: torch.nn.functional.layer_norm(x, ns, w, b), [x, w, b])
    compare(torch, lambda x: F.layer_norm(x, ns, eps=1e-3),
            lambda x: torch.nn.functional.layer_norm(x, ns, eps=1e-3), [x])


def _copy_params(g_mod, t_mod):
    """The torch module's parameters and buffers into the gpugrad one (via state_dict)."""
    g_mod.load_state_dict({k: gg.tensor(v.detach().numpy()) for k, v in
                           t_mod.state_dict().items()})


@pytest.mark.parametrize("cls, shape, kw", [
    ("BatchNorm1d", (6, 4), {}),
    ("BatchNorm1d", (5, 4, 3), dict(momentum=0.3)),
    ("BatchNorm2d", (3, 4, 5, 2), {}),
    ("BatchNorm2d", (3, 4, 2, 2), dict(momentum=None)),  # cumulative moving average
    ("BatchNorm2d", (3, 4, 2, 2), dict(affine=False)),
    ("BatchNorm2d", (3, 4, 2, 2), dict(track_running_stats=False)),
])
def test_batch_norm_train_and_eval_match_torch(torch, cls, shape, kw, rng):
    g_mod = getattr(nn, cls)(4, **kw).double()
    t_mod = getattr(torch.nn, cls)(4, **kw).double()
    if g_mod.affine:
        with torch.no_grad():
            t_mod.weight.copy_(torch.tensor(rng.standard_normal(4)))
            t_mod.bias.copy_(torch.tensor(rng.standard_normal(4)))
    _copy_params(g_mod, t_mod)
    assert list(g_mod.state_dict()) == list(t_mod.state_dict())
    for step in range(3):
        x = rng.standard_normal(shape) * (step + 1) + step
        compare(torch, g_mod, t_mod, [x])
    for k, v in t_mod.state_dict().items():
        np.testing.assert_allclose(_np(g_mod.state_dict()[k]), v.numpy(), rtol=1e-12, err_msg=k)
    g_mod.eval()
    t_mod.eval()
    x = rng.standard_normal(shape)
    compare(torch, g_mod, t_mod, [x])


def test_batch_norm_needs_more_than_one_value_per_channel(torch):
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(gg.randn(1, 3))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(gg.randn(2, 3, 4))
    nn.BatchNorm1d(3).eval()(gg.randn(1, 3))  # eval mode uses the running statistics


def test_batch_norm_functional_matches_torch(torch, rng):
    x = rng.standard_normal((4, 3, 2))
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    grm, grv, trm, trv = gg.tensor(rm), gg.tensor(rv), torch.tensor(rm), torch.tensor(rv)
    compare(torch, lambda x, w, b: F.batch_norm(x, grm, grv, w, b, training=True, momentum=0.2),
            lambda x, w, b: torch.nn.functional.batch_norm(x, trm, trv, w, b, training=True,
                                                           momentum=0.2), [x, w, b])
    np.testing.assert_allclose(_np(grm), trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(_np(grv), trv.numpy(), rtol=1e-12)
    compare(torch, lambda x: F.batch_norm(x, grm, grv), lambda x: torch.nn.functional.batch_norm(
        x, trm, trv), [x])


# ----------------------------------------------------------------------------- activations

ACTIVATIONS = [
    ("gelu", {}), ("gelu", dict(approximate="tanh")), ("silu", {}), ("mish", {}),
    ("leaky_relu", {}), ("leaky_relu", dict(negative_slope=0.2)), ("elu", {}),
    ("elu", dict(alpha=0.5)), ("relu6", {}), ("hardtanh", dict(min_val=-0.5, max_val=2.0)),
    ("softsign", {}), ("logsigmoid", {}),
]


@pytest.mark.parametrize("name, kw", ACTIVATIONS, ids=[f"{n}{i}" for i, (n, _) in
                                                       enumerate(ACTIVATIONS)])
def test_activations_match_torch(torch, name, kw, rng):
    x = np.concatenate([rng.standard_normal(20) * 4, [-40.0, -7.0, 0.0, 7.0, 40.0]])
    compare(torch, lambda x: getattr(F, name)(x, **kw),
            lambda x: getattr(torch.nn.functional, name)(x, **kw), [x], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["gelu", "silu", "mish", "elu"])
def test_activation_second_derivatives_match_torch(torch, name, rng):
    x = rng.standard_normal(8) * 3
    out = {}
    for lib, f in ((gg, getattr(F, name)), (torch, getattr(torch.nn.functional, name))):
        xt = lib.tensor(x, requires_grad=True)
        (g,) = lib.autograd.grad(f(xt).sum(), [xt], create_graph=True)
        out[lib.__name__] = _np(lib.autograd.grad(g.sum(), [xt])[0])
    np.testing.assert_allclose(out["gpugrad"], out["torch"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mod", ["ReLU", "LeakyReLU", "ELU", "SiLU", "ReLU6", "Hardtanh"])
def test_inplace_activations(torch, mod, rng):
    x = rng.standard_normal(6)
    a = gg.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    ga, tb = a * 1.0, b * 1.0
    go, to = getattr(nn, mod)(inplace=True)(ga), getattr(torch.nn, mod)(inplace=True)(tb)
    np.testing.assert_allclose(_np(ga), tb.detach().numpy())  # written in place
    (go * go).sum().backward()
    (to * to).sum().backward()
    np.testing.assert_allclose(_np(a.grad), b.grad.numpy(), rtol=1e-12)


def test_softmax_modules_and_unflatten(torch, rng):
    x = rng.standard_normal((2, 3, 4))
    for dim in (0, 1, -1):
        compare(torch, nn.Softmax(dim=dim), torch.nn.Softmax(dim=dim), [x])
        compare(torch, nn.LogSoftmax(dim=dim), torch.nn.LogSoftmax(dim=dim), [x])
    compare(torch, nn.Unflatten(2, (2, 2)), torch.nn.Unflatten(2, (2, 2)), [x])
    compare(torch, nn.Unflatten(-1, (-1, 2)), torch.nn.Unflatten(-1, (-1, 2)), [x])
    with pytest.raises(RuntimeError, match="don't multiply up"):
        nn.Unflatten(1, (2, 2))(gg.tensor(x))


# ----------------------------------------------------------------------------- finite differences


COMPOSITES = {
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True,
                                          count_include_pad=False), [(1, 2, 5, 6)]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (2, 3)), [(1, 2, 5, 7)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2, stride=1, padding=1), [(1, 2, 4, 3)]),
    "conv2d_bias": (lambda x, w, b: F.conv2d(x, w, b, padding="same", groups=2),
                    [(2, 4, 4, 5), (2, 2, 2, 3), (2,)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (3, 4), w, b), [(2, 3, 4), (3, 4), (3, 4)]),
    "batch_norm": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                   [(4, 3, 2), (3,), (3,)]),
    "embedding": (lambda w: F.embedding(gg.tensor([[1, 0], [1, 3]]), w),
                  [(4, 3)]),
    "gelu": (lambda x: F.gelu(x), [(3, 4)]),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), [(3, 4)]),
    "elu": (lambda x: F.elu(x), [(3, 4)]),
}


@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_composites_match_finite_differences_in_both_modes(name, rng):
    fn, shapes = COMPOSITES[name]
    fd_both_modes(fn, [rng.standard_normal(s) for s in shapes])


# ----------------------------------------------------------------------------- modules

MODULES = [
    "Conv2d(1, 16, 3, padding=1)", "Conv2d(4, 8, (3, 2), stride=2, dilation=2, groups=2)",
    "Conv2d(2, 4, 3, padding='same', bias=False)", "Conv2d(2, 4, 3, padding='valid')",
    "Conv1d(3, 6, 5, stride=2, padding=2)", "Conv3d(2, 2, 3)",
    "MaxPool2d(2)", "MaxPool2d(3, stride=2, padding=1, ceil_mode=True)", "MaxPool1d(2)",
    "AvgPool2d(2)", "AvgPool2d((2, 3), stride=1, padding=1)", "AvgPool1d(3)",
    "AdaptiveAvgPool2d((1, 1))", "AdaptiveAvgPool2d(4)", "AdaptiveAvgPool1d(2)",
    "Embedding(10, 3)", "Embedding(10, 3, padding_idx=0)", "LayerNorm(10)",
    "LayerNorm((3, 4), eps=1e-3, elementwise_affine=False)", "BatchNorm1d(16)",
    "BatchNorm2d(8, momentum=None, affine=False)", "ReLU()", "ReLU(inplace=True)", "GELU()",
    "GELU(approximate='tanh')", "SiLU()", "Mish()", "LeakyReLU()", "LeakyReLU(0.2, inplace=True)",
    "ELU()", "ELU(alpha=0.5)", "ReLU6()", "Hardtanh(-2.0, 2.0)", "Softsign()", "LogSigmoid()",
    "Softmax(dim=1)", "LogSoftmax(dim=-1)", "Unflatten(1, (2, 5))",
]


@pytest.mark.parametrize("call", MODULES)
def test_module_repr_and_state_dict_as_torch(torch, call):
    g_mod = eval(f"nn.{call}")
    t_mod = eval(f"torch.nn.{call}")
    assert repr(g_mod) == repr(t_mod)
    g_sd, t_sd = g_mod.state_dict(), t_mod.state_dict()
    assert list(g_sd) == list(t_sd)
    for k in g_sd:
        assert tuple(g_sd[k].shape) == tuple(t_sd[k].shape), k


def test_conv_initialisation_as_torch():
    """kaiming_uniform_(a=sqrt(5)): weight and bias uniform in +-1/sqrt(fan_in)."""
    conv = nn.Conv2d(8, 32, (3, 5), groups=2)
    bound = 1 / math.sqrt(4 * 15)
    w, b = _np(conv.weight), _np(conv.bias)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.9 * bound  # spread over the whole interval
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound


def test_torch_weights_give_torch_outputs(torch, rng):
    """A CNN whose state_dict comes from PyTorch computes what PyTorch computes."""

    def build(lib):
        m = lib.nn
        return m.Sequential(m.Conv2d(1, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(),
                            m.MaxPool2d(2), m.Conv2d(4, 6, 3, padding="same", groups=2), m.GELU(),
                            m.AdaptiveAvgPool2d(1), m.Flatten(), m.Linear(6, 3))

    t_model = build(torch).double()
    g_model = build(gg).double()
    _copy_params(g_model, t_model)
    x = rng.standard_normal((5, 1, 8, 8))
    compare(torch, g_model, t_model, [x])  # training mode: batch statistics
    g_model.eval()
    t_model.eval()
    compare(torch, g_model, t_model, [x])
    for (k, p), (_, q) in zip(g_model.named_parameters(), t_model.named_parameters()):
        assert p.grad is not None and tuple(p.shape) == tuple(q.shape), k


def test_modules_move_with_to():
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).double()
    assert m[0].weight.dtype == gg.float64 and m[1].running_mean.dtype == gg.float64
    assert m[1].num_batches_tracked.dtype == gg.int64
    m(gg.randn(2, 1, 4, 4, dtype=gg.float64))
    assert int(m[1].num_batches_tracked) == 1


# ----------------------------------------------------------------------------- errors


ERRORS = [
    ("F.conv2d(gg.ones(2, 4, 5, 5), gg.ones(3, 3, 3, 3))",
     "torch.nn.functional.conv2d(torch.ones(2, 4, 5, 5), torch.ones(3, 3, 3, 3))"),
    ("F.conv2d(gg.ones(2, 4, 5, 5), gg.ones(3, 2, 3, 3), groups=2)",
     "torch.nn.functional.conv2d(torch.ones(2, 4, 5, 5), torch.ones(3, 2, 3, 3), groups=2)"),
    ("F.conv2d(gg.ones(1, 1, 2, 2), gg.ones(1, 1, 3, 3))",
     "torch.nn.functional.conv2d(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 3, 3))"),
    ("F.conv2d(gg.ones(2, 3), gg.ones(1, 1, 3, 3))",
     "torch.nn.functional.conv2d(torch.ones(2, 3), torch.ones(1, 1, 3, 3))"),
    ("F.conv2d(gg.ones(1, 1, 5, 5), gg.ones(1, 1, 3, 3), stride=2, padding='same')",
     "torch.nn.functional.conv2d(torch.ones(1, 1, 5, 5), torch.ones(1, 1, 3, 3), stride=2, "
     "padding='same')"),
    ("nn.Conv2d(2, 4, 3)(gg.ones(1, 3, 5, 5))", "torch.nn.Conv2d(2, 4, 3)(torch.ones(1, 3, 5, 5))"),
    ("F.layer_norm(gg.ones(2, 5), (4,))", "torch.nn.functional.layer_norm(torch.ones(2, 5), (4,))"),
    ("F.gelu(gg.ones(2), approximate='x')",
     "torch.nn.functional.gelu(torch.ones(2), approximate='x')"),
    ("F.max_pool2d(gg.ones(1, 1, 4, 4), 2, padding=2)",
     "torch.nn.functional.max_pool2d(torch.ones(1, 1, 4, 4), 2, padding=2)"),
    ("nn.BatchNorm2d(3)(gg.ones(2, 3, 4))", "torch.nn.BatchNorm2d(3)(torch.ones(2, 3, 4))"),
    ("F.embedding(gg.ones(2), gg.ones(3, 2))",
     "torch.nn.functional.embedding(torch.ones(2), torch.ones(3, 2))"),
    ("nn.Conv2d(3, 4, 3, groups=2)", "torch.nn.Conv2d(3, 4, 3, groups=2)"),
    ("F.conv2d(gg.ones(1, 1, 3, 3, dtype=gg.float64), gg.ones(1, 1, 2, 2))",
     "torch.nn.functional.conv2d(torch.ones(1, 1, 3, 3, dtype=torch.float64), "
     "torch.ones(1, 1, 2, 2))"),
    ("F.conv2d(gg.ones(1, 1, 3, 3), gg.ones(1, 1, 2, 2), gg.ones(1, dtype=gg.float64))",
     "torch.nn.functional.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2), "
     "torch.ones(1, dtype=torch.float64))"),
    ("F.max_pool2d(gg.ones(1, 1, 3, 3), 2, stride=0)",
     "torch.nn.functional.max_pool2d(torch.ones(1, 1, 3, 3), 2, stride=0)"),
]


@pytest.mark.parametrize("g_call, t_call", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_errors_as_torch(torch, g_call, t_call):
    """The same exception type as PyTorch, and the first part of its message."""
    with pytest.raises(Exception) as t_exc:
        eval(t_call)
    with pytest.raises(type(t_exc.value)) as g_exc:
        eval(g_call)
    want = str(t_exc.value).splitlines()[0][:60]
    for t_name, g_name in (("(double)", "(float64)"), ("(float)", "(float32)"),
                           ("Double", "float64"), ("Float", "float32")):  # dtype names
        want = want.replace(t_name, g_name)
    assert want in str(g_exc.value), (str(g_exc.value), str(t_exc.value))
