"""CUDA devices (issue 17, items 3, 4 and 7), tested on the CPU.

CuPy allocates and launches on the *current* device, whatever device its input arrays are on:
``a.copy()``, ``a.astype(t)``, ``xp.zeros(...)`` and every kernel of an array on cuda:1 run on
cuda:0 while cuda:0 is current (with peer access the result lands on cuda:0; without it, CuPy
raises). Here `GPUArray`, a NumPy array type that stands in for CuPy's on a machine with two
stand-in GPUs, does what CuPy does without peer access: every array made by the stand-in
module, a ufunc or a cast is on the current device, and any computation that reads an array
on another device raises. A test passes only if gpugrad entered each array's device wherever
it works on it (`B.on_device_of`), and "cuda" (no index) means the current device where
tensors move (`B.resolve`), as in PyTorch. The stand-in CuPy module also gives the runtime
calls (current device, synchronize) and per-device random generators that record their seeds.
"""

from __future__ import annotations

import copy
import io
import types

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import backend as B
from gpugrad.ops import registry

# ----------------------------------------------------------------------------- a CuPy stand-in


class _Runtime:
    """``cupy.cuda.runtime`` of a machine with `n` GPUs: the current device, and a log."""

    def __init__(self, n=2):
        self.n, self.current, self.synced, self.switches = n, 0, [], 0

    def getDevice(self):  # noqa: N802 - CuPy's name
        return self.current

    def setDevice(self, i):  # noqa: N802
        if not 0 <= i < self.n:
            raise RuntimeError(f"cudaErrorInvalidDevice: {i}")
        self.switches += self.current != i
        self.current = i

    def getDeviceCount(self):  # noqa: N802
        return self.n

    def deviceSynchronize(self):  # noqa: N802
        self.synced.append(self.current)


RT = _Runtime()


class _Device:
    """``cupy.cuda.Device``: a context that makes device `i` current, restoring the last."""

    def __init__(self, i=None):
        self.id = RT.current if i is None else int(i)
        self._prev: list = []

    def __enter__(self):
        self._prev.append(RT.current)
        RT.setDevice(self.id)
        return self

    def __exit__(self, *exc):
        RT.setDevice(self._prev.pop())


def _plain(a):
    if isinstance(a, GPUArray):
        return a.view(np.ndarray)
    if isinstance(a, (tuple, list)):
        return type(a)(_plain(x) for x in a)
    return a


def _lift(r, dev=None):
    """A result made now: on the current device (or `dev`; 0-d arrays for scalars, as CuPy)."""
    if isinstance(r, (tuple, list)):
        return type(r)(_lift(x, dev) for x in r)
    if type(r) is np.ndarray or isinstance(r, np.generic):
        out = np.asarray(r).view(GPUArray)
        out._dev = RT.current if dev is None else dev
        return out
    return r


def _call(f, args, kwargs):
    """NumPy's `f` as CuPy runs it: a view keeps its base's device; a new array is made on the
    current device by a kernel that reads its inputs there (as is a write, which returns None);
    an answer that is no array (a shape, a bool) reads no values."""
    r = f(*_plain(args), **_plain(kwargs))
    if isinstance(r, np.ndarray):
        for a in _arrays((args, kwargs)):
            if np.may_share_memory(r, a):
                return _lift(r, a._dev)
    elif r is not None and not isinstance(r, np.generic):
        return r
    _check(_arrays((args, kwargs)))
    return _lift(r)


def _arrays(x):
    if isinstance(x, GPUArray):
        yield x
    elif isinstance(x, (tuple, list)):
        for y in x:
            yield from _arrays(y)
    elif isinstance(x, dict):
        yield from _arrays(tuple(x.values()))


def _check(args):
    """CuPy without peer access: a kernel may read arrays on the current device only."""
    for a in args:
        if isinstance(a, GPUArray):
            if a._dev != RT.current:  # (a message like CuPy's)
                raise ValueError(f"The device where the array resides ({a._dev}) is different "
                                 f"from the current device ({RT.current}). Peer access is "
                                 "unavailable between these devices.")
        elif isinstance(a, (tuple, list)):
            _check(a)


class GPUArray(np.ndarray):
    """A stand-in for a CuPy array (see the module doc); views keep their base's device."""

    _dev = 0

    def __array_finalize__(self, obj):
        self._dev = getattr(obj, "_dev", RT.current)

    @property
    def device(self):
        return _Device(self._dev)

    def get(self):
        return self.view(np.ndarray).copy()

    def copy(self, order="C"):  # CuPy copies onto the current device, from any device
        return _lift(self.view(np.ndarray).copy(order))

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        if not copy and np.dtype(dtype) == self.dtype:
            return self
        _check((self,))  # (an elementwise copy kernel on the current device)
        return _lift(self.view(np.ndarray).astype(dtype, order=order))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        _check(inputs)
        if out is not None:
            _check(out)
            kwargs["out"] = _plain(out)
        r = getattr(ufunc, method)(*_plain(inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _lift(r)

    def __array_function__(self, func, types, args, kwargs):
        return _call(func, args, kwargs)


class _RandomState:
    """``cupy.random.RandomState``: bound to the device current when made; records seeds."""

    def __init__(self, seed=None):
        self.dev, self.seeds = RT.current, []
        self.seed(seed)

    def seed(self, seed=None):
        self.seeds.append(seed)
        self._g = np.random.default_rng(seed)

    def _draw(self, f, *args, **kwargs):
        assert RT.current == self.dev, "a generator drew on another device than its own"
        return _lift(f(*args, **kwargs))

    def random_sample(self, size=None, dtype=float):
        return self._draw(self._g.random, size, dtype=dtype)

    def standard_normal(self, size=None, dtype=float):
        return self._draw(self._g.standard_normal, size, dtype=dtype)

    def randint(self, low, high=None, size=None, dtype=int):
        return self._draw(self._g.integers, low, high, size=size, dtype=dtype)


class _Random:
    def __init__(self):
        self.states: dict = {}

    def get_random_state(self):
        st = self.states.get(RT.current)
        if st is None:
            st = self.states[RT.current] = _RandomState()
        return st

    RandomState = _RandomState


class _CuPy(types.ModuleType):
    """The stand-in ``cupy`` module: NumPy's functions, making arrays on the current device."""

    ndarray = GPUArray

    def __init__(self):
        super().__init__("cupy")
        self.cuda = types.SimpleNamespace(runtime=RT, Device=_Device)
        self.random = _Random()

    def __getattr__(self, name):
        f = getattr(np, name)
        if not callable(f) or isinstance(f, (type, np.ufunc)):
            return f  # dtypes, classes; ufuncs dispatch to GPUArray themselves

        return lambda *args, **kwargs: _call(f, args, kwargs)

    @staticmethod
    def asarray(a, dtype=None):
        if isinstance(a, GPUArray) and a._dev == RT.current and dtype in (None, a.dtype):
            return a
        return _lift(np.array(_plain(a), dtype=dtype))  # (CuPy copies across devices)

    @staticmethod
    def array(a, dtype=None, copy=True):
        return _lift(np.array(_plain(a), dtype=dtype, copy=copy))


CUPY = _CuPy()


@pytest.fixture
def gpus(monkeypatch):
    """Two stand-in GPUs, cuda:0 current; gpugrad sees the stand-in as CuPy."""
    monkeypatch.setattr(B, "_cupy", CUPY)
    monkeypatch.setattr(B, "_cupy_error", None)
    monkeypatch.setitem(B._XP, GPUArray, CUPY)
    monkeypatch.setattr(B, "_seeded", set())
    RT.__init__()
    CUPY.random.states.clear()
    registry.use_kernels(False)  # (the linear_mse CUDA kernel is checked against CUDA itself)
    yield RT
    registry.use_kernels(True)
    assert RT.current == 0, "the current device was left switched"


def on(i, a):
    """A stand-in array of `a`'s values on cuda:i."""
    r = np.array(a).view(GPUArray)
    r._dev = i
    return r


def val(t):
    return t.detach().cpu().numpy()


# ----------------------------------------------------------------------------- item 3


def test_device_objects_compare_as_pytorchs():
    cuda, cuda0 = gg.device("cuda"), gg.device("cuda", 0)
    assert cuda != cuda0 and cuda0 == gg.device("cuda:0") and cuda == gg.device("cuda")
    assert cuda.index is None and repr(cuda) == "device(type='cuda')" and str(cuda) == "cuda"
    torch = pytest.importorskip("torch")
    pairs = [("cuda", "cuda:0"), ("cuda", "cuda"), ("cuda:0", "cuda:0"), ("cuda:1", "cuda:0"),
             ("cpu", "cpu")]
    for a, b in pairs:
        assert (gg.device(a) == gg.device(b)) == (torch.device(a) == torch.device(b)), (a, b)
        assert repr(gg.device(a)) == repr(torch.device(a))


def test_to_cuda_on_the_current_device_is_a_no_op_as_in_pytorch(gpus):
    x = gg.ones(2, device="cuda", requires_grad=True)
    assert x.device == gg.device("cuda:0")
    for moved in (x.to("cuda"), x.cuda(), x.to(gg.device("cuda")), x.to("cuda:0"),
                  x.to(device="cuda", dtype=gg.float32), gg.as_tensor(x, device="cuda")):
        assert moved is x
    y = x * 1
    assert y.to("cuda") is y and y.grad_fn.name() == "MulBackward0"  # no copy node recorded
    assert x._version == 0


def test_cuda_without_an_index_is_the_current_device_where_tensors_move(gpus):
    x = gg.ones(2, device="cuda")
    with _Device(1):
        y, z, w = x.to("cuda"), x.cuda(), gg.zeros(2, device="cuda")
        assert x.to("cuda:0") is x
    assert y.device == z.device == w.device == gg.device("cuda:1") and y is not x
    assert gg.zeros(1, device="cuda").device == gg.device("cuda:0")
    assert gg.cuda.current_device() == 0
    with _Device(1):
        g = gg.Generator("cuda")
    assert g.device == gg.device("cuda:1")
    assert gg.randn(2, device="cuda:1", generator=g).device == gg.device("cuda:1")


def test_module_and_optimizer_state_stay_put_when_moved_to_cuda_again(gpus):
    model = gg.nn.Linear(3, 2).to("cuda")
    opt = gg.optim.Adam(model.parameters(), lr=0.1)
    model(gg.ones(4, 3, device="cuda")).sum().backward()
    opt.step()
    arrays = [p._data for p in model.parameters()]
    grads = [p.grad._data for p in model.parameters()]
    model.to("cuda")
    model.cuda()
    assert [p._data for p in model.parameters()] == arrays  # (identity: no copies)
    assert all(a is b for a, b in zip((p.grad._data for p in model.parameters()), grads))
    opt.load_state_dict(opt.state_dict())
    for p in model.parameters():
        assert all(v.device == p.device for v in opt.state[p].values()
                   if isinstance(v, gg.Tensor))
    buf = io.BytesIO()
    gg.save(model.state_dict(), buf)
    for where, want in ((None, "cuda:0"), ("cuda", "cuda:0"), ("cuda:1", "cuda:1")):
        buf.seek(0)
        state = gg.load(buf, map_location=where)
        assert {str(v.device) for v in state.values()} == {want}
    other = gg.nn.Linear(3, 2).cuda(1)
    other.load_state_dict(state)
    assert other.weight.device == gg.device("cuda:1")
    np.testing.assert_array_equal(val(other.weight), val(model.weight))


def test_without_cupy_cuda_stays_unresolved_and_the_move_says_what_is_missing(monkeypatch):
    monkeypatch.setattr(B, "_cupy", None)
    monkeypatch.setattr(B, "_cupy_error", "ImportError: No module named 'cupy'")
    assert B.resolve(gg.device("cuda")) == gg.device("cuda")
    assert B.resolve(gg.device("cuda:1")) == gg.device("cuda:1")
    assert B.resolve(B.CPU) is B.CPU
    with pytest.raises(RuntimeError, match="needs CuPy"):
        gg.ones(2).to("cuda")


# ----------------------------------------------------------------------------- item 4


def test_on_device_of_switches_only_for_an_array_on_another_device(gpus):
    assert B.on_device_of(np.ones(2)) is B.NO_SWITCH
    assert B.on_device_of(on(0, [1.0])) is B.NO_SWITCH
    guard = B.on_device_of(on(1, [1.0]))
    assert guard is not B.NO_SWITCH and guard.id == 1
    with guard:
        assert RT.current == 1
        assert B.on_device_of(on(1, [1.0])) is B.NO_SWITCH
    assert RT.current == 0
    assert B.on_device(gg.device("cuda")) is B.NO_SWITCH
    assert B.on_device(gg.device("cuda:0")) is B.NO_SWITCH
    assert B.on_device(B.CPU) is B.NO_SWITCH
    assert B.on_device(gg.device("cuda:1")).id == 1


def test_on_device_of_without_cupy_is_a_no_op(monkeypatch):
    monkeypatch.setattr(B, "_cupy", None)
    assert B.on_device_of(np.ones(2).view(GPUArray)) is B.NO_SWITCH


def test_device_keeper_follows_arrays_and_gives_the_device_back(gpus):
    class Inner:
        exited = False

        def __exit__(self, *exc):
            self.exited = True

    inner = Inner()
    keeper = B.DeviceKeeper(inner)
    keeper.follow(on(1, [1.0]))
    assert RT.current == 1
    keeper.follow(np.ones(1))  # host arrays and NumPy scalars: no switch
    keeper.follow(np.float64(1))
    assert RT.current == 1
    keeper.__exit__(None, None, None)
    assert RT.current == 0 and inner.exited


def _step(dev):
    """A training step of a small model: ops, a fused loss, backward, SGD, in place."""
    gg.manual_seed(0)
    X, w = gg.randn(8, 3), gg.randn(3)
    X, w = X.to(dev), w.to(dev).requires_grad_()
    b = gg.zeros(1, device=dev, requires_grad=True)
    y = (X[:, 0] * 2 - 1).exp()
    loss = gg.nn.functional.mse_loss(X @ w + b, y) + \
        gg.nn.functional.linear_mse_loss(X, w, y, b) + (w ** 2).sum() * 0.1
    loss.backward()
    opt = gg.optim.SGD([w, b], lr=0.1, momentum=0.9)
    opt.step()
    w2 = copy.deepcopy(w)
    return loss, w, b, w2


def test_a_training_step_on_cuda_1_runs_there_while_cuda_0_is_current(gpus):
    loss, w, b, w2 = _step("cuda:1")
    for t in (loss, w, w.grad, b.grad, w2, w2.grad):
        assert t.device == gg.device("cuda:1") and type(t._data) is GPUArray
    assert RT.current == 0 and RT.switches > 0
    ref = _step("cpu")
    for got, want in zip((loss, w, b, w2.grad), ref[:3] + (ref[3].grad,)):
        np.testing.assert_allclose(val(got), val(want), rtol=1e-6)


def test_backward_on_cuda_1_restores_the_current_device_when_a_hook_raises(gpus):
    x = gg.ones(3, device="cuda:1", requires_grad=True)
    y = x.exp()

    def bad(g):
        raise KeyError("hook")

    y.register_hook(bad)
    with pytest.raises(KeyError):
        (y * 2).sum().backward()
    assert RT.current == 0


def test_gradients_flow_between_two_gpus(gpus):
    x = gg.tensor([1.0, 2.0], device="cuda:0", requires_grad=True)
    y = x.to("cuda:1") * 3
    assert y.device == gg.device("cuda:1")
    g, = gg.autograd.grad(y.sum(), x, retain_graph=True)
    assert g.device == gg.device("cuda:0")
    np.testing.assert_array_equal(val(g), [3.0, 3.0])
    for _ in range(2):  # (the second accumulates into x.grad, on cuda:0, after a cuda:1 node)
        y.sum().backward(retain_graph=True)
    assert x.grad.device == gg.device("cuda:0")
    np.testing.assert_array_equal(val(x.grad), [6.0, 6.0])
    y = x.to("cuda:1").sum().to("cuda:0") + x.exp()  # (x's cotangents summed on cuda:0)
    y.sum().backward()
    np.testing.assert_allclose(val(x.grad), [6.0, 6.0] + np.exp([1.0, 2.0]) + 2, rtol=1e-6)
    z = gg.ones(3, device="cuda:1", requires_grad=True)
    g, = gg.autograd.grad(z.reshape(1, 3).sum(), z)  # (a view of the cotangent: copied)
    assert g.device == gg.device("cuda:1") and g.tolist() == [1.0, 1.0, 1.0]


def _in_place(dev):
    x = gg.tensor([0.5, 1.0, 2.0], device=dev, requires_grad=True)
    y = x * 2
    y.mul_(y)  # recorded in place: the old value the backward reads is a copy
    y[0] = 5.0  # an index write
    y.clamp_(0, 4).exp_()
    y.sum().backward()
    return y, x.grad


def test_in_place_ops_with_a_graph_on_cuda_1_run_there(gpus):
    y, g = _in_place("cuda:1")
    assert y.device == g.device == gg.device("cuda:1")
    for got, want in zip((y, g), _in_place("cpu")):
        np.testing.assert_allclose(val(got), val(want), rtol=1e-6)


def test_casts_copies_and_permutations_stay_on_the_tensors_device(gpus):
    x = gg.tensor(on(1, [1.5, 2.5]))
    assert x.device == gg.device("cuda:1")
    for t in (x.to(gg.float64), x.double().half(), gg.tensor(x), gg.tensor(x, dtype=gg.int32),
              copy.deepcopy(x), x.clone(), gg.randperm(5, device="cuda:1"),
              gg.randn(2, device="cuda:1"), gg.arange(3, device="cuda:1")):
        assert t.device == gg.device("cuda:1"), t
    assert x.to("cuda:0").device == gg.device("cuda:0")
    assert sorted(gg.randperm(5, device="cuda:1").tolist()) == [0, 1, 2, 3, 4]


# ----------------------------------------------------------------------------- item 7


def test_manual_seed_before_cupy_loads_seeds_each_gpu_when_it_first_draws(gpus, monkeypatch):
    monkeypatch.setattr(B, "_cupy", None)
    gg.manual_seed(1234)  # (CuPy not loaded yet)
    monkeypatch.setattr(B, "_cupy", CUPY)
    a = gg.rand(3, device="cuda").tolist()
    b = gg.rand(3, device="cuda:1").tolist()
    gg.rand(3, device="cuda")
    assert CUPY.random.states[0].seeds[-1] == 1234 and CUPY.random.states[1].seeds[-1] == 1234
    assert len(CUPY.random.states[0].seeds) == 2  # (its own seed at creation, then 1234 once)
    gg.manual_seed(1234)
    assert gg.rand(3, device="cuda").tolist() == a and gg.rand(3, device="cuda:1").tolist() == b
    assert a == b


def test_tensors_of_gpu_data_get_pytorchs_dtype_on_the_asked_device(gpus):
    t = gg.tensor(on(1, np.array([1, 2], np.uint32)), device="cuda:0")
    assert t.dtype == gg.int64 and t.device == gg.device("cuda:0") and t.tolist() == [1, 2]
    f = gg.tensor(on(1, [0.5]))
    assert f.dtype == gg.float64 and f.device == gg.device("cuda:1")
    shared = on(1, np.arange(3.0))
    assert gg.as_tensor(shared)._data is shared  # (no copy where none is needed)
    assert gg.as_tensor(shared, device="cuda:0").device == gg.device("cuda:0")
    with pytest.raises(TypeError, match="complex"):
        gg.tensor(on(0, [1j]))
    with pytest.raises(ValueError, match="could not make a tensor"):
        gg.tensor([[1.0], [1.0, 2.0]], device="cuda")
    with pytest.raises(OverflowError, match="int32"):
        gg.tensor(on(1, [1e20]), dtype=gg.int32)


def test_default_collate_stacks_gpu_arrays_on_their_device(gpus):
    batch = gg.utils.data.default_collate([on(1, [1.0, 2.0]), on(1, [3.0, 4.0])])
    assert batch.device == gg.device("cuda:1") and batch.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(TypeError, match="cuda:1 like the first"):
        gg.utils.data.default_collate([on(1, [1.0]), on(0, [2.0])])


def test_zero_dim_gpu_arrays_are_scalars_as_numpys_are(gpus):
    x = gg.ones(2, device="cuda")
    s = on(0, np.float32(2.0)).sum()  # (a CuPy reduction gives a 0-d array)
    assert type(s) is GPUArray and s.ndim == 0
    assert (x * s).tolist() == [2.0, 2.0] and (x * s).dtype == gg.float32
    assert gg.full((2,), s).tolist() == [2.0, 2.0]
    assert (x * np.float64(2.0)).tolist() == [2.0, 2.0]
    with pytest.raises(TypeError, match="expected a tensor or a number"):
        x * on(0, [1.0, 2.0])  # (not a 0-d array: not a scalar)


def test_synchronize_waits_for_the_given_or_the_current_device(gpus):
    gg.cuda.synchronize()
    gg.cuda.synchronize(1)
    gg.cuda.synchronize("cuda:0")
    with _Device(1):
        gg.cuda.synchronize()
    assert RT.synced == [0, 1, 0, 1] and RT.current == 0
    with pytest.raises(ValueError, match="CUDA device"):
        gg.cuda.synchronize("cpu")
