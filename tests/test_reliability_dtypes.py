"""Issue 15, the classes of silent wrong answers: construction refuses what it cannot hold,
dtype rules follow PyTorch (integer // and %, uint8 masks, dim=()), float16 reductions
accumulate in float32, subgradients at kinks, hook and ``.grad`` validation, empty and 0-d
inputs, and threads that accumulate into one leaf. One test per class, several cases each."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F

# ----------------------------------------------------------------------------- construction

REFUSED = {
    "complex-array": np.array([1 + 2j]),
    "complex-scalar": 1 + 2j,
    "complex-list": [1.0, 2j],
    "object-floats": np.array([1.5, 2.5], dtype=object),
    "strings": np.array(["1", "2"]),
    "string-list": ["1", "2"],
    "bytes": np.array([b"1"]),
    "datetime": np.array(["2020-01-01"], dtype="datetime64[D]"),
    "timedelta": np.array([1], dtype="timedelta64[s]"),
    "structured": np.zeros(2, dtype=[("a", "f4")]),
    "none": None,
    "dict": {"a": 1},
}


@pytest.mark.parametrize("name", REFUSED)
@pytest.mark.parametrize("factory", ["tensor", "as_tensor"])
def test_construction_refuses_data_without_a_dtype(name, factory):
    with pytest.raises(TypeError, match=factory):
        getattr(gg, factory)(REFUSED[name])


OUT_OF_RANGE = {
    "2**63": ([2**63], None),
    "-2**63-1": ([-2**63 - 1], None),
    "2**64-list": ([1, 2**64], None),
    "uint64-array": (np.array([2**63], dtype=np.uint64), None),
    "300-uint8": ([300], gg.uint8),
    "-1-uint8": ([-1], gg.uint8),
    "2**40-int32": ([2**40], gg.int32),
    "1e10-int32": ([1e10], gg.int32),
    "nan-int64": ([float("nan")], gg.int64),
    "inf-int16": ([float("inf")], gg.int16),
    "float-array-int8": (np.array([200.0]), gg.int8),
    "int64-array-int8": (np.array([-129]), gg.int8),
}


@pytest.mark.parametrize("name", OUT_OF_RANGE)
def test_construction_refuses_values_out_of_range(name):
    data, dt = OUT_OF_RANGE[name]
    with pytest.raises(OverflowError, match="tensor"):
        gg.tensor(data, dtype=dt)


def test_construction_keeps_what_fits():
    assert gg.tensor([2**63 - 1]).tolist() == [2**63 - 1]
    assert gg.tensor([255], dtype=gg.uint8).tolist() == [255]
    assert gg.tensor([1.9, -1.9], dtype=gg.int64).tolist() == [1, -1]  # truncates, as torch
    assert gg.tensor(np.array([7], dtype=np.uint16)).dtype is gg.int64
    assert gg.tensor(np.array([1.5], dtype=np.float16)).dtype is gg.float16
    assert gg.tensor([1e300]).tolist() == [float("inf")]  # float32 rounds to inf, as torch


FILL = [
    ("full-1e10-int32", lambda: gg.full((2,), 1e10, dtype=gg.int32), OverflowError, "full"),
    ("full-nan-int64", lambda: gg.full((2,), float("nan"), dtype=gg.int64), OverflowError,
     "full"),
    ("full-inf-uint8", lambda: gg.full((2,), float("inf"), dtype=gg.uint8), OverflowError,
     "full"),
    ("full-256-uint8", lambda: gg.full((2,), 256, dtype=gg.uint8), OverflowError, "full"),
    ("full-None", lambda: gg.full((2,), None), TypeError, "full"),
    ("full-str", lambda: gg.full((2,), "1"), TypeError, "full"),
    ("full_like-2**31", lambda: gg.full_like(gg.zeros(2, dtype=gg.int32), 2**31),
     OverflowError, "full_like"),
    ("new_full-nan", lambda: gg.zeros(2, dtype=gg.int8).new_full((2,), float("nan")),
     OverflowError, "full"),
    ("randint-uint8", lambda: gg.randint(0, 300, (3,), dtype=gg.uint8), OverflowError,
     "randint"),
    ("randint-int8-low", lambda: gg.randint(-200, 0, (3,), dtype=gg.int8), OverflowError,
     "randint"),
    ("randperm-int8", lambda: gg.randperm(300, dtype=gg.int8), OverflowError, "randperm"),
    ("randperm-uint8", lambda: gg.randperm(257, dtype=gg.uint8), OverflowError, "randperm"),
    ("zeros-2**62", lambda: gg.zeros(2**62), RuntimeError, "zeros"),
]


@pytest.mark.parametrize("call, exc, pattern", [c[1:] for c in FILL], ids=[c[0] for c in FILL])
def test_factories_check_values_and_bounds(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_factory_bounds_that_fit():
    assert int(gg.randint(0, 256, (500,), dtype=gg.uint8).max()) <= 255
    assert sorted(gg.randperm(256, dtype=gg.uint8).tolist()) == list(range(256))
    assert sorted(gg.randperm(128, dtype=gg.int8).tolist()) == list(range(128))
    assert gg.full((2,), 2**31 - 1, dtype=gg.int32).tolist() == [2**31 - 1] * 2


@pytest.mark.parametrize("dt", [gg.float16, gg.float32, gg.float64])
def test_rand_stays_below_one(dt):
    gg.manual_seed(0)
    x = gg.rand(200_000, dtype=dt)
    assert x.dtype is dt
    assert float(x.max()) < 1.0 and float(x.min()) >= 0.0
    assert 0.49 < float(x.double().mean()) < 0.51


def test_manual_seed_accepts_negative_seeds_as_torch():
    gg.manual_seed(-1)
    a = gg.rand(3)
    gg.manual_seed(-1)
    assert a.tolist() == gg.rand(3).tolist()
    assert gg.Generator().manual_seed(-5).initial_seed() == -5
    with pytest.raises(OverflowError, match="manual_seed"):
        gg.manual_seed(2**64)


# ----------------------------------------------------------------------------- dtype rules


@pytest.mark.parametrize("dt", [gg.int8, gg.int16, gg.int32, gg.int64, gg.uint8])
def test_integer_floor_division_and_remainder_stay_integer(dt):
    a = gg.tensor([7, -7, 5, -5, 0], dtype=dt) if dt is not gg.uint8 else \
        gg.tensor([7, 5, 0, 9, 3], dtype=dt)
    b = gg.tensor([2, 2, -3, -3, 4], dtype=dt) if dt is not gg.uint8 else \
        gg.tensor([2, 3, 4, 2, 5], dtype=dt)
    an, bn = np.array(a.tolist()), np.array(b.tolist())
    for r, want in ((a // b, an // bn), (a % b, an % bn)):  # Python's sign rules
        assert r.dtype is dt
        assert r.tolist() == want.tolist()
    assert (gg.tensor([16777217]) // 1).tolist() == [16777217]


def test_uint8_index_is_a_mask():
    x = gg.arange(3)
    assert x[gg.tensor([1, 0, 1], dtype=gg.uint8)].tolist() == [0, 2]
    assert x[gg.tensor([True, False, True])].tolist() == [0, 2]
    assert x[gg.tensor([1, 0, 1])].tolist() == [1, 0, 1]


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "logsumexp", "var", "std"])
def test_empty_dim_tuple_reduces_everything(op):
    x = gg.arange(12.0).reshape(3, 4)
    want = getattr(x, op)(dim=(0, 1))
    for empty in ((), []):
        got = getattr(x, op)(dim=empty)
        assert got.shape == () and np.allclose(got.item(), want.item())


@pytest.mark.parametrize("op", ["gather", "scatter_add"])
@pytest.mark.parametrize("bad", [-1, -3, 3])
def test_gather_and_scatter_add_refuse_out_of_range_indices(op, bad):
    x, idx = gg.ones(2, 3), gg.tensor([[0, bad]])
    call = (lambda: gg.gather(x, 1, idx)) if op == "gather" else (
        lambda: gg.scatter_add(x, 1, idx, gg.ones(1, 2)))
    with pytest.raises(IndexError, match=f"{op}.*index {bad} is out of bounds"):
        call()


def test_reduction_dim_type_names_the_op():
    with pytest.raises(TypeError, match="sum: dim must be an int, got float"):
        gg.ones(3).sum(dim=1.5)
    with pytest.raises(TypeError, match="mean: dim"):
        gg.ones(3).mean(dim="a")


# ----------------------------------------------------------------------------- float16


def test_float16_reductions_accumulate_in_float32():
    x = gg.ones(70000, dtype=gg.float16)
    for got, want in ((x.mean(), 1.0), (gg.tensor([300.0, 400.0], dtype=gg.float16).norm(), 500),
                      (x.var(), 0.0), (x.std(), 0.0),
                      (gg.full((4096,), 0.1, dtype=gg.float16).sum(), 409.5),
                      (gg.full((3000,), 1.001, dtype=gg.float16).prod(dim=0), 18.69)):
        assert got.dtype is gg.float16
        assert abs(float(got) - want) <= 0.5
    torch = pytest.importorskip("torch")
    v = np.random.default_rng(0).random(5000).astype(np.float16)
    for op in ("sum", "mean", "norm", "var", "std"):
        got = float(getattr(gg.tensor(v), op)())
        want = float(getattr(torch.tensor(v), op)())
        assert got == pytest.approx(want, rel=2e-3), op


# ----------------------------------------------------------------------------- subgradients


def _grad(f, x):
    t = gg.tensor(x, dtype=gg.float64, requires_grad=True)
    f(t).sum().backward()
    return t.grad.tolist()


KINKS = {
    "std-constant": (lambda t: t.std(), [1.0, 1.0, 1.0]),
    "std-dim-constant": (lambda t: t.reshape(2, 2).std(1), [2.0, 2.0, 1.0, 3.0]),
    "var-constant": (lambda t: t.var(), [1.0, 1.0]),
    "norm-p3-zero": (lambda t: t.norm(p=3), [0.0, 0.0]),
    "norm-p0.5-zero": (lambda t: t.norm(p=0.5), [0.0, 0.0]),
    "norm-p0.5-some-zero": (lambda t: t.norm(p=0.5), [0.0, 4.0]),
    "norm-p1-zero": (lambda t: t.norm(p=1), [0.0, 0.0]),
    "norm-p3-dim-zero": (lambda t: t.reshape(2, 2).norm(p=3, dim=1), [0.0, 0.0, 1.0, 2.0]),
    "pow-tensor-0**0": (lambda t: t ** (t * 0), [0.0, 2.0]),
    "pow-base-0**0": (lambda t: t ** t.new_zeros(()), [0.0]),
}


@pytest.mark.parametrize("name", KINKS)
def test_subgradients_at_kinks_match_torch(name):
    torch = pytest.importorskip("torch")
    f, x = KINKS[name]
    got = _grad(f, x)
    assert not np.isnan(got).any(), got
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    src = f(t)
    src.sum().backward()
    np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-12, atol=0)


# ----------------------------------------------------------------------------- validation


def _hooked(hook, leaf=True):
    x = gg.ones(3, requires_grad=True)
    y = x * 2
    (x if leaf else y).register_hook(hook)
    y.sum().backward()
    return x.grad


HOOKS = {
    "float": (lambda g: 1.0, TypeError, "returned a float"),
    "array": (lambda g: np.ones(3, dtype=np.float32), TypeError, "returned a ndarray"),
    "dtype": (lambda g: g.double(), RuntimeError, "dtype"),
    "shape": (lambda g: g[:2], RuntimeError, "size"),
    "shape-broadcast": (lambda g: g.sum(), RuntimeError, "size"),
}


@pytest.mark.parametrize("leaf", [True, False], ids=["leaf", "non-leaf"])
@pytest.mark.parametrize("name", HOOKS)
def test_hook_results_are_checked(name, leaf):
    hook, exc, pattern = HOOKS[name]
    with pytest.raises(exc, match=f"hook '.*lambda>'.*{pattern}"):
        _hooked(hook, leaf)
    assert _hooked(lambda g: g * 3, leaf).tolist() == [6.0, 6.0, 6.0]


def test_grad_assignment_is_checked():
    x = gg.ones(3, requires_grad=True)
    for bad, exc, pattern in ((gg.ones(3, dtype=gg.float64), RuntimeError, "dtype"),
                              (gg.ones(3, dtype=gg.int64), RuntimeError, "dtype"),
                              (gg.ones(4), RuntimeError, "shape"),
                              (3.0, TypeError, "Tensor"),
                              (np.ones(3, dtype=np.float32), TypeError, "Tensor")):
        with pytest.raises(exc, match=f"grad: .*{pattern}"):
            x.grad = bad
    x.grad = gg.zeros(3)
    x.grad = None
    assert x.grad is None


def test_dropout_of_integers_raises_in_training_only():
    x = gg.ones(3, dtype=gg.int64)
    with pytest.raises(RuntimeError, match="dropout.*int64"):
        F.dropout(x, 0.5)
    assert F.dropout(x, 0.5, training=False) is x


# ----------------------------------------------------------------------------- empty and 0-d


def test_empty_and_zero_d_inputs_as_torch():
    torch = pytest.importorskip("torch")
    for f in (lambda m, x: m.logsumexp(x, 0), lambda m, x: m.softmax(x, 0),
              lambda m, x: m.log_softmax(x, 0), lambda m, x: x.max(1).values,
              lambda m, x: x.min(1).indices, lambda m, x: x.argmax(1),
              lambda m, x: x.amax(1)):
        for a in (np.zeros((0, 3)), np.zeros((2, 0)), np.array(3.0), np.zeros(0)):
            try:
                want = f(torch, torch.tensor(a))
            except (RuntimeError, IndexError):
                with pytest.raises((RuntimeError, IndexError)):
                    f(gg, gg.tensor(a))
                continue
            got = f(gg, gg.tensor(a))
            assert tuple(got.shape) == tuple(want.shape)
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    x = gg.zeros(0, requires_grad=True)
    gg.logsumexp(x, 0).backward()
    assert x.grad.shape == (0,)
    with pytest.raises(IndexError, match="max: Expected reduction dim 0 to have non-zero size"):
        gg.zeros(0, 3).max(0)


# ----------------------------------------------------------------------------- threads

THREADS, STEPS, RUNS = 8, 200, 3


@pytest.mark.parametrize("run", range(RUNS))
def test_threads_accumulating_into_one_leaf_lose_nothing(run):
    """8 threads x 200 steps: at each step every thread backpropagates into the same fresh leaf
    at once (a barrier lines them up on the first accumulation, where ``.grad`` is None), and
    into one long-lived leaf; no update may be lost."""
    leaves = [gg.ones(4, requires_grad=True) for _ in range(STEPS)]
    shared = gg.ones(4, requires_grad=True)
    step = threading.Barrier(THREADS)
    errors = []

    def work():
        try:
            for w in leaves:
                step.wait()
                (w * 1.0).sum().backward()
                (shared * 1.0).sum().backward()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: races show up if there are any
    try:
        threads = [threading.Thread(target=work) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    assert not errors
    lost = [i for i, w in enumerate(leaves) if w.grad.tolist() != [THREADS] * 4]
    assert not lost, f"lost updates at steps {lost}"
    assert shared.grad.tolist() == [THREADS * STEPS] * 4
