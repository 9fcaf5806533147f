"""gpugrad.optim: each update rule against a NumPy transcription of its published form."""

import math

import numpy as np
import pytest

import gpugrad
from gpugrad import backend as B
from gpugrad import nn
from gpugrad.optim import SGD, Adam, AdamW
from gpugrad.optim.lr_scheduler import CosineAnnealingLR, StepLR

STEPS = 5


def grads(shape=(3, 2), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(STEPS)]


def run(opt_cls, p0, gs, device="cpu", **kw):
    """Apply `opt_cls` to a float64 parameter starting at p0, with the gradients gs."""
    p = gpugrad.tensor(p0, dtype=gpugrad.float64, device=device, requires_grad=True)
    opt = opt_cls([p], **kw)
    for g in gs:
        p.grad = gpugrad.tensor(g, device=device)
        opt.step()
    return p.detach().cpu().numpy()


# ----------------------------------------------------------------------------- references


def sgd_ref(
    p, gs, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False
):
    p, buf = p.copy(), None
    for g in gs:
        g = -g if maximize else g
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def adam_ref(
    p,
    gs,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    amsgrad=False,
    decoupled=False,
    maximize=False,
):
    """Kingma and Ba's Algorithm 1 (AMSGrad: Reddi et al.; AdamW: Loshchilov and Hutter)."""
    p = p.copy()
    b1, b2 = betas
    m = v = vmax = np.zeros_like(p)
    for t, g in enumerate(gs, 1):
        g = -g if maximize else g
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        m_hat = m / (1 - b1**t)
        v_hat = (vmax if amsgrad else v) / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.8, nesterov=True),
    dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
    dict(lr=0.1, momentum=0.5, maximize=True),
]


@pytest.mark.parametrize("kw", SGD_CASES, ids=lambda kw: ",".join(kw))
def test_sgd_matches_reference(kw, device):
    p0, gs = np.random.default_rng(1).standard_normal((3, 2)), grads()
    np.testing.assert_allclose(
        run(SGD, p0, gs, device, **kw), sgd_ref(p0, gs, **kw), rtol=1e-13, atol=1e-15
    )


ADAM_CASES = [
    dict(),
    dict(lr=0.01, betas=(0.8, 0.99)),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, amsgrad=True),
    dict(lr=0.01, amsgrad=True, weight_decay=0.05, eps=1e-3),
    dict(lr=0.01, maximize=True),
]


@pytest.mark.parametrize("kw", ADAM_CASES, ids=lambda kw: ",".join(kw) or "defaults")
def test_adam_matches_reference(kw, device):
    p0 = np.random.default_rng(1).standard_normal((3, 2))
    gs = grads()
    gs[2] = gs[2] * 0.01  # a small gradient: AMSGrad's max then differs from v
    np.testing.assert_allclose(
        run(Adam, p0, gs, device, **kw), adam_ref(p0, gs, **kw), rtol=1e-12, atol=1e-15
    )


@pytest.mark.parametrize(
    "kw", [dict(), dict(lr=0.01, weight_decay=0.1, amsgrad=True)], ids=["defaults", "wd,amsgrad"]
)
def test_adamw_matches_reference(kw, device):
    p0, gs = np.random.default_rng(1).standard_normal((3, 2)), grads()
    ref = adam_ref(p0, gs, decoupled=True, **{"weight_decay": 1e-2, **kw})
    np.testing.assert_allclose(run(AdamW, p0, gs, device, **kw), ref, rtol=1e-12, atol=1e-15)
    assert not np.allclose(
        run(Adam, p0, gs, weight_decay=0.1, lr=0.01), run(AdamW, p0, gs, weight_decay=0.1, lr=0.01)
    )


def test_first_steps_by_hand():
    # SGD with momentum 0.9, lr 0.1, gradient 1 each step: buffer 1, 1.9; p = 1 - 0.1 - 0.19
    p = gpugrad.tensor([1.0], requires_grad=True, dtype=gpugrad.float64)
    opt = SGD([p], lr=0.1, momentum=0.9)
    for _ in range(2):
        p.grad = gpugrad.ones(1, dtype=gpugrad.float64)
        opt.step()
    assert p.item() == pytest.approx(0.71, abs=1e-15)
    # Adam's first step moves every coordinate by lr (times g / (|g| + eps / ...)).
    q = gpugrad.tensor([1.0, -2.0], requires_grad=True, dtype=gpugrad.float64)
    adam = Adam([q], lr=0.5)
    q.grad = gpugrad.tensor([3.0, -0.25], dtype=gpugrad.float64)
    adam.step()
    np.testing.assert_allclose(q.tolist(), [0.5, -1.5], atol=1e-7)


def test_step_skips_params_without_grad_and_keeps_dtype_device(device):
    a = gpugrad.ones(2, device=device, requires_grad=True)
    b = gpugrad.ones(2, device=device, requires_grad=True)
    opt = Adam([a, b], lr=0.1)
    (a * 2).sum().backward()
    opt.step()
    assert b.tolist() == [1.0, 1.0] and a.tolist() != [1.0, 1.0]
    assert a.dtype == gpugrad.float32 and a.device == gpugrad.device(device)
    assert a.is_leaf and a.grad_fn is None
    assert opt.state[a]["exp_avg"].device == gpugrad.device(device) and b not in opt.state


def test_step_reads_nothing_back_from_the_device(monkeypatch):
    """The update path stays on the device: no .item(), .tolist(), float() or host copies."""
    model = nn.Linear(3, 2)
    opts = [
        SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
        Adam(model.parameters(), amsgrad=True, weight_decay=0.1),
        AdamW(model.parameters()),
    ]
    model(gpugrad.randn(4, 3)).sum().backward()

    def forbidden(*args, **kwargs):
        raise AssertionError("host sync in optimizer step")

    for name in ("item", "tolist", "numpy", "__float__", "__bool__", "__int__"):
        monkeypatch.setattr(gpugrad.Tensor, name, forbidden)
    monkeypatch.setattr(B, "to_numpy", forbidden)
    for opt in opts:
        for _ in range(2):
            opt.step()


def test_closure_and_zero_grad():
    p = gpugrad.tensor([2.0], requires_grad=True)
    opt = SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with gpugrad.no_grad():
        loss = opt.step(closure)  # the closure runs with grad enabled
    assert loss.item() == 4.0 and p.item() == 1.0
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0]
    opt.zero_grad()
    assert p.grad is None


def test_param_groups_override_defaults():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    opt = SGD(
        [{"params": a.parameters()}, {"params": b.parameters(), "lr": 1.0}], lr=0.1, momentum=0.5
    )
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0]
    assert opt.param_groups[1]["momentum"] == 0.5
    assert "Parameter Group 1" in repr(opt)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a.weight]})
    assert SGD(a.parameters()).defaults["lr"] == 1e-3  # PyTorch 2.x's default


def test_bad_params_are_rejected():
    leaf = gpugrad.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"can't optimize a non-leaf Tensor \(parameter 1"):
        SGD([leaf, leaf * 2], lr=0.1)
    with pytest.raises(ValueError, match=r"dtype gpugrad.int64 \(parameter 0\)"):
        Adam([gpugrad.arange(3)])
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([])
    with pytest.raises(TypeError, match="iterable of Tensors"):
        Adam(leaf)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        SGD([leaf], lr=-1.0)
    with pytest.raises(ValueError, match="Nesterov"):
        SGD([leaf], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        Adam([leaf], betas=(0.9, 1.0))


@pytest.mark.parametrize(
    "make",
    [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.01, amsgrad=True)],
    ids=["sgd", "adam"],
)
def test_state_dict_resume_is_exact(make, tmp_path):
    p0, gs = np.random.default_rng(2).standard_normal(4), grads((4,), seed=3)

    def new():
        p = gpugrad.tensor(p0, dtype=gpugrad.float64, requires_grad=True)
        return p, make([p])

    p, opt = new()
    for g in gs:
        p.grad = gpugrad.tensor(g)
        opt.step()
    straight = p.tolist()

    p, opt = new()
    for g in gs[:2]:
        p.grad = gpugrad.tensor(g)
        opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0] and list(sd["state"]) == [0]
    gpugrad.save({"p": p, "opt": sd}, tmp_path / "ckpt.gpugrad")
    ckpt = gpugrad.load(tmp_path / "ckpt.gpugrad")
    p, opt = new()
    with gpugrad.no_grad():
        p.copy_(ckpt["p"])
    opt.load_state_dict(ckpt["opt"])
    for g in gs[2:]:
        p.grad = gpugrad.tensor(g)
        opt.step()
    assert p.tolist() == straight


def test_load_state_dict_checks_groups_and_copies():
    a = gpugrad.ones(2, requires_grad=True)
    opt = SGD([a], lr=0.1, momentum=0.9)
    a.grad = gpugrad.ones(2)
    opt.step()
    sd = opt.state_dict()
    b = gpugrad.ones(2, requires_grad=True, dtype=gpugrad.float64)
    other = SGD([b], lr=0.5, momentum=0.1)
    other.load_state_dict(sd)
    assert other.param_groups[0]["lr"] == 0.1 and other.param_groups[0]["momentum"] == 0.9
    buf = other.state[b]["momentum_buffer"]
    assert buf.dtype == gpugrad.float64  # cast to the parameter's dtype
    assert buf.tolist() == [1.0, 1.0]
    opt.state[a]["momentum_buffer"].fill_(5.0)
    assert buf.tolist() == [1.0, 1.0]  # a copy
    with pytest.raises(ValueError, match="parameter group"):
        SGD([b, gpugrad.ones(1, requires_grad=True)], lr=0.1).load_state_dict(sd)


def test_lr_schedulers():
    p = gpugrad.ones(1, requires_grad=True)
    opt = SGD([p], lr=1.0)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(6):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert opt.param_groups[0]["lr"] == 0.125

    opt = Adam([p], lr=0.1)
    sched = CosineAnnealingLR(opt, T_max=4, eta_min=0.02)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(4):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    ref = [0.02 + 0.08 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)]
    np.testing.assert_allclose(lrs, ref, rtol=1e-15)
    state = sched.state_dict()
    resumed = CosineAnnealingLR(Adam([p], lr=0.1), T_max=4, eta_min=0.02)
    resumed.load_state_dict(state)
    assert resumed.last_epoch == 4 and resumed.get_last_lr() == sched.get_last_lr()
