"""Random sampling: distributions (moments against their formulas, with tolerances of 5
standard errors at fixed seeds), shapes, dtypes, devices, generators, PyTorch's errors and
PyTorch's (zero) gradients; the factories' keywords and nn.init's generator."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.autograd import forward_ad as fwAD

N = 40_000  # draws per moment check
Z = 5.0  # tolerance in standard errors (fixed seeds: the checks are deterministic)


def gen(device, seed=0):
    return gg.Generator(device).manual_seed(seed)


def np_(t):
    return t.detach().cpu().numpy().astype(np.float64)


def assert_mean(x, mean, var, what=""):
    """The sample mean of x is within Z standard errors of `mean` (variance `var`)."""
    a = np_(x).reshape(-1)
    se = math.sqrt(var / a.size)
    assert abs(a.mean() - mean) <= Z * se, f"{what}: mean {a.mean()} vs {mean} (se {se})"


def assert_var(x, var, kurtosis_excess, what=""):
    """The sample variance is within Z standard errors of `var` (se from the kurtosis)."""
    a = np_(x).reshape(-1)
    se = var * math.sqrt((2.0 + kurtosis_excess) / a.size)
    assert abs(a.var() - var) <= Z * se, f"{what}: variance {a.var()} vs {var} (se {se})"


# ----------------------------------------------------------------------------- distributions


def test_normal_overloads_moments(device):
    g = gen(device)
    mean = gg.full((N,), 2.0, device=device)
    std = gg.full((N,), 3.0, device=device)
    for x in (gg.normal(mean, std, generator=g), gg.normal(mean, 3.0, generator=g),
              gg.normal(2.0, std, generator=g),
              gg.normal(2.0, 3.0, size=(N,), generator=g, device=device)):
        assert x.shape == (N,) and x.device.type == device and x.dtype == gg.float32
        assert_mean(x, 2.0, 9.0, "normal")
        assert_var(x, 9.0, 0.0, "normal")


def test_normal_broadcasts_mean_and_std(device):
    x = gg.normal(gg.zeros(N, 1, device=device), gg.tensor([1.0, 10.0], device=device),
                  generator=gen(device))
    assert x.shape == (N, 2)
    assert_var(x[:, 0], 1.0, 0.0, "column 0")
    assert_var(x[:, 1], 100.0, 0.0, "column 1")


def test_normal_inplace_and_uniform(device):
    g = gen(device, 1)
    x = gg.empty(N, device=device).normal_(-1.0, 0.5, generator=g)
    assert_mean(x, -1.0, 0.25, "normal_")
    assert_var(x, 0.25, 0.0, "normal_")
    u = gg.empty(N, device=device, dtype=gg.float64).uniform_(-2.0, 4.0, generator=g)
    assert u.dtype == gg.float64
    a = np_(u)
    assert a.min() >= -2.0 and a.max() < 4.0
    assert_mean(u, 1.0, 36.0 / 12, "uniform_")
    assert_var(u, 3.0, -1.2, "uniform_")


def test_exponential_geometric_lognormal_cauchy(device):
    g = gen(device, 2)
    e = gg.empty(N, device=device).exponential_(2.0, generator=g)
    assert np_(e).min() >= 0.0
    assert_mean(e, 0.5, 0.25, "exponential_")
    assert_var(e, 0.25, 6.0, "exponential_")
    p = 0.3
    geo = gg.empty(N, device=device).geometric_(p, generator=g)
    a = np_(geo)
    assert a.min() >= 1.0 and np.all(a == np.round(a))
    assert_mean(geo, 1 / p, (1 - p) / p**2, "geometric_")
    ln = gg.empty(N, device=device, dtype=gg.float64).log_normal_(0.5, 0.25, generator=g)
    assert_mean(ln.log(), 0.5, 0.0625, "log_normal_")
    c = np_(gg.empty(N, device=device).cauchy_(1.0, 2.0, generator=g))
    # the median of Cauchy(1, 2) is 1; the fraction below it is 1/2 (binomial se)
    assert abs((c < 1.0).mean() - 0.5) <= Z * math.sqrt(0.25 / N)
    # and a quarter lies below median - sigma
    assert abs((c < -1.0).mean() - 0.25) <= Z * math.sqrt(0.1875 / N)


def test_bernoulli(device):
    g = gen(device, 3)
    p = gg.tensor([0.0, 0.2, 0.9, 1.0], device=device).expand(N, 4).contiguous()
    b = gg.bernoulli(p, generator=g)
    assert b.dtype == gg.float32 and b.shape == (N, 4)
    a = np_(b)
    assert set(np.unique(a)) <= {0.0, 1.0}
    assert a[:, 0].sum() == 0 and a[:, 3].sum() == N
    for j, pj in ((1, 0.2), (2, 0.9)):
        assert abs(a[:, j].mean() - pj) <= Z * math.sqrt(pj * (1 - pj) / N)
    i = gg.zeros(N, dtype=gg.int64, device=device).bernoulli_(0.25, generator=g)
    assert i.dtype == gg.int64
    assert abs(np_(i).mean() - 0.25) <= Z * math.sqrt(0.1875 / N)
    t = gg.zeros(N, 2, device=device).bernoulli_(gg.tensor([0.1, 0.6], device=device),
                                                 generator=g)
    assert abs(np_(t)[:, 1].mean() - 0.6) <= Z * math.sqrt(0.24 / N)
    f = gg.bernoulli(gg.zeros(N, device=device), 0.7, generator=g)
    assert abs(np_(f).mean() - 0.7) <= Z * math.sqrt(0.21 / N)


def test_poisson(device):
    rates = gg.tensor([0.0, 0.5, 4.0, 30.0], device=device, dtype=gg.float64).expand(N, 4)
    x = gg.poisson(rates.contiguous(), generator=gen(device, 4))
    assert x.dtype == gg.float64
    a = np_(x)
    assert np.all(a == np.round(a)) and a[:, 0].sum() == 0
    for j, lam in ((1, 0.5), (2, 4.0), (3, 30.0)):
        assert abs(a[:, j].mean() - lam) <= Z * math.sqrt(lam / N)


def test_random_(device):
    g = gen(device, 5)
    x = gg.empty(N, dtype=gg.int64, device=device).random_(3, 8, generator=g)
    a = np_(x)
    assert set(np.unique(a)) == {3, 4, 5, 6, 7}
    assert_mean(x, 5.0, (5**2 - 1) / 12, "random_(3, 8)")
    y = np_(gg.empty(N, device=device).random_(10, generator=g))
    assert set(np.unique(y)) == set(range(10))
    f = np_(gg.empty(N, device=device).random_(generator=g))
    assert f.min() >= 0 and f.max() <= 2**24 and np.all(f == np.round(f))
    u8 = np_(gg.empty(N, dtype=gg.uint8, device=device).random_(generator=g))
    assert u8.min() == 0 and u8.max() == 255
    bo = gg.empty(N, dtype=gg.bool, device=device).random_(generator=g)
    assert bo.dtype == gg.bool and 0.4 < np_(bo).mean() < 0.6


def test_multinomial_with_replacement(device):
    w = gg.tensor([[1.0, 0.0, 3.0, 4.0], [0.0, 0.0, 0.0, 2.0]], device=device)
    s = gg.multinomial(w, N, replacement=True, generator=gen(device, 6))
    assert s.dtype == gg.int64 and s.shape == (2, N) and s.device.type == device
    a = np_(s)
    assert np.all(a[1] == 3)
    freq = np.bincount(a[0].astype(int), minlength=4) / N
    assert freq[1] == 0
    for j, pj in ((0, 0.125), (2, 0.375), (3, 0.5)):
        assert abs(freq[j] - pj) <= Z * math.sqrt(pj * (1 - pj) / N)
    one = gg.multinomial(gg.tensor([0.2, 0.8], device=device), 5, True)
    assert one.shape == (5,)


def test_multinomial_without_replacement(device):
    w = gg.tensor([1.0, 2.0, 0.0, 7.0], device=device).expand(N, 4).contiguous()
    s = np_(gg.multinomial(w, 3, generator=gen(device, 7))).astype(int)
    assert s.shape == (N, 3)
    assert all(len(set(r)) == 3 for r in s[:200]) and not np.any(s == 2)
    # sequential draws without replacement: the first is category j with p_j, and the
    # second, given the first i, is j with p_j / (1 - p_i)
    p = np.array([0.1, 0.2, 0.0, 0.7])
    first = np.bincount(s[:, 0], minlength=4) / N
    for j in (0, 1, 3):
        assert abs(first[j] - p[j]) <= Z * math.sqrt(p[j] * (1 - p[j]) / N)
    second = np.bincount(s[:, 1], minlength=4) / N
    want = sum(p[i] * p / (1 - p[i]) * (np.arange(4) != i) for i in range(4))
    for j in (0, 1, 3):
        assert abs(second[j] - want[j]) <= Z * math.sqrt(want[j] * (1 - want[j]) / N)
    full = np_(gg.multinomial(gg.tensor([1.0, 1.0, 1.0], device=device), 3)).astype(int)
    assert sorted(full) == [0, 1, 2]


def test_rand_float32_never_reaches_one():
    # Drawn in float64 and rounded to float32, values within 2**-25 of 1 must not become 1.
    x = gg.rand(2_000_000, generator=gen("cpu", 8))
    assert float(x.max().item()) < 1.0
    h = gg.empty(200_000, dtype=gg.float16).uniform_(generator=gen("cpu", 9))
    assert float(h.max().item()) < 1.0


# ----------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("dtype", [gg.float16, gg.float32, gg.float64])
def test_dtypes_follow_the_input(dtype, device):
    x = gg.zeros(5, dtype=dtype, device=device)
    for y in (gg.normal(x, 1.0), gg.normal(0.0, x + 1), gg.normal(x, x + 1), gg.bernoulli(x),
              gg.poisson(x), x.clone().normal_(), x.clone().uniform_(), x.clone().exponential_(),
              x.clone().random_(4), x.clone().bernoulli_(), x.clone().cauchy_(),
              x.clone().log_normal_(), x.clone().geometric_(0.5)):
        assert y.dtype == dtype and y.shape == (5,) and y.device.type == device
    assert gg.normal(0.0, 1.0, (2,), dtype=dtype, device=device).dtype == dtype
    assert gg.multinomial(x + 1, 2).dtype == gg.int64


def test_normal_promotes_mean_and_std():
    y = gg.normal(gg.zeros(3), gg.ones(3, dtype=gg.float64))
    assert y.dtype == gg.float64


def test_default_dtype_is_used():
    gg.set_default_dtype(gg.float64)
    try:
        assert gg.normal(0.0, 1.0, (2,)).dtype == gg.float64
        assert gg.rand(size=(2,)).dtype == gg.float64
    finally:
        gg.set_default_dtype(gg.float32)


# ----------------------------------------------------------------------------- generators


def _draws(device, g):
    x = gg.zeros(6, device=device)
    return [np_(v) for v in (
        gg.rand(6, generator=g, device=device), gg.randn(size=(6,), generator=g, device=device),
        gg.randint(0, 100, (6,), generator=g, device=device), gg.normal(x, 1.0, generator=g),
        gg.bernoulli(x + 0.5, generator=g), gg.poisson(x + 3, generator=g),
        gg.multinomial(x + 1, 3, generator=g), x.clone().normal_(generator=g),
        x.clone().uniform_(generator=g), x.clone().exponential_(generator=g),
        x.clone().random_(9, generator=g), x.clone().bernoulli_(0.5, generator=g))]


def test_generator_determinism(device):
    a = _draws(device, gen(device, 11))
    gg.manual_seed(123)  # the global seed does not touch a Generator's stream
    gg.rand(10, device=device)
    b = _draws(device, gen(device, 11))
    c = _draws(device, gen(device, 12))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert any(not np.array_equal(u, v) for u, v in zip(a, c))


def test_manual_seed_determinism(device):
    gg.manual_seed(5)
    a = _draws(device, None)
    gg.manual_seed(5)
    b = _draws(device, None)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_generator_defaults_and_state():
    g = gg.Generator()
    assert g.initial_seed() == 67280421310721  # PyTorch's default seed
    assert g.device == gg.device("cpu")
    np.testing.assert_array_equal(np_(gg.rand(4, generator=g)),
                                  np_(gg.rand(4, generator=gg.Generator())))
    g.manual_seed(3)
    state = g.get_state()
    x = np_(gg.randn(5, generator=g))
    np.testing.assert_array_equal(np_(gg.randn(5, generator=g.set_state(state))), x)
    s = g.seed()
    assert g.initial_seed() == s


def test_generator_device_must_match(device):
    other = "cuda" if device == "cpu" else "cpu"
    g = gg.Generator(other) if other == "cpu" else _cuda_generator_or_skip()
    x = gg.zeros(3, device=device)
    with pytest.raises(RuntimeError, match=f"expected a '{device}' device type for generator"):
        gg.normal(x, 1.0, generator=g)
    with pytest.raises(RuntimeError, match="device type for generator"):
        gg.rand(3, device=device, generator=g)


def _cuda_generator_or_skip():
    # Making a CUDA generator is lazy: only drawing with it needs CuPy.
    return gg.Generator("cuda")


@pytest.mark.cuda
def test_cuda_generator_draws_on_the_gpu(cuda_device):
    g = gen("cuda", 0)
    x = gg.randn(4, generator=g, device="cuda")
    assert x.device.type == "cuda"
    y = gg.randn(4, generator=gen("cuda", 0), device="cuda")
    np.testing.assert_array_equal(np_(x), np_(y))
    w = gg.ones(3, device="cuda").normal_(generator=g)
    assert w.device.type == "cuda"
    with pytest.raises(NotImplementedError, match="CPU generators only"):
        g.get_state()


# ----------------------------------------------------------------------------- gradients


def test_gradients_are_zero_as_in_pytorch():
    m = gg.tensor([0.0, 1.0], requires_grad=True)
    s = gg.tensor([1.0, 2.0], requires_grad=True)
    for y in (gg.normal(m, s), gg.normal(m, 2.0), gg.normal(0.0, s)):
        (y * gg.tensor([3.0, 4.0])).sum().backward()
    assert m.grad.tolist() == [0.0, 0.0] and s.grad.tolist() == [0.0, 0.0]
    p = gg.tensor([0.3, 0.6], requires_grad=True)
    (gg.bernoulli(p).sum() + gg.poisson(p).sum()).backward()
    assert p.grad.tolist() == [0.0, 0.0]
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.normal_()
    (y.sum() + x.sum()).backward()
    assert x.grad.tolist() == [1.0, 1.0]  # normal_ overwrote y: only x.sum() reaches x


def test_bernoulli_float_p_has_no_derivative_as_in_pytorch():
    x = gg.tensor([0.3, 0.6], requires_grad=True)
    y = gg.bernoulli(x, 0.5)
    assert y.grad_fn.name() == "NotImplemented"
    with pytest.raises(NotImplementedError, match="bernoulli"):
        y.sum().backward()


def test_forward_mode_tangent_is_zero():
    with fwAD.dual_level():
        m = fwAD.make_dual(gg.zeros(3, dtype=gg.float64), gg.ones(3, dtype=gg.float64))
        t = fwAD.unpack_dual(gg.normal(m, 1.0)).tangent
        assert t is not None and t.tolist() == [0.0, 0.0, 0.0]


def test_reparameterised_sample_has_gradients():
    # What the docstring recommends when a gradient w.r.t. mean and std is wanted.
    m = gg.tensor([0.5], requires_grad=True)
    s = gg.tensor([2.0], requires_grad=True)
    eps = gg.randn_like(m, generator=gen("cpu", 1))
    (m + s * eps).sum().backward()
    assert m.grad.tolist() == [1.0] and s.grad.tolist() == pytest.approx(eps.tolist())


def test_gradients_match_torch():
    torch = pytest.importorskip("torch")
    m = torch.tensor([0.0, 1.0], requires_grad=True)
    s = torch.tensor([1.0, 2.0], requires_grad=True)
    torch.normal(m, s).sum().backward()
    gm = gg.tensor([0.0, 1.0], requires_grad=True)
    gs = gg.tensor([1.0, 2.0], requires_grad=True)
    gg.normal(gm, gs).sum().backward()
    assert gm.grad.tolist() == m.grad.tolist() and gs.grad.tolist() == s.grad.tolist()


def test_inplace_on_leaf_that_requires_grad_raises():
    w = gg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.normal_()
    with gg.no_grad():
        w.normal_()  # as nn.init does


# ----------------------------------------------------------------------------- errors


ERRORS = [
    ("normal(zeros(2), -1.0)", RuntimeError, "normal expects std >= 0.0"),
    ("normal(zeros(2), tensor([1.0, -1.0]))", RuntimeError, "all elements of std >= 0.0"),
    ("normal(zeros(2), ones(3))", RuntimeError, "cannot be broadcast"),
    ("normal(0.0, 1.0)", TypeError, "size"),
    ("normal(zeros(2), 1.0, (2,))", TypeError, "size"),
    ("bernoulli(tensor([1.5]))", RuntimeError, "p_in >= 0 && p_in <= 1"),
    ("bernoulli(tensor([1, 0]))", NotImplementedError, "bernoulli"),
    ("poisson(tensor([-1.0]))", RuntimeError, "invalid Poisson rate"),
    ("poisson(tensor([1, 0]))", NotImplementedError, "poisson"),
    ("multinomial(tensor([-1.0, 1.0]), 1)", RuntimeError, "element < 0"),
    ("multinomial(tensor([1.0, float('nan')]), 1)", RuntimeError, "`inf`, `nan`"),
    ("multinomial(tensor([0.0, 0.0]), 1)", RuntimeError, "sum of probabilities <= 0"),
    ("multinomial(ones(1, 1, 2), 1)", RuntimeError, "prob_dist must be 1 or 2 dim"),
    ("multinomial(ones(2), 0)", RuntimeError, "n_sample <= 0"),
    ("multinomial(ones(2), 3)", RuntimeError, "without replacement"),
    ("multinomial(tensor([1, 2]), 1)", RuntimeError, "floating-point dtypes"),
    ("empty(2).uniform_(2, 1)", RuntimeError, "expects to return a [from, to) range"),
    ("empty(2).exponential_(-1)", RuntimeError, "exponential_ expects lambda > 0.0"),
    ("empty(2).bernoulli_(2.0)", RuntimeError, "bernoulli_ expects p to be in [0, 1]"),
    ("empty(2, dtype=int64).normal_()", NotImplementedError, "normal_"),
    ("empty(2, dtype=int64).uniform_()", NotImplementedError, "uniform_"),
    ("empty(3, dtype=uint8).random_(300)", RuntimeError, "out of bounds"),
    ("empty(3).random_(5, 2)", RuntimeError, "'from' to be less than 'to'"),
    ("randint(5, 2, (3,))", RuntimeError, "'from' to be less than 'to'"),
    ("rand(2, size=(2,))", TypeError, "size"),
]


@pytest.mark.parametrize("expr,exc,match", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_as_pytorch(expr, exc, match):
    env = {n: getattr(gg, n) for n in ("normal", "bernoulli", "poisson", "multinomial", "zeros",
                                       "ones", "tensor", "empty", "randint", "rand", "int64",
                                       "uint8")}
    with pytest.raises(exc, match=_re(match)):
        eval(expr, env)
    torch = _torch_or_none()
    if torch is not None and "size=" not in expr:
        tenv = {n: getattr(torch, n) for n in env}
        with pytest.raises((exc, RuntimeError, TypeError, ValueError)):
            eval(expr, tenv)  # PyTorch refuses it too


def _re(s):
    import re

    return re.escape(s)


def _torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


# ----------------------------------------------------------------------------- factories


def test_factory_size_keywords():
    assert gg.rand(size=(2, 3)).shape == (2, 3)
    assert gg.randn(size=[4]).shape == (4,)
    assert gg.rand((2, 3)).shape == (2, 3)
    assert gg.rand(5).shape == (5,)
    assert gg.randint(10, (3,)).shape == (3,)
    assert gg.randint(10, size=(3,)).shape == (3,)
    assert gg.randint(2, 10, (3,)).shape == (3,)
    assert gg.randint(low=2, high=10, size=(3,)).shape == (3,)
    x = gg.randint(high=4, size=(1000,), generator=gen("cpu"))
    assert x.dtype == gg.int64 and set(x.tolist()) == {0, 1, 2, 3}
    assert gg.randint(0, 5, (2,), dtype=gg.float32).dtype == gg.float32
    assert gg.randint_like(gg.zeros(2, 2), 3).shape == (2, 2)
    assert gg.rand_like(gg.zeros(2), generator=gen("cpu")).shape == (2,)
    assert sorted(gg.randperm(5, generator=gen("cpu")).tolist()) == list(range(5))


def test_factory_keywords_match_torch():
    torch = pytest.importorskip("torch")
    for call in ("rand(size=(2, 3))", "randn(size=(2,))", "randint(10, size=(3,))",
                 "randint(low=2, high=10, size=(3,))", "randint(high=4, size=(2, 2))",
                 "normal(0.0, 1.0, size=(2,))", "normal(2.0, 3.0, (4,))"):
        a, b = eval(call, {**vars(gg), "gg": gg}), eval(call, {**vars(torch), "torch": torch})
        assert tuple(a.shape) == tuple(b.shape) and a.dtype.name == str(b.dtype)[6:], call


def test_nn_init_uses_the_generator():
    w1 = gg.nn.Parameter(gg.empty(20, 10))
    w2 = gg.nn.Parameter(gg.empty(20, 10))
    for init in (gg.nn.init.kaiming_uniform_, gg.nn.init.kaiming_normal_,
                 gg.nn.init.xavier_uniform_, gg.nn.init.xavier_normal_):
        init(w1, generator=gen("cpu", 4))
        init(w2, generator=gen("cpu", 4))
        assert w1.tolist() == w2.tolist() and w1.requires_grad
    gg.nn.init.uniform_(w1, -0.1, 0.1, generator=gen("cpu"))
    assert float(w1.abs().max().item()) <= 0.1
    gg.nn.init.normal_(w1, 0.0, 0.02)
    assert 0.005 < float(w1.std().item()) < 0.05


def test_nn_init_on_device(device):
    w = gg.empty(4, 5, device=device)
    gg.nn.init.kaiming_uniform_(w, a=math.sqrt(5))
    assert w.device.type == device and float(w.abs().max().item()) <= 1 / math.sqrt(5)


def _truncnorm_moments(mean, std, a, b):
    """Mean and variance of N(mean, std**2) truncated to [a, b] (closed forms)."""
    phi = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    al, be = (a - mean) / std, (b - mean) / std
    z = cdf(be) - cdf(al)
    m = mean + std * (phi(al) - phi(be)) / z
    v = std**2 * (1 + (al * phi(al) - be * phi(be)) / z - ((phi(al) - phi(be)) / z) ** 2)
    return m, v


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.5, 0.02, 0.48, 0.6),
                                          (0.0, 1.0, 0.0, 0.1), (1.0, 3.0, -1.0, 10.0)])
def test_trunc_normal_moments(mean, std, a, b, device):
    w = gg.empty(N, device=device, dtype=gg.float64)
    gg.nn.init.trunc_normal_(w, mean, std, a, b, generator=gen(device, 13))
    x = np_(w)
    assert x.min() >= a and x.max() <= b
    m, v = _truncnorm_moments(mean, std, a, b)
    assert_mean(w, m, v, "trunc_normal_")
    # the truncated normal's kurtosis is below the normal's; 0 excess bounds the se from above
    assert_var(w, v, 0.0, "trunc_normal_")


def test_trunc_normal_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    w = gg.empty(N, dtype=gg.float64)
    gg.nn.init.trunc_normal_(w, 0.0, 1.0, -0.5, 2.0, generator=gen("cpu", 14))
    # Kolmogorov-Smirnov against scipy's truncated normal; fixed seed
    assert stats.kstest(np_(w), stats.truncnorm(-0.5, 2.0).cdf).pvalue > 1e-4


def test_trunc_normal_determinism_warnings_errors():
    w1, w2 = gg.empty(7, 3), gg.empty(7, 3)
    gg.nn.init.trunc_normal_(w1, std=0.02, generator=gen("cpu", 3))
    gg.nn.init.trunc_normal_(w2, std=0.02, generator=gen("cpu", 3))
    assert w1.tolist() == w2.tolist() and w1.shape == (7, 3)
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        gg.nn.init.trunc_normal_(gg.empty(10), 0.0, 1.0, 2.5, 3.0)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="too little"):
        gg.nn.init.trunc_normal_(gg.empty(10), 0.0, 1.0, 9.0, 100.0)
    p = gg.nn.Parameter(gg.empty(3))
    assert gg.nn.init.trunc_normal_(p) is p and p.requires_grad
