"""Every optimizer in gpugrad.optim against torch.optim, step by step on the same problem in
float64: the same parameters after each step, the same state (keys and values), state dicts
that resume exactly, and PyTorch's errors for bad hyperparameters."""

import math

import numpy as np
import pytest

import gpugrad
from gpugrad import optim

torch = pytest.importorskip("torch")

STEPS = 8


@pytest.fixture(autouse=True)
def torch_float64():
    """torch keeps some scalar state (NAdam's mu_product) in the default dtype."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def problem(lib):
    """A smooth, non-quadratic loss of two parameters (a matrix and a vector), and the
    parameters' starting values, in `lib` (gpugrad or torch)."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    w0, b0 = rng.standard_normal((3, 2)), rng.standard_normal(2)

    def t(a, **kw):
        return lib.tensor(a, dtype=lib.float64, **kw)

    w, b = t(w0, requires_grad=True), t(b0, requires_grad=True)
    X, Y = t(X), t(Y)

    def loss():
        r = X @ w + b - Y
        return (r * r).mean() + 0.05 * (w**4).sum() + (b * b).sum().sqrt()

    return [w, b], loss


def numpy_of(p):
    return p.detach().cpu().numpy() if hasattr(p, "cpu") else np.asarray(p)


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict()),  # PyTorch 2.x's default lr, 1e-3
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True)),
    ("Adam", dict(lr=0.05, maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.2, amsgrad=True, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.5, eps=1e-6)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-4, weight_decay=0.1)),
    ("Adamax", dict(lr=0.05, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.05, betas=(0.8, 0.95), momentum_decay=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.05, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)),  # rho_t > 5 from step 6
    ("RAdam", dict(lr=0.05, betas=(0.5, 0.6), weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.05, betas=(0.7, 0.7), maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.5, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))),
    ("Rprop", dict(lr=0.05, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=3, weight_decay=0.1)),
    ("ASGD", dict(lr=0.05, t0=0, maximize=True)),
]
IDS = [f"{name}-{','.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in CASES]


def make(lib, name, kw, groups=False):
    params, loss = problem(lib)
    if groups:  # a second group with its own lr (and weight decay where the optimizer has it)
        extra = {"lr": 0.02}
        if name != "SGD" or kw:
            extra["weight_decay"] = 0.03
        opt = getattr(lib.optim, name)([{"params": [params[0]]}, {"params": [params[1]], **extra}],
                                       **kw)
    else:
        opt = getattr(lib.optim, name)(params, **kw)
    return params, loss, opt


def train(params, loss, opt, steps):
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss().backward()
        opt.step()
        out.append([numpy_of(p).copy() for p in params])
    return out


@pytest.mark.parametrize("groups", [False, True], ids=["one-group", "two-groups"])
@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_trajectory_matches_torch(name, kw, groups):
    ours = train(*make(gpugrad, name, kw, groups), STEPS)
    theirs = train(*make(torch, name, kw, groups), STEPS)
    for step, (a, b) in enumerate(zip(ours, theirs), 1):
        for pa, pb in zip(a, b):
            np.testing.assert_allclose(pa, pb, rtol=1e-10, atol=1e-12, err_msg=f"step {step}")
    assert not np.allclose(ours[-1][0], ours[0][0])  # the parameters did move


def _plain(v):
    if isinstance(v, (gpugrad.Tensor, torch.Tensor)):
        return numpy_of(v)
    return v


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_state_and_state_dict_match_torch(name, kw):
    ours, theirs = make(gpugrad, name, kw, groups=True), make(torch, name, kw, groups=True)
    train(*ours, 3)
    train(*theirs, 3)
    sd, tsd = ours[2].state_dict(), theirs[2].state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert [g["params"] for g in tsd["param_groups"]] == [[0], [1]]
    for g, tg in zip(sd["param_groups"], tsd["param_groups"]):
        assert set(g) <= set(tg), set(g) - set(tg)
        assert {k: g[k] for k in g} == {k: tg[k] for k in g}
    assert sorted(sd["state"]) == sorted(tsd["state"])
    for i, st in sd["state"].items():
        tst = tsd["state"][i]
        assert set(st) == set(tst), (set(st), set(tst))
        for k in st:
            np.testing.assert_allclose(_plain(st[k]), _plain(tst[k]), rtol=1e-10, atol=1e-13,
                                       err_msg=k)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_state_dict_resume_is_exact(name, kw, tmp_path):
    straight = train(*make(gpugrad, name, kw, groups=True), STEPS)[-1]

    params, loss, opt = make(gpugrad, name, kw, groups=True)
    train(params, loss, opt, 3)
    gpugrad.save({"params": params, "opt": opt.state_dict()}, tmp_path / "ckpt")
    ckpt = gpugrad.load(tmp_path / "ckpt")
    params, loss, opt = make(gpugrad, name, {**kw, "lr": 0.5}, groups=True)  # lr from the file
    with gpugrad.no_grad():
        for p, v in zip(params, ckpt["params"]):
            p.copy_(v)
    opt.load_state_dict(ckpt["opt"])
    resumed = train(params, loss, opt, STEPS - 3)[-1]
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name,kw", [
    ("Adam", dict(lr=0.05, amsgrad=True)), ("NAdam", dict(lr=0.05)), ("Adagrad", dict()),
    ("ASGD", dict(lr=0.05, t0=1)), ("Rprop", dict(lr=0.05)), ("SGD", dict(momentum=0.9)),
], ids=["Adam", "NAdam", "Adagrad", "ASGD", "Rprop", "SGD"])
def test_torch_state_dict_loads_into_gpugrad(name, kw):
    """A state dict written by torch (tensors converted to gpugrad; its step, mu_product, eta
    and mu are 0-d tensors) continues identically."""
    tparams, tloss, topt = make(torch, name, kw)
    train(tparams, tloss, topt, 3)
    tsd = topt.state_dict()
    conv = {
        "state": {i: {k: gpugrad.tensor(v.numpy()) if isinstance(v, torch.Tensor) else v
                      for k, v in st.items()} for i, st in tsd["state"].items()},
        "param_groups": tsd["param_groups"],
    }
    params, loss, opt = make(gpugrad, name, kw)
    with gpugrad.no_grad():
        for p, tp in zip(params, tparams):
            p.copy_(gpugrad.tensor(tp.detach().numpy()))
    opt.load_state_dict(conv)
    for st in opt.state.values():
        assert all(isinstance(st[k], (int, float)) for k in ("step", "mu_product", "eta", "mu")
                   if k in st)
    ours = train(params, loss, opt, 3)[-1]
    theirs = train(tparams, tloss, topt, 3)[-1]
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10)


# ------------------------------------------------------------------ hyperparameter validation

NAN, INF = float("nan"), float("inf")
BAD = [
    ("Adam", dict(lr=NAN)),
    ("Adam", dict(lr=-1e-3)),
    ("Adam", dict(eps=-1.0)),
    ("Adam", dict(eps=NAN)),
    ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, NAN))),
    ("Adam", dict(betas=(-0.1, 0.9))),
    ("Adam", dict(betas=(0, 0.9))),  # ints: "both floats or both Tensors"
    ("Adam", dict(weight_decay=-0.1)),
    ("Adam", dict(weight_decay=NAN)),
    ("AdamW", dict(lr=NAN)),
    ("AdamW", dict(betas=(0.9, 1.5))),
    ("AdamW", dict(weight_decay=-1.0)),
    ("SGD", dict(lr=-0.1)),
    ("SGD", dict(momentum=-0.5)),
    ("SGD", dict(weight_decay=-1e-4)),
    ("SGD", dict(nesterov=True)),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1)),
    ("RMSprop", dict(lr=NAN)),
    ("RMSprop", dict(alpha=-0.5)),
    ("RMSprop", dict(eps=-1e-8)),
    ("RMSprop", dict(momentum=NAN)),
    ("RMSprop", dict(weight_decay=-1.0)),
    ("Adagrad", dict(lr=-INF)),
    ("Adagrad", dict(lr_decay=-0.1)),
    ("Adagrad", dict(initial_accumulator_value=-1.0)),
    ("Adagrad", dict(eps=NAN)),
    ("Adagrad", dict(weight_decay=NAN)),
    ("Adamax", dict(lr=NAN)),
    ("Adamax", dict(betas=(0.9, 1.0))),
    ("Adamax", dict(eps=-1.0)),
    ("Adamax", dict(weight_decay=-0.5)),
    ("NAdam", dict(lr=NAN)),
    ("NAdam", dict(betas=(NAN, 0.9))),
    ("NAdam", dict(momentum_decay=-1e-3)),
    ("NAdam", dict(eps=-1.0)),
    ("NAdam", dict(weight_decay=-1.0)),
    ("RAdam", dict(lr=NAN)),
    ("RAdam", dict(betas=(0.9, 1.0))),
    ("RAdam", dict(eps=-1.0)),
    ("RAdam", dict(weight_decay=NAN)),
    ("Adadelta", dict(lr=NAN)),
    ("Adadelta", dict(rho=1.5)),
    ("Adadelta", dict(rho=NAN)),
    ("Adadelta", dict(eps=-1.0)),
    ("Adadelta", dict(weight_decay=-1.0)),
    ("Rprop", dict(lr=NAN)),
    ("Rprop", dict(etas=(1.0, 1.2))),
    ("Rprop", dict(etas=(0.5, 0.9))),
    ("ASGD", dict(lr=-1.0)),
    ("ASGD", dict(weight_decay=NAN)),
    ("LBFGS", dict(lr=NAN)),
    ("LBFGS", dict(lr=-1.0)),
]


@pytest.mark.parametrize("name,kw", BAD, ids=[f"{n}-{kw}" for n, kw in BAD])
def test_bad_hyperparameters_raise_as_in_torch(name, kw):
    with pytest.raises(Exception) as theirs:
        getattr(torch.optim, name)([torch.ones(2, requires_grad=True)], **kw)
    with pytest.raises(type(theirs.value)) as ours:
        getattr(optim, name)([gpugrad.ones(2, requires_grad=True)], **kw)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize(
    "name,kw",
    [("SGD", dict(lr=NAN)), ("SGD", dict(lr=0.0)), ("Adam", dict(lr=0.0, betas=(0.0, 0.0))),
     ("Adam", dict(eps=INF)), ("RMSprop", dict(alpha=2.0)), ("Adagrad", dict(lr=INF))],
)
def test_values_torch_accepts_are_accepted(name, kw):
    """PyTorch's SGD checks ``lr < 0`` (NaN passes); its others check ``not 0 <= x``."""
    getattr(torch.optim, name)([torch.ones(2, requires_grad=True)], **kw)
    opt = getattr(optim, name)([gpugrad.ones(2, requires_grad=True)], **kw)
    assert opt.param_groups[0]["lr"] is kw.get("lr", opt.defaults["lr"])


def test_defaults_match_torch():
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam",
                 "Adadelta", "Rprop", "ASGD", "LBFGS"):
        ours = getattr(optim, name)([gpugrad.ones(2, requires_grad=True)]).defaults
        theirs = getattr(torch.optim, name)([torch.ones(2, requires_grad=True)]).defaults
        assert set(ours) <= set(theirs), (name, set(ours) - set(theirs))
        assert {k: ours[k] for k in ours} == {k: theirs[k] for k in ours}, name


# ------------------------------------------------------------------ the Optimizer base


def test_add_param_group_and_zero_grad():
    a, b = gpugrad.ones(2, requires_grad=True), gpugrad.ones(3, requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["lr"] == 0.01
    (a.sum() + 2 * b.sum()).backward()
    opt.step()
    np.testing.assert_allclose(b.tolist(), [0.98] * 3)
    with pytest.raises(ValueError, match="some parameters appear in more than one"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([a])
    with pytest.raises(TypeError, match="ordered collections"):
        opt.add_param_group({"params": {gpugrad.ones(1, requires_grad=True)}})
    opt.zero_grad(set_to_none=False)
    assert a.grad.tolist() == [0.0, 0.0] and b.grad.tolist() == [0.0] * 3
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_lbfgs_refuses_a_second_group():
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": [gpugrad.ones(1, requires_grad=True)]},
                     {"params": [gpugrad.ones(1, requires_grad=True)]}])


def test_adagrad_builds_its_state_at_construction():
    p = gpugrad.ones(3, requires_grad=True, dtype=gpugrad.float64)
    opt = optim.Adagrad([p], initial_accumulator_value=0.25)
    assert opt.state[p]["step"] == 0 and opt.state[p]["sum"].tolist() == [0.25] * 3
    assert math.isclose(opt.defaults["eps"], 1e-10)


# ------------------------------------------------------------------ devices and host syncs


def _on(device, name, kw):
    """`name`'s trajectory on `problem`'s loss, run on `device` (float64)."""
    params, _ = problem(gpugrad)
    params = [p.detach().to(device).requires_grad_() for p in params]
    w, b = params
    rng = np.random.default_rng(0)
    X = gpugrad.tensor(rng.standard_normal((16, 3)), dtype=gpugrad.float64, device=device)
    Y = gpugrad.tensor(rng.standard_normal((16, 2)), dtype=gpugrad.float64, device=device)

    def loss():
        r = X @ w + b - Y
        return (r * r).mean() + 0.05 * (w**4).sum() + (b * b).sum().sqrt()

    opt = getattr(optim, name)(params, **kw)
    out = train(params, loss, opt, 4)
    assert all(s.device == gpugrad.device(device) for st in opt.state.values()
               for s in st.values() if isinstance(s, gpugrad.Tensor))
    return out


@pytest.mark.parametrize("name,kw", [c for c in CASES if c[1]], ids=[i for i, c in zip(IDS, CASES)
                                                                     if c[1]])
def test_device_matches_cpu(name, kw, device):
    for a, b in zip(_on(device, name, kw)[-1], _on("cpu", name, kw)[-1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_step_reads_nothing_back_from_the_device(monkeypatch):
    """The update path stays on the device: no .item(), .tolist(), float() or host copies."""
    from gpugrad import backend as B

    model = gpugrad.nn.Linear(3, 2)
    ps = list(model.parameters())
    opts = [
        optim.RMSprop(ps, momentum=0.9, centered=True, weight_decay=0.1),
        optim.Adagrad(ps, lr_decay=0.1, weight_decay=0.1),
        optim.Adamax(ps, weight_decay=0.1),
        optim.NAdam(ps, weight_decay=0.1),
        optim.NAdam(ps, weight_decay=0.1, decoupled_weight_decay=True),
        optim.Adam(ps, weight_decay=0.1, decoupled_weight_decay=True),
        optim.RAdam(ps, betas=(0.5, 0.6), weight_decay=0.1),
        optim.Adadelta(ps, weight_decay=0.1),
        optim.Rprop(ps),
        optim.ASGD(ps, t0=0, weight_decay=0.1),
    ]
    model(gpugrad.randn(4, 3)).sum().backward()

    def forbidden(*args, **kwargs):
        raise AssertionError("host sync in optimizer step")

    for attr in ("item", "tolist", "numpy", "__float__", "__bool__", "__int__"):
        monkeypatch.setattr(gpugrad.Tensor, attr, forbidden)
    monkeypatch.setattr(B, "to_numpy", forbidden)
    for opt in opts:
        for _ in range(2):
            opt.step()
