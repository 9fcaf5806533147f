"""In-place optimizer steps: the ops they are written with (``addcmul``, ``addcdiv``, ``lerp``
and their in-place variants) against torch; SGD's and Adam's trajectories against torch over 20
float64 steps to 1e-12; and the memory a step allocates, so that a regression to out-of-place
updates fails."""

import tracemalloc

import numpy as np
import pytest

import gpugrad
from gpugrad import optim

torch = pytest.importorskip("torch")

# ----------------------------------------------------------------------------- the ops


def _both(draws):
    """The same float64 leaves in gpugrad and in torch."""
    ours = [gpugrad.tensor(a, dtype=gpugrad.float64, requires_grad=True) for a in draws]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in draws]
    return ours, theirs


OPS = {
    "addcmul": lambda m, x, y, z: m.addcmul(x, y, z, value=-0.7),
    "addcmul-method-value1": lambda m, x, y, z: x.addcmul(y, z),
    "addcmul_": lambda m, x, y, z: (x * 1).addcmul_(y, z, value=2.5),
    "addcdiv": lambda m, x, y, z: m.addcdiv(x, y, z, value=0.3),
    "addcdiv_": lambda m, x, y, z: (x * 1).addcdiv_(y, z, value=-1.5),
    "lerp-small": lambda m, x, y, z: m.lerp(x, y, 0.2),
    "lerp-large": lambda m, x, y, z: x.lerp(y, 0.9),
    "lerp-tensor": lambda m, x, y, z: m.lerp(x, y, z),
    "lerp_-small": lambda m, x, y, z: (x * 1).lerp_(y, -0.3),
    "lerp_-large": lambda m, x, y, z: (x * 1).lerp_(y, 1.0),
    "lerp_-tensor": lambda m, x, y, z: (x * 1).lerp_(y, z),
}
SHAPES = {"same": ((3, 4), (3, 4), (3, 4)), "broadcast": ((3, 4), (3, 1), (4,))}


@pytest.mark.parametrize("shapes", SHAPES, ids=list(SHAPES))
@pytest.mark.parametrize("name", OPS, ids=list(OPS))
def test_values_and_gradients_match_torch(name, shapes):
    rng = np.random.default_rng(3)
    draws = [rng.uniform(0.5, 2.0, s) * rng.choice([-1, 1], s) for s in SHAPES[shapes]]
    (x, y, z), (tx, ty, tz) = _both(draws)
    out, tout = OPS[name](gpugrad, x, y, z), OPS[name](torch, tx, ty, tz)
    # (PyTorch's kernels fuse a multiply-add: the last bit may differ)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-13,
                               atol=1e-15)
    assert out.dtype == gpugrad.float64 and tuple(out.shape) == tuple(tout.shape)
    assert out.grad_fn.name() == tout.grad_fn.name()
    c = rng.standard_normal(tuple(tout.shape))
    leaves, tleaves = [x, y, z], [tx, ty, tz]
    used = [t.grad_fn is not None or t.requires_grad for t in tleaves]
    g = gpugrad.autograd.grad((out * gpugrad.tensor(c)).sum(), leaves, allow_unused=True)
    tg = torch.autograd.grad((tout * torch.tensor(c)).sum(), tleaves, allow_unused=True)
    assert all(used)
    for a, b in zip(g, tg):
        assert (a is None) == (b is None)
        if b is not None:
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-13, atol=1e-15)


DTYPE_CASES = [
    # (call, dtype names of input, tensor1, tensor2)
    (lambda m, a, b, c: m.addcmul(a, b, c, value=2), ("int64", "int64", "int64")),
    (lambda m, a, b, c: m.addcmul(a, b, c, value=0.5), ("int64", "float32", "float32")),
    (lambda m, a, b, c: m.addcmul(a, b, c, value=0.5), ("float64", "int64", "int64")),
    (lambda m, a, b, c: m.addcmul(a, b, c, value=3), ("float32", "float64", "float32")),
    (lambda m, a, b, c: m.addcdiv(a, b, c, value=0.5), ("int64", "int64", "float32")),
    (lambda m, a, b, c: m.addcdiv(a, b, c), ("int64", "float64", "float64")),
    (lambda m, a, b, c: a.clone().addcmul_(b, c, value=0.25), ("float32", "float64", "float64")),
    (lambda m, a, b, c: a.clone().addcdiv_(b, c, value=2), ("float64", "float32", "float32")),
]


@pytest.mark.parametrize("call,dts", DTYPE_CASES)
def test_dtype_promotion_matches_torch(call, dts):
    vals = ([3, -1, 2], [5, 7, -3], [2, 4, 6])
    out = call(gpugrad, *(gpugrad.tensor(v, dtype=getattr(gpugrad, d)) for v, d in zip(vals, dts)))
    ref = call(torch, *(torch.tensor(v, dtype=getattr(torch, d)) for v, d in zip(vals, dts)))
    assert out.dtype.name == str(ref.dtype).removeprefix("torch.")
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-7)


ERRORS = [
    ("addcdiv-int-int", lambda m: m.addcdiv(m.ones(3), m.ones(3, dtype=m.int64),
                                            m.ones(3, dtype=m.int64)), RuntimeError, "addcdiv"),
    ("addcmul-value-str", lambda m: m.addcmul(m.ones(3), m.ones(3), m.ones(3), value="x"),
     TypeError, "value"),
    ("addcdiv-value-none", lambda m: m.addcdiv(m.ones(3), m.ones(3), m.ones(3), value=None),
     TypeError, "value"),
    ("addcmul-tensor2-float", lambda m: m.addcmul(m.ones(3), m.ones(3), 2.0), TypeError,
     "tensor2"),
    ("addcmul-shapes", lambda m: m.addcmul(m.ones(3), m.ones(2), m.ones(3)), RuntimeError,
     "addcmul|mul"),
    ("addcmul_-broadcast-target", lambda m: m.ones(3, 1).addcmul_(m.ones(1, 2), m.ones(2)),
     RuntimeError, "addcmul_"),
    ("addcdiv_-int-target", lambda m: m.ones(3, dtype=m.int64).addcdiv_(m.ones(3), m.ones(3)),
     RuntimeError, "addcdiv_"),
    ("lerp_-broadcast-target", lambda m: m.ones(3).lerp_(m.ones(2, 3), 0.5), RuntimeError,
     "lerp_"),
    ("addcmul-bool", lambda m: m.addcmul(*(m.ones(3, dtype=m.bool),) * 3),
     (TypeError, NotImplementedError), "addcmul"),
]


@pytest.mark.parametrize("call,exc,words", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_inputs_raise_as_in_torch(call, exc, words):
    with pytest.raises(Exception) as theirs:
        call(torch)
    assert isinstance(theirs.value, exc)
    with pytest.raises(exc, match=words):
        call(gpugrad)


def test_float_value_with_integer_tensors_is_refused():
    """PyTorch truncates the value (1 + 0.5 * 3 * 2 gives 1); gpugrad refuses rather than
    change the value silently."""
    i = torch.tensor([1]), torch.tensor([3]), torch.tensor([2])
    assert torch.addcmul(*i, value=0.5).tolist() == [1]
    with pytest.raises(TypeError, match="addcmul: value 0.5 is a float"):
        gpugrad.addcmul(*(gpugrad.tensor(t.tolist()) for t in i), value=0.5)


@pytest.mark.parametrize("method", ["addcmul_", "addcdiv_", "lerp_"])
def test_in_place_on_a_leaf_that_requires_grad_raises(method):
    args = {"lerp_": (0.5,)}.get(method, ())
    for m in (torch, gpugrad):
        p = m.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            getattr(p, method)(m.ones(3), *args or (m.ones(3),))
        with m.no_grad():  # as an optimizer does: allowed, and the values change
            getattr(p, method)(m.full((3,), 2.0), *args or (m.full((3,), 4.0),))
        assert p.tolist() == ([1.5] * 3 if method == "lerp_" else
                              [9.0] * 3 if method == "addcmul_" else [1.5] * 3)


def test_in_place_writes_into_the_storage():
    x = gpugrad.zeros(4, dtype=gpugrad.float64)
    data = x.numpy()
    before = x._version
    assert x.addcmul_(gpugrad.ones(4, dtype=gpugrad.float64), gpugrad.full((4,), 3.0),
                      value=2) is x
    assert x.lerp_(gpugrad.zeros(4, dtype=gpugrad.float64), 0.75) is x
    assert x.addcdiv_(gpugrad.ones(4, dtype=gpugrad.float64), gpugrad.full((4,), 2.0)) is x
    assert data.tolist() == [2.0] * 4 and x._version == before + 3


# ----------------------------------------------------------------------------- trajectories

SETTINGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True, weight_decay=0.1)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-3)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True)),
    ("Adam", dict(lr=0.05, maximize=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.2, amsgrad=True, maximize=True)),
    # the others written with the same in-place ops
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01, maximize=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1)),
    ("Adamax", dict(lr=0.05, weight_decay=0.1)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1)),
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1)),
]


def _trajectory(lib, name, kw, steps=20):
    """`steps` updates of a float64 parameter whose gradient depends on it (so that rounding
    differences would compound), with one tiny gradient (AMSGrad's max then differs from v)."""
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal((7, 5))
    gs = [rng.standard_normal((7, 5)) for _ in range(steps)]
    gs[3] *= 1e-3
    p = lib.tensor(p0, dtype=lib.float64, requires_grad=True)
    opt = getattr(lib.optim, name)([p], **kw)
    out = []
    for g in gs:
        p.grad = lib.tensor(g + 0.3 * p.detach().numpy(), dtype=lib.float64)
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.array(out)


@pytest.mark.parametrize("name,kw", SETTINGS,
                         ids=[f"{n}-{','.join(kw) or 'defaults'}" for n, kw in SETTINGS])
def test_twenty_steps_match_torch_to_1e_12(name, kw):
    """PyTorch's CPU kernels fuse a multiply-add (``add_(alpha=)``, ``addcmul_``, ``lerp_``)
    that NumPy rounds twice, so bits can differ in the last place; nothing more."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps NAdam's mu_product in it
    try:
        theirs = _trajectory(torch, name, kw)
    finally:
        torch.set_default_dtype(old)
    ours = _trajectory(gpugrad, name, kw)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    assert np.abs(ours[-1] - ours[0]).max() > 1e-3  # it moved


# ----------------------------------------------------------------------------- memory

N = 1 << 20  # elements: an 8 MiB float64 parameter, far above any bookkeeping
SLACK = 256 * 1024


def _peak_of_step(opt_cls, steps_before=2, **kw):
    """The peak memory a step allocates beyond what was live, in units of the parameter's
    bytes (NumPy reports its buffers to tracemalloc). Earlier steps create the state."""
    p = gpugrad.zeros(N, dtype=gpugrad.float64, requires_grad=True)
    opt = opt_cls([p], **kw)
    p.grad = gpugrad.full((N,), 0.5, dtype=gpugrad.float64)
    for _ in range(steps_before):
        opt.step()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        opt.step()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    nbytes = N * 8
    assert current - base < SLACK  # nothing param-sized is left behind
    return (peak - base - SLACK) / nbytes


# (optimizer, settings, the temporaries its formula needs at once, in parameter sizes)
BUDGETS = [
    # p.add_(buf, alpha=-lr): one (NumPy has no in-place axpy)
    (optim.SGD, dict(lr=0.1, momentum=0.9), 1),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.5), 1),
    # d = wd p + g, then d + momentum buf, then alpha d: two at once
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1), 2),
    # denom, and the numerator value * m inside addcdiv_
    (optim.Adam, dict(lr=0.1), 2),
    (optim.Adam, dict(lr=0.1, amsgrad=True), 2),
    (optim.AdamW, dict(lr=0.1, weight_decay=0.1), 2),
    # g = wd p + g, with denom and the numerator
    (optim.Adam, dict(lr=0.1, weight_decay=0.1), 3),
]


@pytest.mark.parametrize("opt_cls,kw,budget", BUDGETS,
                         ids=[f"{c.__name__}-{','.join(kw)}" for c, kw, _ in BUDGETS])
def test_step_allocates_only_the_formulas_temporaries(opt_cls, kw, budget):
    """A step updates the state and the parameter in place: its peak extra memory is at most
    the temporaries its formula needs (an out-of-place ``m = beta1 * m + ...`` or ``p = p -
    ...`` would add at least one more parameter-sized array)."""
    assert _peak_of_step(opt_cls, **kw) <= budget


def test_the_memory_test_sees_an_out_of_place_update():
    """The measurement itself: gpugrad's former Adam step (``add_(g * g, alpha=)`` and
    ``p.add_(m / denom, alpha=)``, each making a temporary of a temporary) goes over the
    budget of the in-place one."""

    class FormerAdam(optim.Adam):
        def step(self, closure=None):
            with gpugrad.no_grad():
                for group in self.param_groups:
                    b1, b2 = group["betas"]
                    for p, g, state in self._params(group, "exp_avg", "exp_avg_sq"):
                        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
                        m.mul_(b1).add_(g, alpha=1 - b1)
                        v.mul_(b2).add_(g * g, alpha=1 - b2)
                        denom = v.sqrt().div_((1 - b2**t) ** 0.5).add_(group["eps"])
                        p.add_(m / denom, alpha=-group["lr"] / (1 - b1**t))

    assert _peak_of_step(FormerAdam, lr=0.1) > 2.5


@pytest.mark.parametrize("opt_cls,kw", [(optim.SGD, dict(lr=0.1, momentum=0.9)),
                                        (optim.Adam, dict(lr=0.1, amsgrad=True)),
                                        (optim.AdamW, dict(lr=0.1))])
def test_state_and_parameter_keep_their_storage(opt_cls, kw):
    """Every buffer is updated where it lives: no step replaces a state tensor or the
    parameter's array by a new one."""
    p = gpugrad.ones(6, dtype=gpugrad.float64, requires_grad=True)
    opt = opt_cls([p], **kw)
    p.grad = gpugrad.full((6,), 0.5, dtype=gpugrad.float64)
    opt.step()
    arrays = {"param": p._data, **{k: v._data for k, v in opt.state[p].items()
                                   if isinstance(v, gpugrad.Tensor)}}
    before = p.tolist()
    for _ in range(3):
        opt.step()
    assert p.tolist() != before
    now = {"param": p._data, **{k: v._data for k, v in opt.state[p].items()
                                if isinstance(v, gpugrad.Tensor)}}
    assert {k: a is now[k] for k, a in arrays.items()} == dict.fromkeys(arrays, True)
