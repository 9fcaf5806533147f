"""The losses of ``nn`` and ``nn.functional`` against PyTorch: values and gradients over
reductions, weights and shapes (K-dim cross-entropy included); float64 gradients against finite
differences in both modes; PyTorch's signatures (legacy size_average/reduce); and errors of
PyTorch's types for bad shapes, reductions and targets."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as gF
from gpugrad import nn

torch = pytest.importorskip("torch")
tF = torch.nn.functional


# ----------------------------------------------------------------------------- the cases


@dataclasses.dataclass(frozen=True)
class Loss:
    """One call: ``F.<name>(*args, **kw)``; `make(rng)` draws the positional args (float64
    arrays, or int64 class indices); `kw` may hold arrays (weights), passed as tensors; `grad`
    are the positional args differentiated (by default the float ones)."""

    name: str
    make: Callable
    kw: dict = dataclasses.field(default_factory=dict)
    grad: tuple | None = None
    label: str = ""

    @property
    def id(self):
        return f"{self.name}-{self.label}" if self.label else self.name

    def grad_args(self, arrays):
        if self.grad is not None:
            return self.grad
        return tuple(i for i, a in enumerate(arrays) if a.dtype.kind == "f")


def u(rng, *shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, shape)


def pm1(rng, *shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0)


def classes(rng, c, *shape):
    return rng.integers(0, c, shape).astype(np.int64)


def with_ignored(t, value=-100):
    t = t.copy()
    t.reshape(-1)[::3] = value
    return t


def logp(rng, *shape):
    a = rng.standard_normal(shape)
    d = 1 if len(shape) > 1 else 0
    return a - np.log(np.exp(a).sum(d, keepdims=True))


def probs(rng, *shape, dim=1):
    a = rng.random(shape) + 0.05
    return a / a.sum(dim, keepdims=True)


BASE: list[Loss] = [
    Loss("mse_loss", lambda r: [u(r, 4, 3), u(r, 4, 3)]),
    Loss("mse_loss", lambda r: [u(r, 4, 3), u(r, 4, 3)], {"weight": np.linspace(0.5, 2, 12)
                                                          .reshape(4, 3)}, label="weight"),
    Loss("l1_loss", lambda r: [u(r, 4, 3), u(r, 4, 3)]),
    Loss("l1_loss", lambda r: [u(r, 4, 3), u(r, 4, 3)], {"weight": np.linspace(0.5, 2, 12)
                                                         .reshape(4, 3)}, label="weight"),
    Loss("smooth_l1_loss", lambda r: [u(r, 4, 3), u(r, 4, 3)]),
    Loss("smooth_l1_loss", lambda r: [u(r, 4, 3), u(r, 4, 3)], {"beta": 0.5}, label="beta"),
    Loss("smooth_l1_loss", lambda r: [u(r, 4, 3), u(r, 4, 3)], {"beta": 0.0}, label="beta0"),
    Loss("huber_loss", lambda r: [u(r, 4, 3), u(r, 4, 3)]),
    Loss("huber_loss", lambda r: [u(r, 4, 3), u(r, 4, 3)], {"delta": 0.7}, label="delta"),
    Loss("huber_loss", lambda r: [u(r, 4, 3), u(r, 4, 3)],
         {"weight": np.linspace(0.5, 2, 12).reshape(4, 3)}, label="weight"),
    Loss("binary_cross_entropy", lambda r: [u(r, 4, 3, lo=0.05, hi=0.95), u(r, 4, 3, lo=0, hi=1)]),
    Loss("binary_cross_entropy", lambda r: [u(r, 4, 3, lo=0.05, hi=0.95), u(r, 4, 3, lo=0, hi=1)],
         {"weight": np.array([0.5, 1.0, 2.0])}, label="weight"),
    Loss("binary_cross_entropy", lambda r: [u(r, 5, lo=0.05, hi=0.95), u(r, 5, lo=0, hi=1)],
         label="1d"),
    Loss("binary_cross_entropy_with_logits", lambda r: [u(r, 4, 3, lo=-4, hi=4),
                                                        u(r, 4, 3, lo=0, hi=1)]),
    Loss("binary_cross_entropy_with_logits", lambda r: [u(r, 4, 3, lo=-4, hi=4),
                                                        u(r, 4, 3, lo=0, hi=1)],
         {"weight": np.array([0.5, 1.0, 2.0]), "pos_weight": np.array([3.0, 1.0, 0.5])},
         label="weights"),
    Loss("soft_margin_loss", lambda r: [u(r, 4, 3), pm1(r, 4, 3)], grad=(0,)),
    Loss("multilabel_soft_margin_loss", lambda r: [u(r, 4, 5), (r.random((4, 5)) < 0.5) * 1.0]),
    Loss("multilabel_soft_margin_loss", lambda r: [u(r, 4, 5), (r.random((4, 5)) < 0.5) * 1.0],
         {"weight": np.linspace(0.2, 2, 5)}, label="weight"),
    # class indices: 2-D, 1-D (one sample), K-dim; weight and ignore_index
    Loss("nll_loss", lambda r: [logp(r, 5, 4), classes(r, 4, 5)]),
    Loss("nll_loss", lambda r: [logp(r, 5, 4), with_ignored(classes(r, 4, 5))],
         {"weight": np.array([0.5, 1.0, 2.0, 1.5])}, label="weight_ignored"),
    Loss("nll_loss", lambda r: [logp(r, 6, 4), classes(r, 4, 6)], {"ignore_index": 2},
         label="ignore_index"),
    Loss("nll_loss", lambda r: [logp(r, 4), np.array(2)], label="unbatched"),
    Loss("nll_loss", lambda r: [logp(r, 2, 4, 3, 2), classes(r, 4, 2, 3, 2)],
         {"weight": np.array([0.5, 1.0, 2.0, 1.5])}, label="4d_weight"),
    Loss("cross_entropy", lambda r: [u(r, 5, 4), classes(r, 4, 5)]),
    Loss("cross_entropy", lambda r: [u(r, 5, 4), classes(r, 4, 5)],
         {"weight": np.array([0.5, 1.0, 2.0, 1.5])}, label="weight"),
    Loss("cross_entropy", lambda r: [u(r, 6, 4), with_ignored(classes(r, 4, 6))],
         label="ignored"),
    Loss("cross_entropy", lambda r: [u(r, 6, 4), classes(r, 4, 6)], {"ignore_index": 1},
         label="ignore_index"),
    Loss("cross_entropy", lambda r: [u(r, 6, 4), with_ignored(classes(r, 4, 6))],
         {"label_smoothing": 0.2}, label="smoothing_ignored"),
    Loss("cross_entropy", lambda r: [u(r, 6, 4), with_ignored(classes(r, 4, 6))],
         {"label_smoothing": 0.3, "weight": np.array([0.5, 1.0, 2.0, 1.5])},
         label="smoothing_weight"),
    Loss("cross_entropy", lambda r: [u(r, 4), np.array(1)], label="unbatched"),
    Loss("cross_entropy", lambda r: [u(r, 4), np.array(1)], {"label_smoothing": 0.1},
         label="unbatched_smoothing"),
    Loss("cross_entropy", lambda r: [u(r, 2, 4, 3), classes(r, 4, 2, 3)], label="3d"),
    Loss("cross_entropy", lambda r: [u(r, 2, 4, 3, 2), with_ignored(classes(r, 4, 2, 3, 2))],
         {"weight": np.array([0.5, 1.0, 2.0, 1.5])}, label="4d_weight_ignored"),
    Loss("cross_entropy", lambda r: [u(r, 2, 3, 2, 2, 2), classes(r, 3, 2, 2, 2, 2)],
         {"label_smoothing": 0.1}, label="5d_smoothing"),
    Loss("cross_entropy", lambda r: [u(r, 5, 4), probs(r, 5, 4)], label="probs"),
    Loss("cross_entropy", lambda r: [u(r, 5, 4), probs(r, 5, 4)],
         {"weight": np.array([0.5, 1.0, 2.0, 1.5]), "label_smoothing": 0.2},
         label="probs_weight_smoothing"),
    Loss("cross_entropy", lambda r: [u(r, 2, 4, 3), probs(r, 2, 4, 3)], label="probs_3d"),
    Loss("cross_entropy", lambda r: [u(r, 4), probs(r, 4, dim=0)], label="probs_unbatched"),
    # distributions
    Loss("kl_div", lambda r: [logp(r, 4, 3), probs(r, 4, 3)], {"reduction": "batchmean"},
         label="batchmean"),
    Loss("kl_div", lambda r: [logp(r, 4, 3), logp(r, 4, 3)],
         {"log_target": True}, label="log_target"),
    Loss("kl_div", lambda r: [logp(r, 4, 3), np.array([[0.0, 0.5, 0.5]] * 4)],
         {"reduction": "sum"}, grad=(0,), label="zero_target"),
    Loss("gaussian_nll_loss", lambda r: [u(r, 4, 3), u(r, 4, 3), u(r, 4, 3, lo=0.2, hi=2)]),
    Loss("gaussian_nll_loss", lambda r: [u(r, 4, 3), u(r, 4, 3), u(r, 4, lo=0.2, hi=2)],
         {"full": True}, label="var_per_row"),
    Loss("gaussian_nll_loss", lambda r: [u(r, 4, 3), u(r, 4, 3), u(r, 1, 3, lo=0.2, hi=2)],
         label="var_shared"),
    Loss("gaussian_nll_loss", lambda r: [u(r, 4, 3), u(r, 4, 3),
                                         np.array([1e-9, 0.5, 2.0] * 4).reshape(4, 3)],
         {"eps": 1e-3}, label="var_clamped"),
    Loss("poisson_nll_loss", lambda r: [u(r, 4, 3), u(r, 4, 3, lo=0, hi=5)]),
    Loss("poisson_nll_loss", lambda r: [u(r, 4, 3, lo=0.2, hi=3), u(r, 4, 3, lo=0, hi=5)],
         {"log_input": False}, label="rate"),
    Loss("poisson_nll_loss", lambda r: [u(r, 4, 3), np.array([[0.5, 1.0, 3.0]] * 4)],
         {"full": True}, label="full"),
    # margins
    Loss("cosine_embedding_loss", lambda r: [u(r, 5, 3), u(r, 5, 3), pm1(r, 5)], grad=(0, 1)),
    Loss("cosine_embedding_loss", lambda r: [u(r, 5, 3), u(r, 5, 3), pm1(r, 5)], {"margin": -0.3},
         grad=(0, 1), label="margin"),
    Loss("cosine_embedding_loss", lambda r: [u(r, 3), u(r, 3), np.array(-1.0)], {"margin": -0.5},
         grad=(0, 1), label="unbatched"),
    Loss("margin_ranking_loss", lambda r: [u(r, 6), u(r, 6), pm1(r, 6)], {"margin": 0.3},
         grad=(0, 1)),
    Loss("margin_ranking_loss", lambda r: [u(r, 3, 2), u(r, 1, 2), pm1(r, 3, 2)],
         grad=(0, 1), label="broadcast"),
    Loss("hinge_embedding_loss", lambda r: [u(r, 4, 3), pm1(r, 4, 3)], {"margin": 1.5},
         grad=(0,)),
    Loss("triplet_margin_loss", lambda r: [u(r, 4, 3), u(r, 4, 3), u(r, 4, 3)]),
    Loss("triplet_margin_loss", lambda r: [u(r, 4, 3), u(r, 4, 3), u(r, 4, 3)],
         {"p": 1, "swap": True, "margin": 2.0}, label="p1_swap"),
    Loss("triplet_margin_loss", lambda r: [u(r, 3), u(r, 3), u(r, 3)], {"p": 3, "margin": 3.0},
         label="unbatched_p3"),
    Loss("triplet_margin_with_distance_loss", lambda r: [u(r, 4, 3), u(r, 4, 3), u(r, 4, 3)],
         {"swap": True, "margin": 2.0}),
    Loss("multi_margin_loss", lambda r: [u(r, 5, 4), classes(r, 4, 5)]),
    Loss("multi_margin_loss", lambda r: [u(r, 5, 4), classes(r, 4, 5)],
         {"p": 2, "margin": 0.7, "weight": np.array([0.5, 1.0, 2.0, 1.5])}, label="p2_weight"),
    Loss("multi_margin_loss", lambda r: [u(r, 4), np.array(2)], label="unbatched"),
    Loss("multilabel_margin_loss", lambda r: [u(r, 4, 5), np.array(
        [[3, 0, -1, 1, 4], [1, 1, 2, -1, -1], [-1, 0, 0, 0, 0], [4, 3, 2, 1, 0]])]),
    Loss("multilabel_margin_loss", lambda r: [u(r, 4), np.array([2, 0, -1, 3])],
         label="unbatched"),
]


def _with_reductions(cases):
    out = []
    for c in cases:
        if "reduction" in c.kw:
            out.append(c)
            continue
        for red in ("mean", "sum", "none"):
            out.append(dataclasses.replace(c, kw={**c.kw, "reduction": red},
                                           label=f"{c.label}_{red}" if c.label else red))
    return out


CASES = _with_reductions(BASE)
MODULES = {"mse_loss": "MSELoss", "l1_loss": "L1Loss", "smooth_l1_loss": "SmoothL1Loss",
           "huber_loss": "HuberLoss", "binary_cross_entropy": "BCELoss",
           "binary_cross_entropy_with_logits": "BCEWithLogitsLoss", "nll_loss": "NLLLoss",
           "cross_entropy": "CrossEntropyLoss", "kl_div": "KLDivLoss",
           "gaussian_nll_loss": "GaussianNLLLoss", "poisson_nll_loss": "PoissonNLLLoss",
           "cosine_embedding_loss": "CosineEmbeddingLoss",
           "margin_ranking_loss": "MarginRankingLoss", "hinge_embedding_loss": "HingeEmbeddingLoss",
           "soft_margin_loss": "SoftMarginLoss",
           "multilabel_soft_margin_loss": "MultiLabelSoftMarginLoss",
           "triplet_margin_loss": "TripletMarginLoss", "multi_margin_loss": "MultiMarginLoss",
           "triplet_margin_with_distance_loss": "TripletMarginWithDistanceLoss",
           "multilabel_margin_loss": "MultiLabelMarginLoss"}


# ----------------------------------------------------------------------------- helpers


def _call(lib, case, arrays, grad, kw=None, module=False):
    """Run `case` in gpugrad (lib=gg) or torch: (output, the differentiated input tensors)."""
    tensor = gg.tensor if lib is gg else torch.tensor
    args = [tensor(a, requires_grad=i in grad) for i, a in enumerate(arrays)]
    kw = {k: tensor(v) if isinstance(v, np.ndarray) else v for k, v in (kw or case.kw).items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's 'mean' warns, in both libraries
        if module:
            ns = nn if lib is gg else torch.nn
            out = getattr(ns, MODULES[case.name])(**kw)(*args)
        else:
            out = getattr(gF if lib is gg else tF, case.name)(*args, **kw)
    return out, [args[i] for i in grad]


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def _compare(case, module=False):
    rng = np.random.default_rng(abs(hash(case.id)) % 2**32)
    arrays = case.make(rng)
    grad = case.grad_args(arrays)
    out_g, ins_g = _call(gg, case, arrays, grad, module=module)
    out_t, ins_t = _call(torch, case, arrays, grad, module=module)
    assert tuple(out_g.shape) == tuple(out_t.shape)
    np.testing.assert_allclose(_np(out_g), _np(out_t), rtol=1e-10, atol=1e-12)
    cot = rng.standard_normal(tuple(out_t.shape))
    (out_g * gg.tensor(cot)).sum().backward()
    (out_t * torch.tensor(cot)).sum().backward()
    for a, b in zip(ins_g, ins_t):
        np.testing.assert_allclose(_np(a.grad), _np(b.grad), rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------- against torch


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_value_and_gradient_match_torch(case):
    _compare(case)


def _module_cases():
    import inspect

    def takes(c):
        params = inspect.signature(getattr(torch.nn, MODULES[c.name]).__init__).parameters
        return all(k in params for k in c.kw)
    return [c for c in CASES if c.kw.get("reduction") != "sum" and takes(c)]


@pytest.mark.parametrize("case", _module_cases(), ids=lambda c: c.id)
def test_module_matches_torch(case):
    _compare(case, module=True)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_float32_stays_float32(case):
    rng = np.random.default_rng(0)
    arrays = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in case.make(rng)]
    kw = {k: v.astype(np.float32) if isinstance(v, np.ndarray) else v for k, v in case.kw.items()}
    out_g, _ = _call(gg, case, arrays, (), kw)
    out_t, _ = _call(torch, case, arrays, (), kw)
    assert out_g.dtype == gg.float32
    np.testing.assert_allclose(_np(out_g), _np(out_t), rtol=2e-5, atol=2e-6)


# ----------------------------------------------------------------------------- finite differences


# Not differentiable where finite differences would step: var below eps (the clamp passes the
# gradient through, as in PyTorch) and Stirling's term masked at target = 1.
_NO_FD = ("gaussian_nll_loss-var_clamped_sum", "poisson_nll_loss-full_sum")


def _fd_cases():
    """The 'sum' reductions (and cases with a fixed reduction): one scalar per call, every
    element's gradient weighted alike; and the means of the class losses (divided by weights)."""
    return [c for c in CASES if c.id not in _NO_FD and (
        c.kw.get("reduction") in ("sum", "batchmean")
        or c.label.endswith("mean") and c.name in ("cross_entropy", "nll_loss"))]


def _fd_setup(case):
    rng = np.random.default_rng(1 + abs(hash(case.id)) % 2**31)
    arrays = case.make(rng)
    grad = case.grad_args(arrays)
    kw = {k: gg.tensor(v) if isinstance(v, np.ndarray) else v for k, v in case.kw.items()}
    fixed = [gg.tensor(a) for a in arrays]
    fn = getattr(gF, case.name)

    def f(*diff):
        args = list(fixed)
        for i, d in zip(grad, diff):
            args[i] = d
        return fn(*args, **kw)
    return rng, f, [gg.tensor(arrays[i], requires_grad=True) for i in grad]


@pytest.mark.parametrize("case", _fd_cases(), ids=lambda c: c.id)
def test_reverse_mode_gradcheck(case):
    _, f, inputs = _fd_setup(case)
    assert gg.autograd.gradcheck(f, tuple(inputs), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("case", _fd_cases(), ids=lambda c: c.id)
def test_forward_mode_matches_finite_differences(case):
    rng, f, inputs = _fd_setup(case)
    primals = tuple(x.detach() for x in inputs)
    tangents = tuple(gg.tensor(rng.standard_normal(tuple(x.shape))) for x in primals)
    _, got = gg.func.jvp(f, primals, tangents)
    h = 1e-6
    plus = f(*[p + h * t for p, t in zip(primals, tangents)])
    minus = f(*[p - h * t for p, t in zip(primals, tangents)])
    np.testing.assert_allclose(_np(got), (_np(plus) - _np(minus)) / (2 * h), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["binary_cross_entropy", "cross_entropy", "smooth_l1_loss",
                                  "gaussian_nll_loss", "kl_div", "triplet_margin_loss"])
def test_second_order_gradgradcheck(name):
    case = next(c for c in _fd_cases() if c.name == name)
    _, f, inputs = _fd_setup(case)
    assert gg.autograd.gradgradcheck(f, tuple(inputs), eps=1e-6, atol=1e-5, rtol=1e-4)


# ----------------------------------------------------------------------------- behaviour


def test_bce_clamps_the_log_at_minus_100_with_torch_gradient():
    x = gg.tensor([0.0, 1.0, 0.0, 1.0, 0.5], dtype=gg.float64, requires_grad=True)
    y = gg.tensor([1.0, 0.0, 0.0, 1.0, 0.5], dtype=gg.float64)
    loss = gF.binary_cross_entropy(x, y, reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [100, 100, 0, 0, math.log(2)])
    loss.sum().backward()
    xt = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.5], dtype=torch.float64, requires_grad=True)
    tF.binary_cross_entropy(xt, torch.tensor(y.numpy()), reduction="none").sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())
    assert np.isfinite(x.grad.numpy()).all()  # +-1e12 at the clamped ends, not inf or NaN


def test_class_indices_out_of_range_or_negative_raise():
    x = gg.randn(3, 4)
    for bad in (-1, -2, 4, 100):
        t = [0, bad, 1]
        for fn in (gF.cross_entropy, lambda a, b: gF.nll_loss(a.log_softmax(1), b)):
            with pytest.raises(IndexError, match=f"Target {bad} is out of bounds"):
                fn(x, gg.tensor(t))
        with pytest.raises(IndexError):
            tF.cross_entropy(torch.randn(3, 4), torch.tensor(t))
    with pytest.raises(IndexError, match="Target -1"):  # K-dim too
        gF.cross_entropy(gg.randn(2, 4, 3), gg.tensor([[0, 1, 2], [3, -1, 0]]))
    with pytest.raises(IndexError, match="Target -100"):  # -100 is a class index once not ignored
        gF.cross_entropy(x, gg.tensor([0, -100, 1]), ignore_index=1)
    ok = gF.cross_entropy(x, gg.tensor([0, 7, 1]), ignore_index=7)  # ignored: any value
    assert np.isfinite(ok.item())


def test_one_sample_gives_a_0d_loss():
    for t in (gg.tensor(1), gg.tensor([1])):  # a 0-d target or one of size 1, as in PyTorch
        out = gF.nll_loss(gg.tensor([-1.0, -2.0, -3.0]), t, reduction="none")
        assert out.shape == () and out.item() == 2.0
        assert gF.cross_entropy(gg.zeros(3), t, reduction="none").shape == ()


def test_ignored_targets_do_not_count():
    x = gg.randn(4, 3, dtype=gg.float64, requires_grad=True)
    t = gg.tensor([2, -100, 0, -100])
    full = gF.cross_entropy(x[[0, 2]], t[[0, 2]])
    loss = gF.cross_entropy(x, t)
    assert loss.item() == pytest.approx(full.item(), rel=1e-12)
    loss.backward()
    assert (x.grad.numpy()[[1, 3]] == 0).all()
    assert math.isnan(gF.cross_entropy(x, gg.tensor([-100] * 4)).item())  # 0 / 0, as in PyTorch
    assert gF.cross_entropy(x, gg.tensor([-100] * 4), reduction="sum").item() == 0


def test_legacy_size_average_and_reduce():
    x, y = gg.tensor([1.0, 2.0]), gg.tensor([0.0, 0.0])
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert gF.mse_loss(x, y, size_average=False).item() == 5.0
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert nn.L1Loss(reduce=False)(x, y).shape == (2,)
    with pytest.warns(UserWarning, match="reduction='mean'"):
        assert nn.MSELoss(True, True).reduction == "mean"
    with pytest.warns(UserWarning):
        assert nn.CrossEntropyLoss(None, False).reduction == "sum"  # size_average after weight


@pytest.mark.parametrize("make", [
    lambda: nn.MSELoss("sum"), lambda: nn.L1Loss("none"), lambda: nn.BCELoss(None, "sum"),
    lambda: nn.CrossEntropyLoss(None, "sum"), lambda: nn.SmoothL1Loss("sum"),
    lambda: nn.KLDivLoss("batchmean"), lambda: nn.NLLLoss(None, None, -100, "mean"),
    lambda: gF.mse_loss(gg.ones(2), gg.ones(2), "sum"),
    lambda: gF.cross_entropy(gg.ones(2, 3), gg.tensor([0, 1]), None, "sum"),
])
def test_a_reduction_string_where_size_average_goes_is_a_type_error(make):
    # PyTorch would read the string as size_average=True and silently take the mean.
    with pytest.raises(TypeError, match="size_average|reduce"):
        make()


def test_module_signatures_match_torch():
    import inspect

    for fname, mname in MODULES.items():
        ours = inspect.signature(getattr(nn, mname).__init__)
        theirs = inspect.signature(getattr(torch.nn, mname).__init__)
        assert [(p.name, p.default, p.kind) for p in ours.parameters.values()] == \
            [(p.name, p.default, p.kind) for p in theirs.parameters.values()], mname
        ours = inspect.signature(getattr(gF, fname))
        theirs = inspect.signature(getattr(tF, fname))
        assert [(p.name, p.default) for p in ours.parameters.values()] == \
            [(p.name, p.default) for p in theirs.parameters.values()], fname


def test_arguments_must_be_tensors():
    with pytest.raises(TypeError, match="mse_loss.*'input' must be a Tensor, not list"):
        gF.mse_loss([1.0, 2.0], gg.ones(2))
    with pytest.raises(TypeError, match="cross_entropy.*'target'"):
        gF.cross_entropy(gg.ones(2, 3), [0, 1])


def test_triplet_with_a_custom_distance_matches_torch():
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((4, 3)) for _ in range(3)]

    def run(lib, F, nn_):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]

        def cos_dist(u, v):
            return 1 - (u * v).sum(-1) / ((u * u).sum(-1) * (v * v).sum(-1)).sqrt()
        a = F.triplet_margin_with_distance_loss(*xs, distance_function=cos_dist, margin=0.5)
        b = nn_.TripletMarginWithDistanceLoss(distance_function=cos_dist, reduction="sum")(*xs)
        (a + b).backward()
        return [a.item(), b.item()] + [x.grad.numpy() for x in xs]

    for got, want in zip(run(gg, gF, nn), run(torch, tF, torch.nn)):
        np.testing.assert_allclose(got, want, rtol=1e-10)


def test_weights_are_buffers():
    w = gg.tensor([1.0, 2.0, 3.0])
    loss = nn.CrossEntropyLoss(weight=w)
    assert "weight" in loss.state_dict()
    assert "pos_weight" in nn.BCEWithLogitsLoss(pos_weight=w).state_dict()


def test_regression_losses_broadcast_with_a_warning_as_torch():
    x, y = gg.tensor([[1.0], [2.0], [3.0]]), gg.tensor([0.0, 1.0])
    with pytest.warns(UserWarning, match="different to the input size"):
        got = gF.mse_loss(x, y)
    with pytest.warns(UserWarning):
        want = tF.mse_loss(torch.tensor(x.numpy()), torch.tensor(y.numpy()))
    assert got.item() == pytest.approx(want.item())


def test_kl_div_mean_warns():
    with pytest.warns(UserWarning, match="batchmean"):
        gF.kl_div(gg.zeros(2, 2), gg.ones(2, 2))


def test_label_smoothing_above_one_or_negative_raises():
    with pytest.raises(RuntimeError, match="label_smoothing"):
        gF.cross_entropy(gg.zeros(2, 3), gg.tensor([0, 1]), label_smoothing=1.5)
    # PyTorch accepts a negative smoothing (a target beyond one-hot); it is a mistake: refused.
    with pytest.raises(RuntimeError, match="label_smoothing"):
        gF.cross_entropy(gg.zeros(2, 3), gg.tensor([0, 1]), label_smoothing=-0.1)


# ----------------------------------------------------------------------------- errors like torch


def _ce_i(T, *t):
    return T.tensor(list(t))


ERRORS = {
    "mse-shapes": lambda F, T: F.mse_loss(T.ones(2, 3), T.ones(4, 5)),
    "mse-reduction": lambda F, T: F.mse_loss(T.ones(2), T.ones(2), reduction="avg"),
    "mse-weight-size": lambda F, T: F.mse_loss(T.ones(2, 3), T.ones(2, 3), weight=T.ones(3)),
    "l1-weight-size": lambda F, T: F.l1_loss(T.ones(2, 3), T.ones(2, 3), weight=T.ones(3)),
    "huber-delta": lambda F, T: F.huber_loss(T.ones(2), T.ones(2), delta=0.0),
    "huber-weight-size": lambda F, T: F.huber_loss(T.ones(2, 3), T.ones(2, 3), weight=T.ones(3)),
    "smooth_l1-beta": lambda F, T: F.smooth_l1_loss(T.ones(2), T.ones(2), beta=-1.0),
    "smooth_l1-shapes": lambda F, T: F.smooth_l1_loss(T.ones(2, 3), T.ones(4)),
    "bce-shapes": lambda F, T: F.binary_cross_entropy(T.ones(3) * 0.5, T.ones(3, 1)),
    "bce-input-range": lambda F, T: F.binary_cross_entropy(T.ones(2) * 1.5, T.ones(2)),
    "bce-input-nan": lambda F, T: F.binary_cross_entropy(T.ones(2) * math.nan, T.ones(2)),
    "bce-target-range": lambda F, T: F.binary_cross_entropy(T.ones(2) * 0.5, T.ones(2) * 2),
    "bce-int-target": lambda F, T: F.binary_cross_entropy(T.ones(2) * 0.5, T.tensor([0, 1])),
    "bce-weight": lambda F, T: F.binary_cross_entropy(T.ones(2, 3) / 2, T.ones(2, 3),
                                                      weight=T.ones(4)),
    "bce-reduction": lambda F, T: F.binary_cross_entropy(T.ones(2) / 2, T.ones(2), reduction="x"),
    "bce_logits-shapes": lambda F, T: F.binary_cross_entropy_with_logits(T.ones(3), T.ones(3, 1)),
    "ce-negative": lambda F, T: F.cross_entropy(T.ones(2, 3), _ce_i(T, 0, -1)),
    "ce-too-big": lambda F, T: F.cross_entropy(T.ones(2, 3), _ce_i(T, 0, 3)),
    "ce-kdim-negative": lambda F, T: F.cross_entropy(T.ones(2, 3, 2), T.tensor([[0, -1], [1, 2]])),
    "ce-smoothing-negative-target": lambda F, T: F.cross_entropy(
        T.ones(2, 3), _ce_i(T, 0, -5), label_smoothing=0.1),
    "ce-weighted-out-of-range": lambda F, T: F.cross_entropy(
        T.ones(2, 3), _ce_i(T, 0, 3), weight=T.ones(3)),
    "nll-negative": lambda F, T: F.nll_loss(T.ones(2, 3), _ce_i(T, -1, 0)),
    "nll-too-big": lambda F, T: F.nll_loss(T.ones(2, 3), _ce_i(T, 0, 9)),
    "nll-float-target": lambda F, T: F.nll_loss(T.ones(2, 3), T.tensor([0.0, 1.0])),
    "ce-float-class-target": lambda F, T: F.cross_entropy(T.ones(2, 3), T.tensor([0.0, 1.0])),
    "ce-int-prob-target": lambda F, T: F.cross_entropy(T.ones(2, 3), T.zeros(2, 3).long()),
    "ce-prob-ignore_index": lambda F, T: F.cross_entropy(T.ones(2, 3), T.ones(2, 3) / 3,
                                                         ignore_index=1),
    "ce-smoothing": lambda F, T: F.cross_entropy(T.ones(2, 3), _ce_i(T, 0, 1),
                                                 label_smoothing=1.5),
    "ce-weight-size": lambda F, T: F.cross_entropy(T.ones(2, 3), _ce_i(T, 0, 1), weight=T.ones(4)),
    "ce-prob-weight-size": lambda F, T: F.cross_entropy(T.ones(2, 3), T.ones(2, 3) / 3,
                                                        weight=T.ones(4)),
    "nll-weight-size": lambda F, T: F.nll_loss(T.ones(2, 3), _ce_i(T, 0, 1), weight=T.ones(4)),
    "ce-batch": lambda F, T: F.cross_entropy(T.ones(2, 3), _ce_i(T, 0, 1, 2)),
    "ce-kdim-target": lambda F, T: F.cross_entropy(T.ones(2, 3, 4), T.zeros(2, 5).long()),
    "nll-2d-target": lambda F, T: F.nll_loss(T.ones(2, 3), T.zeros(2, 1).long()),
    "ce-reduction": lambda F, T: F.cross_entropy(T.ones(2, 3), _ce_i(T, 0, 1), reduction="avg"),
    "kl-reduction": lambda F, T: F.kl_div(T.ones(2), T.ones(2), reduction="bm"),
    "gnll-var-size": lambda F, T: F.gaussian_nll_loss(T.ones(2, 3), T.ones(2, 3), T.ones(3)),
    "gnll-var-negative": lambda F, T: F.gaussian_nll_loss(T.ones(2, 3), T.ones(2, 3),
                                                          -T.ones(2, 3)),
    "gnll-var-negative-float": lambda F, T: F.gaussian_nll_loss(T.ones(2), T.ones(2), -1.0),
    "gnll-reduction": lambda F, T: F.gaussian_nll_loss(T.ones(2), T.ones(2), T.ones(2),
                                                       reduction="x"),
    "pnll-reduction": lambda F, T: F.poisson_nll_loss(T.ones(2), T.ones(2), reduction="x"),
    "cos-2d-target": lambda F, T: F.cosine_embedding_loss(T.ones(2, 3), T.ones(2, 3),
                                                          T.ones(2, 1)),
    "cos-3d-input": lambda F, T: F.cosine_embedding_loss(T.ones(2, 3, 4), T.ones(2, 3, 4),
                                                         T.ones(2)),
    "cos-mismatch": lambda F, T: F.cosine_embedding_loss(T.ones(2, 3), T.ones(2, 4), T.ones(2)),
    "mrl-dims": lambda F, T: F.margin_ranking_loss(T.ones(3), T.ones(3), T.ones(3, 1)),
    "soft_margin-shape": lambda F, T: F.soft_margin_loss(T.ones(3, 1), T.ones(3)),
    "triplet-dims": lambda F, T: F.triplet_margin_loss(T.ones(2, 3), T.ones(2, 3), T.ones(3)),
    "triplet-margin": lambda F, T: F.triplet_margin_loss(T.ones(2, 3), T.ones(2, 3),
                                                         T.ones(2, 3), margin=-1.0),
    "nll-1d-target-size": lambda F, T: F.nll_loss(T.zeros(3), _ce_i(T, 0, 1)),
    "mse-int-input": lambda F, T: F.mse_loss(_ce_i(T, 1, 2), _ce_i(T, 0, 0)),
    "huber-int-input": lambda F, T: F.huber_loss(_ce_i(T, 1, 2), _ce_i(T, 0, 0)),
    "l1-int-input": lambda F, T: F.l1_loss(_ce_i(T, 1, 2), _ce_i(T, 0, 0)),
    "ce-int-input": lambda F, T: F.cross_entropy(T.zeros(2, 3).long(), _ce_i(T, 0, 1)),
    "ce-bool-target": lambda F, T: F.cross_entropy(T.zeros(2, 3), T.tensor([True, False])),
    "mlsm-0d": lambda F, T: F.multilabel_soft_margin_loss(T.tensor(0.5), T.tensor(1.0)),
    "mm-p": lambda F, T: F.multi_margin_loss(T.ones(2, 3), _ce_i(T, 0, 1), p=3),
    "mm-negative": lambda F, T: F.multi_margin_loss(T.ones(2, 3), _ce_i(T, 0, -1)),
    "mm-too-big": lambda F, T: F.multi_margin_loss(T.ones(2, 3), _ce_i(T, 0, 3)),
    "mm-3d": lambda F, T: F.multi_margin_loss(T.ones(2, 3, 4), _ce_i(T, 0, 1)),
    "mm-target-size": lambda F, T: F.multi_margin_loss(T.ones(2, 3), _ce_i(T, 0, 1, 1)),
    "mm-float-target": lambda F, T: F.multi_margin_loss(T.ones(2, 3), T.tensor([0.0, 1.0])),
    "mm-weight-dims": lambda F, T: F.multi_margin_loss(T.ones(2, 3), _ce_i(T, 0, 1),
                                                       weight=T.ones(3, 1)),
    "mm-weight-size": lambda F, T: F.multi_margin_loss(T.ones(2, 3), _ce_i(T, 0, 1),
                                                       weight=T.ones(4)),
    "tmwd-margin": lambda F, T: F.triplet_margin_with_distance_loss(
        T.ones(2, 3), T.ones(2, 3), T.ones(2, 3), margin=0.0),
    "tmwd-dims": lambda F, T: F.triplet_margin_with_distance_loss(
        T.ones(2, 3), T.ones(2, 3), T.ones(3)),
    "tmwd-reduction": lambda F, T: F.triplet_margin_with_distance_loss(
        T.ones(2, 3), T.ones(2, 3), T.ones(2, 3), reduction="avg"),
    "mlm-out-of-range": lambda F, T: F.multilabel_margin_loss(T.ones(1, 3),
                                                              T.tensor([[0, -1, 5]])),
    "mlm-below-minus-one": lambda F, T: F.multilabel_margin_loss(T.ones(1, 3),
                                                                 T.tensor([[-2, 0, 1]])),
    "mlm-shape": lambda F, T: F.multilabel_margin_loss(T.ones(1, 3), T.tensor([[0, -1]])),
    "mlm-float-target": lambda F, T: F.multilabel_margin_loss(T.ones(1, 2), T.ones(1, 2)),
    "TripletMarginLoss-margin": lambda F, T: (nn if T is gg else torch.nn).TripletMarginLoss(
        margin=0.0),
}


@pytest.mark.parametrize("call", sorted(ERRORS))
def test_errors_have_torch_types(call):
    fn = ERRORS[call]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as want:
            fn(tF, torch)
        with pytest.raises(Exception) as got:
            fn(gF, gg)
    assert isinstance(got.value, type(want.value)), (got.value, want.value)
    name = call.split("-")[0]
    if name != "TripletMarginLoss":  # the message names the loss
        short = {"mse": "mse_loss", "l1": "l1_loss", "bce": "binary_cross_entropy", "ce":
                 "cross_entropy", "nll": "nll_loss", "kl": "kl_div", "gnll": "gaussian_nll_loss",
                 "pnll": "poisson_nll_loss", "cos": "cosine_embedding_loss",
                 "mrl": "margin_ranking_loss", "triplet": "triplet_margin_loss",
                 "huber": "huber_loss", "smooth_l1": "smooth_l1_loss",
                 "bce_logits": "binary_cross_entropy_with_logits",
                 "soft_margin": "soft_margin_loss", "mlsm": "multilabel_soft_margin_loss",
                 "mm": "multi_margin_loss", "tmwd": "triplet_margin_with_distance_loss",
                 "mlm": "multilabel_margin_loss"}[name]
        assert short in str(got.value)


def test_where_gpugrad_is_finite_and_torch_is_not():
    # soft_margin_loss: log(1 + exp(100)) is 100, not inf (PyTorch overflows in float32).
    x = gg.tensor([100.0, -100.0], requires_grad=True)
    loss = gF.soft_margin_loss(x, gg.tensor([-1.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [100.0, 100.0])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0])
    # poisson_nll_loss(full=True): Stirling's term is masked at target <= 1, its gradient too.
    t = gg.tensor([0.0, 2.0], dtype=gg.float64, requires_grad=True)
    gF.poisson_nll_loss(gg.zeros(2, dtype=gg.float64), t, full=True).backward()
    tt = torch.tensor([0.0, 2.0], dtype=torch.float64, requires_grad=True)
    tF.poisson_nll_loss(torch.zeros(2, dtype=torch.float64), tt, full=True).backward()
    assert t.grad.numpy()[0] == 0 and math.isnan(tt.grad.numpy()[0])
    assert t.grad.numpy()[1] == pytest.approx(tt.grad.numpy()[1], rel=1e-12)


def test_fused_and_general_cross_entropy_agree():
    # the fused node (no weight, targets in range) and the composite path give the same numbers
    x = gg.randn(6, 5, dtype=gg.float64, requires_grad=True)
    t = gg.tensor([0, 4, 2, 2, 1, 3])
    fused = gF.cross_entropy(x, t)
    general = gF.cross_entropy(x, t, weight=gg.ones(5, dtype=gg.float64))
    assert fused.item() == pytest.approx(general.item(), rel=1e-13)
    (g1,) = gg.autograd.grad(fused, [x])
    (g2,) = gg.autograd.grad(general, [x])
    np.testing.assert_allclose(g1.numpy(), g2.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("probabilities", [False, True])
def test_cross_entropy_weight_of_the_wrong_size_raises_as_torch(probabilities):
    x = np.zeros((2, 3))
    y = np.full((2, 3), 1 / 3) if probabilities else np.array([0, 2])
    with pytest.raises(RuntimeError, match=r"cross_entropy: weight tensor should be defined "
                       r"either for all 3 classes or no classes but got weight tensor of "
                       r"shape: \[2\]"):
        gF.cross_entropy(gg.tensor(x), gg.tensor(y), weight=gg.ones(2, dtype=gg.float64))
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 3 "
                       "classes or no classes"):
        torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(y),
                                          weight=torch.ones(2, dtype=torch.float64))
