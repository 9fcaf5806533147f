"""gpugrad.optim.lr_scheduler against torch.optim.lr_scheduler: the same learning rates (and
OneCycleLR's momentum or beta1) at every step, for each schedule alone, chained and in
sequence; ``step(epoch)``'s closed forms; state dicts that resume identically; PyTorch's
errors and warnings."""

import math
import warnings

import pytest

import gpugrad
from gpugrad.optim import lr_scheduler as S

torch = pytest.importorskip("torch")

STEPS = 15


def optimizer(lib, kind="sgd"):
    a = lib.ones(2, requires_grad=True)
    b = lib.ones(3, requires_grad=True)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.05}]
    if kind == "adam":
        return lib.optim.Adam(groups, lr=0.1)
    return lib.optim.SGD(groups, lr=0.1, momentum=0.9)


SCHEDULES = {
    "StepLR": ("sgd", lambda m, o: m.StepLR(o, step_size=3, gamma=0.5)),
    "MultiStepLR": ("sgd", lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3)),
    "ExponentialLR": ("adam", lambda m, o: m.ExponentialLR(o, gamma=0.9)),
    "LambdaLR": ("sgd", lambda m, o: m.LambdaLR(
        o, lr_lambda=[lambda e: 1 / (e + 1), lambda e: 0.9**e])),
    "MultiplicativeLR": ("sgd", lambda m, o: m.MultiplicativeLR(o, lr_lambda=lambda e: 0.95)),
    "CosineAnnealingLR": ("sgd", lambda m, o: m.CosineAnnealingLR(o, T_max=5, eta_min=0.01)),
    "ConstantLR": ("sgd", lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4)),
    "LinearLR": ("adam", lambda m, o: m.LinearLR(o, start_factor=0.2, end_factor=0.9,
                                                 total_iters=6)),
    "PolynomialLR": ("sgd", lambda m, o: m.PolynomialLR(o, total_iters=6, power=2.0)),
    "OneCycleLR-cos-momentum": ("sgd", lambda m, o: m.OneCycleLR(
        o, max_lr=[1.0, 0.5], total_steps=STEPS)),
    "OneCycleLR-linear-three-phase-betas": ("adam", lambda m, o: m.OneCycleLR(
        o, max_lr=0.3, total_steps=STEPS + 2, anneal_strategy="linear", three_phase=True,
        pct_start=0.25, base_momentum=[0.8, 0.7], max_momentum=0.92, div_factor=10.0,
        final_div_factor=100.0)),
    "OneCycleLR-no-momentum": ("adam", lambda m, o: m.OneCycleLR(
        o, max_lr=0.2, epochs=3, steps_per_epoch=5, cycle_momentum=False)),
    "SequentialLR": ("sgd", lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=3), m.ExponentialLR(o, gamma=0.8)],
        milestones=[4])),
    "SequentialLR-three": ("adam", lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.25, total_iters=2), m.StepLR(o, step_size=2, gamma=0.5),
            m.CosineAnnealingLR(o, T_max=4)], milestones=[3, 8])),
    "ChainedScheduler": ("sgd", lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, factor=0.5, total_iters=3), m.ExponentialLR(o, gamma=0.9)])),
    "CyclicLR-triangular-momentum": ("sgd", lambda m, o: m.CyclicLR(
        o, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=3, step_size_down=2)),
    "CyclicLR-triangular2-betas": ("adam", lambda m, o: m.CyclicLR(
        o, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=2, mode="triangular2",
        base_momentum=0.7, max_momentum=[0.9, 0.95])),
    "CyclicLR-exp-range": ("sgd", lambda m, o: m.CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=4, mode="exp_range", gamma=0.9,
        cycle_momentum=False)),
    "CyclicLR-scale-fn": ("sgd", lambda m, o: m.CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=2, scale_fn=lambda x: 1 / (1 + x),
        scale_mode="iterations")),
    "CosineAnnealingWarmRestarts": ("sgd", lambda m, o: m.CosineAnnealingWarmRestarts(
        o, T_0=4, eta_min=0.001)),
    "CosineAnnealingWarmRestarts-T_mult": ("adam", lambda m, o: m.CosineAnnealingWarmRestarts(
        o, T_0=2, T_mult=2)),
    "ChainedScheduler-cosine-multistep": ("adam", lambda m, o: m.ChainedScheduler(
        [m.CosineAnnealingLR(o, T_max=6, eta_min=0.001), m.MultiStepLR(o, [4, 7])], optimizer=o)),
}


def momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def trace(lib, name, steps=STEPS):
    kind, build = SCHEDULES[name]
    opt = optimizer(lib, kind)
    sched = build(lib.optim.lr_scheduler, opt)
    out = [(list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups], momenta(opt))]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append((list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups],
                    momenta(opt)))
    return out


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_matches_torch(name):
    ours, theirs = trace(gpugrad, name), trace(torch, name)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, f"step {i}"
    assert len({tuple(x[1]) for x in ours}) > 1  # the schedule does change the rates


def test_initial_lr_and_base_lrs():
    opt = optimizer(gpugrad)
    sched = S.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05]
    assert sched.base_lrs == [0.1, 0.05] and sched.last_epoch == 0
    # A second scheduler keeps initial_lr (chaining), and resuming needs it.
    S.ExponentialLR(opt, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05]
    with pytest.raises(KeyError, match=r"param 'initial_lr' is not specified in param_groups\[0\]"):
        S.StepLR(optimizer(gpugrad), step_size=2, last_epoch=3)


@pytest.mark.parametrize(
    "name,make",
    [
        ("StepLR", lambda m, o: m.StepLR(o, step_size=3, gamma=0.5)),
        ("MultiStepLR", lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5], gamma=0.3)),
        ("ExponentialLR", lambda m, o: m.ExponentialLR(o, gamma=0.9)),
        ("CosineAnnealingLR", lambda m, o: m.CosineAnnealingLR(o, T_max=5, eta_min=0.01)),
        ("ConstantLR", lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4)),
        ("LinearLR", lambda m, o: m.LinearLR(o, start_factor=0.2, total_iters=6)),
        ("PolynomialLR", lambda m, o: m.PolynomialLR(o, total_iters=6, power=2.0)),
        ("LambdaLR", lambda m, o: m.LambdaLR(o, lambda e: 1 / (e + 1))),
    ],
)
def test_step_with_epoch_uses_the_closed_form_as_torch(name, make):
    out = []
    for lib in (gpugrad, torch):
        opt = optimizer(lib)
        sched = make(lib.optim.lr_scheduler, opt)
        lrs = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for epoch in (3, 7, 2, 11, 0):
                opt.step()
                sched.step(epoch)
                lrs.append(list(sched.get_last_lr()))
        assert any("epoch parameter in `scheduler.step()`" in str(w.message) for w in caught)
        out.append(lrs)
    assert out[0] == out[1]


METRICS = [1.0, 0.9, 0.95, 0.95, 0.95, 0.89, 0.9, 0.9, 0.9, 0.9, 0.8, 0.85, 0.85, 0.85, 0.85,
           0.85, 0.7, 0.7, 0.7, 0.7]
PLATEAUS = [
    dict(),
    dict(patience=1, factor=0.5),
    dict(patience=1, cooldown=2, factor=0.5, min_lr=[0.01, 0.02]),
    dict(mode="max", patience=0, threshold=0.05, threshold_mode="abs", factor=0.3),
    dict(mode="min", patience=0, threshold=0.1, threshold_mode="rel", min_lr=0.03),
    dict(patience=0, eps=0.2),  # changes smaller than eps are skipped
]


@pytest.mark.parametrize("kw", PLATEAUS, ids=[str(k) for k in PLATEAUS])
def test_reduce_lr_on_plateau_matches_torch(kw):
    out = []
    for lib in (gpugrad, torch):
        opt = optimizer(lib)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
        lrs = []
        for m in METRICS:
            opt.step()
            sched.step(m)
            lrs.append((list(sched.get_last_lr()), sched.num_bad_epochs, sched.cooldown_counter,
                        sched.best, sched.last_epoch))
        out.append(lrs)
    assert out[0] == out[1]


def test_reduce_lr_on_plateau_takes_a_tensor_metric_and_resumes():
    opt = optimizer(gpugrad)
    sched = S.ReduceLROnPlateau(opt, patience=1, factor=0.5, cooldown=1)
    for m in METRICS[:6]:
        sched.step(gpugrad.tensor(m))
    sd = sched.state_dict()
    opt2 = optimizer(gpugrad)
    opt2.load_state_dict(opt.state_dict())
    resumed = S.ReduceLROnPlateau(opt2, mode="max")
    resumed.load_state_dict(sd)
    for m in METRICS[6:]:
        sched.step(m)
        resumed.step(m)
        assert resumed.get_last_lr() == sched.get_last_lr()
    assert resumed.mode == "min" and sched.get_last_lr() != [0.1, 0.05]


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_state_dict_resume_is_identical(name, tmp_path):
    straight = trace(gpugrad, name)
    kind, build = SCHEDULES[name]
    opt = optimizer(gpugrad, kind)
    sched = build(S, opt)
    for _ in range(6):
        opt.step()
        sched.step()
    gpugrad.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "ckpt")
    ckpt = gpugrad.load(tmp_path / "ckpt")
    # As in PyTorch: build the optimizer and scheduler, then load the optimizer (its lr) and
    # the scheduler.
    opt = optimizer(gpugrad, kind)
    sched = build(S, opt)
    opt.load_state_dict(ckpt["opt"])
    sched.load_state_dict(ckpt["sched"])
    for i in range(6, STEPS):
        opt.step()
        sched.step()
        assert list(sched.get_last_lr()) == straight[i + 1][0], i
        assert momenta(opt) == straight[i + 1][2], i


@pytest.mark.parametrize("T_mult", [1, 3])
def test_warm_restarts_with_fractional_epochs_match_torch(T_mult):
    out = []
    for lib in (gpugrad, torch):
        opt = optimizer(lib)
        sched = lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=T_mult)
        lrs = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in (0.5, 1.25, 2.9, 3.0, 7.5, 13.2, 40.0, 1.0):
                opt.step()
                sched.step(epoch)
                lrs.append((list(sched.get_last_lr()), sched.T_i, sched.T_cur, sched.last_epoch))
        out.append(lrs)
    assert out[0] == out[1]
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        S.CosineAnnealingWarmRestarts(optimizer(gpugrad), T_0=3).step(-1)


def test_lambda_state_dict_keeps_callable_objects_state():
    class Warmup:
        def __init__(self, n):
            self.n = n

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.n)

    sched = S.LambdaLR(optimizer(gpugrad), Warmup(4))
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"n": 4}, {"n": 4}]
    other = S.LambdaLR(optimizer(gpugrad), Warmup(10))
    other.load_state_dict(sd)
    assert other.lr_lambdas[0].n == 4
    plain = S.LambdaLR(optimizer(gpugrad), lambda e: 0.5)
    assert plain.state_dict()["lr_lambdas"] == [None, None]


def test_errors_match_torch():
    cases = [
        lambda m, o: m.ConstantLR(o, factor=1.5),
        lambda m, o: m.LinearLR(o, start_factor=0.0),
        lambda m, o: m.LinearLR(o, end_factor=2.0),
        lambda m, o: m.ReduceLROnPlateau(o, factor=1.0),
        lambda m, o: m.ReduceLROnPlateau(o, mode="avg"),
        lambda m, o: m.ReduceLROnPlateau(o, threshold_mode="pct"),
        lambda m, o: m.ReduceLROnPlateau(o, min_lr=[0.1]),
        lambda m, o: m.LambdaLR(o, [lambda e: 1.0]),
        lambda m, o: m.MultiplicativeLR(o, 0.9),
        lambda m, o: m.OneCycleLR(o, max_lr=0.1),
        lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=0),
        lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=1),
        lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="exp"),
        lambda m, o: m.OneCycleLR(o, max_lr=[0.1], total_steps=10),
        lambda m, o: m.OneCycleLR(o, max_lr=0.1, epochs=2, steps_per_epoch=0),
        lambda m, o: m.SequentialLR(o, [], milestones=[]),
        lambda m, o: m.SequentialLR(o, [m.StepLR(o, 2), m.StepLR(o, 3)], milestones=[]),
        lambda m, o: m.SequentialLR(o, [m.ReduceLROnPlateau(o)], milestones=[]),
        lambda m, o: m.ChainedScheduler([]),
        lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, mode="sine"),
        lambda m, o: m.CyclicLR(o, base_lr=[0.01], max_lr=0.1),
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=0),
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=1.5),
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, eta_min="0"),
        lambda m, o: m.StepLR(object(), 2),
    ]
    for i, case in enumerate(cases):
        with pytest.raises(Exception) as theirs:
            case(torch.optim.lr_scheduler, optimizer(torch))
        with pytest.raises(type(theirs.value)) as ours:
            case(S, optimizer(gpugrad))
        assert str(ours.value) == str(theirs.value), i


def test_one_cycle_needs_momentum_and_stops_at_total_steps():
    p = gpugrad.ones(1, requires_grad=True)
    opt = gpugrad.optim.Adagrad([p])
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    sched = S.OneCycleLR(opt, max_lr=0.1, total_steps=3, cycle_momentum=False)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total"):
        sched.step()


def test_warnings_as_torch():
    opt = optimizer(gpugrad)
    sched = S.StepLR(opt, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()
    opt = optimizer(gpugrad)
    sched = S.StepLR(opt, 2)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()  # the right order: no warning


def test_cosine_closed_form_values():
    opt = optimizer(gpugrad)
    sched = S.CosineAnnealingLR(opt, T_max=4, eta_min=0.02)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(4):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    ref = [0.02 + 0.08 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)]
    assert lrs == pytest.approx(ref, rel=1e-14)


def test_cyclic_needs_momentum_or_beta1():
    p = gpugrad.ones(1, requires_grad=True)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.CyclicLR(gpugrad.optim.Adagrad([p]), base_lr=0.01, max_lr=0.1)
    assert S.CyclicLR(gpugrad.optim.Adam([p]), 0.01, 0.1).use_beta1
    assert not S.CyclicLR(gpugrad.optim.SGD([p], momentum=0.9), 0.01, 0.1).use_beta1
