"""What CuPy does not refuse, gpugrad does (issue 17, items 5-7), tested on the CPU.

CuPy has no read-only arrays, wraps out-of-range indices around, returns values for integers
to negative powers, has no scatter-add for bools and 8/16-bit integers, and races on repeated
indices in an assignment. The logic that makes gpugrad safe there is array-module generic; here
it runs on NumPy arrays, and on `DeviceArray`, a NumPy array type that stands in for CuPy's:
gpugrad takes its device paths for it (it is not ``numpy.ndarray``), its broadcast views can
be writable, its integer-array indexing and ``add.at`` wrap around as CuPy's do, an assignment
with repeated indices may keep the first write (as a race on a GPU may), and reading
its values on the host (``.get()``, ``item``, ``int``, ``bool``, and indexing with a bool
mask, whose result size CuPy must read) is a "sync" that tests can forbid, as
``cupyx.allow_synchronize(False)`` does.
"""

from __future__ import annotations

import contextlib
import re

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad import backend as B
from gpugrad.core.tensor import wrap
from gpugrad.ops import shape as S
from gpugrad.ops.registry import OVERLAP


@pytest.fixture
def torch():
    """PyTorch, the reference (tests that compare with it skip where it is not installed)."""
    return pytest.importorskip("torch")


# ----------------------------------------------------------------------------- a CuPy stand-in

_syncs_allowed = [True]


def _plain(a):
    if isinstance(a, DeviceArray):
        return a.view(np.ndarray)
    if isinstance(a, (tuple, list)):
        return type(a)(_plain(x) for x in a)
    return a


def _lift(r):
    if isinstance(r, (tuple, list)):
        return type(r)(_lift(x) for x in r)
    if type(r) is np.ndarray or isinstance(r, np.generic):
        return np.asarray(r).view(DeviceArray)
    return r


def _wrapped(shape, key):
    """CuPy's integer-array indexing: indices taken modulo the dim's size (no error)."""
    key = key if isinstance(key, tuple) else (key,)
    if any(k is None or k is Ellipsis for k in key):
        return _plain(key)
    return tuple(_plain(k % shape[d]) if isinstance(k, np.ndarray) and k.dtype.kind in "iu"
                 else _plain(k) for d, k in enumerate(key))


class _Device:
    id = 0


class DeviceArray(np.ndarray):
    """A stand-in for a CuPy array on cuda:0 (see the module doc)."""

    device = _Device()

    def _sync(self):
        if not _syncs_allowed[0]:
            raise AssertionError("a device array's values were read on the host (a sync)")

    def get(self):
        self._sync()
        return self.view(np.ndarray).copy()

    def item(self, *args):
        self._sync()
        return self.view(np.ndarray).item(*args)

    def __bool__(self):
        self._sync()
        return bool(self.view(np.ndarray))

    def __int__(self):
        self._sync()
        return int(self.view(np.ndarray))

    def __float__(self):
        self._sync()
        return float(self.view(np.ndarray))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "at":  # CuPy's scatter wraps its indices around too
            inputs = (inputs[0], _wrapped(inputs[0].shape, inputs[1]), *inputs[2:])
        if "out" in kwargs:
            kwargs["out"] = _plain(kwargs["out"])
        return _lift(getattr(ufunc, method)(*_plain(inputs), **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        return _lift(func(*_plain(args), **_plain(kwargs)))

    def _masks(self, key):
        if any(isinstance(k, np.ndarray) and k.dtype.kind == "b" and k.ndim for k in key):
            self._sync()  # CuPy needs the number of True entries on the host

    def __getitem__(self, key):
        key = _wrapped(self.shape, key)
        self._masks(key)
        return _lift(self.view(np.ndarray)[key])

    def __setitem__(self, key, value):
        key, value = _wrapped(self.shape, key), _plain(value)
        self._masks(key)
        if len(key) == 1 and isinstance(key[0], np.ndarray) and key[0].ndim == 1 and \
                np.ndim(value) == 1 and key[0].dtype.kind != "b":
            key, value = (key[0][::-1],), value[::-1]  # CuPy's writes race: the first may win
        self.view(np.ndarray)[key] = value


class _DeviceModule:
    """The stand-in's array module: NumPy's functions, making device arrays."""

    ndarray = DeviceArray

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def asarray(a, dtype=None):
        return _lift(np.asarray(_plain(a), dtype))


@pytest.fixture
def dev(monkeypatch):
    """Make tensors on the stand-in device: ``dev(array_or_list)``."""
    monkeypatch.setitem(B._XP, DeviceArray, _DeviceModule())
    # as where CuPy is not installed, even if an earlier test loaded the real one
    monkeypatch.setattr(B, "_cupy", None)
    monkeypatch.setattr(B, "_cupy_error", "the stand-in device of tests/test_cuda_safety.py")
    B._pending.clear()
    yield lambda a: wrap(np.array(a).view(DeviceArray))
    B._pending.clear()
    _syncs_allowed[0] = True


@contextlib.contextmanager
def no_sync():
    """Reading a device array's values on the host raises inside (cupyx.allow_synchronize)."""
    _syncs_allowed[0] = False
    try:
        yield
    finally:
        _syncs_allowed[0] = True


# ----------------------------------------------------------------------------- item 5: overlap

_OVERLAP = re.escape(OVERLAP)

# In-place ops on an expanded tensor that PyTorch refuses: (name, on torch or gpugrad module m)
_REFUSED = {
    "add_": lambda m, e: e.add_(1),
    "mul_": lambda m, e: e.mul_(0.9),
    "add_ tensor": lambda m, e: e.add_(m.ones(3, 2)),
    "sub_": lambda m, e: e.sub_(1),
    "neg_": lambda m, e: e.neg_(),
    "exp_": lambda m, e: e.exp_(),
    "clamp_": lambda m, e: e.clamp_(0, 1),
    "copy_": lambda m, e: e.copy_(m.ones(3, 2)),
    "copy_ broadcast": lambda m, e: e.copy_(m.ones(2)),
    "setitem slice": lambda m, e: e.__setitem__((slice(None), 0), 1.0),
    "normal_": lambda m, e: e.normal_(),
    "uniform_": lambda m, e: e.uniform_(),
    "out=": lambda m, e: m.add(m.ones(2), 1, out=e),
}


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
@pytest.mark.parametrize("case", sorted(_REFUSED))
def test_in_place_into_expanded_memory_raises_pytorchs_error(case, grad, torch):
    fn = _REFUSED[case]
    for m in (torch, gg):
        x = m.zeros(1, 2)
        ctx = contextlib.nullcontext() if grad else m.no_grad()
        with ctx, pytest.raises(RuntimeError, match=_OVERLAP):
            fn(m, x.expand(3, 2))
        assert x.tolist() == [[0.0, 0.0]]


def test_writing_a_graph_through_expanded_memory_raises_pytorchs_error(torch):
    for m in (torch, gg):
        y = m.zeros(1, 2, requires_grad=True) * 1
        with pytest.raises(RuntimeError, match=_OVERLAP):
            y.expand(3, 2).add_(1)


@pytest.mark.parametrize("write", ["fill_", "zero_", "index_put_", "setitem int", "setitem tensor"])
def test_fills_and_index_writes_into_expanded_memory_are_refused(write):
    """PyTorch writes these through (index_put_ with a deprecation warning); gpugrad refuses
    them on both devices with the same error: NumPy cannot write a broadcast view, and on a GPU
    all writes into expanded memory are refused alike (a documented difference)."""
    x = gg.zeros(1, 2)
    e = x.expand(3, 2)
    call = {"fill_": lambda: e.fill_(1), "zero_": e.zero_,
            "index_put_": lambda: e.index_put_((gg.tensor([0]),), gg.tensor(1.0)),
            "setitem int": lambda: e.__setitem__(0, 1.0),
            "setitem tensor": lambda: e.__setitem__(gg.tensor([0]), 1.0)}[write]
    with pytest.raises(RuntimeError, match=_OVERLAP):
        call()
    assert x.tolist() == [[0.0, 0.0]]


def test_writes_into_views_that_repeat_no_element_go_through_as_in_pytorch(torch):
    for m in (torch, gg):
        x = m.zeros(2)
        x.expand(1, 2).add_(1)  # a new dim of size 1: no element repeated
        y = m.zeros(2, 2)
        y.expand_as(y).mul_(3).add_(2)  # expanded to its own shape
        m.zeros(0, 1).expand(0, 3).add_(1)  # empty
        z = m.zeros(3, 2)
        z.add_(m.ones(1, 2).expand(3, 2))  # an expanded source is fine
        assert x.tolist() == [1.0, 1.0] and y.tolist() == [[2.0, 2.0]] * 2
        assert z.tolist() == [[1.0, 1.0]] * 3


@pytest.mark.parametrize("write", ["add_", "mul_", "copy_", "fill_", "setitem", "index_put_",
                                   "index_put_ accumulate"])
def test_device_arrays_that_can_be_written_are_refused_before_the_write(dev, write):
    """CuPy's broadcast views are writable (no read-only flag): the check looks at the strides."""
    base = np.zeros(2)
    e = wrap(np.lib.stride_tricks.as_strided(base, (3, 2), (0, 8)).view(DeviceArray))
    assert e._data.flags.writeable
    call = {"add_": lambda: e.add_(1), "mul_": lambda: e.mul_(0.9),
            "copy_": lambda: e.copy_(dev(np.ones((3, 2)))), "fill_": lambda: e.fill_(1),
            "setitem": lambda: e.__setitem__((slice(None), 0), 1.0),
            "index_put_": lambda: e.index_put_((dev([0, 1]),), dev([1.0, 2.0])),
            "index_put_ accumulate": lambda: e.index_put_((dev([0]),), dev([1.0]), True)}[write]
    for grad in (False, True):
        with contextlib.nullcontext() if grad else gg.no_grad():
            with pytest.raises(RuntimeError, match=_OVERLAP):
                call()
    assert base.tolist() == [0.0, 0.0]


# ----------------------------------------------------------------------------- item 6: indices


def test_a_deferred_index_check_raises_at_the_next_sync_point_only():
    B._pending.clear()
    msg = "gather: index {value} is out of bounds for dimension 1 with size 3"
    B.defer_index_check(msg, np.array([[0, 1], [2, 5]]), 0, 3)  # no error yet
    B.defer_index_check("other: index {value} bad", np.array([0, 2]), 0, 3)  # a good one
    with pytest.raises(IndexError, match=r"gather: index 5 is out of bounds for dimension 1 "
                                         r"with size 3 \(checked on the device; reported"):
        B.raise_deferred()
    B.raise_deferred()  # reported once: the pending checks are cleared
    assert not B._pending


def test_repeated_deferred_checks_fold_into_one_and_keep_the_worst_index():
    B._pending.clear()
    msg = "getitem: index {value} is out of bounds for dimension 0 with size 4"
    for idx in ([0, 3], [-9, 1], [2, 3], []):  # in a loop: one entry, memory stays bounded
        B.defer_index_check(msg, np.array(idx, dtype=np.int64), -4, 4)
    assert len(B._pending["cpu"]) == 1
    with pytest.raises(IndexError, match="index -9 is out of bounds"):
        B.raise_deferred()
    for idx in ([0, 3], [-4, 1]):
        B.defer_index_check(msg, np.array(idx), -4, 4)
    B.raise_deferred()  # all good: nothing raised


def test_check_index_on_the_cpu_raises_at_once_naming_the_first_bad_index():
    with pytest.raises(IndexError, match="^op: index 7 bad$"):
        B.check_index("op: index {value} bad", np.array([[1, 7], [-1, 9]]), 0, 5)
    B.check_index("op: index {value} bad", np.array([], dtype=np.int64), 0, 0)
    B.check_index("op: index {value} bad", np.array([-5, 4]), -5, 5)


@pytest.mark.parametrize("sync", ["item", "tolist", "cpu", "repr", "float", "bool", "numpy"])
def test_every_read_of_device_values_is_a_sync_point_that_reports(dev, sync):
    y = dev(np.arange(6.0).reshape(2, 3))
    r = y[dev([0, 7])][:1, :1]  # computed with a wrapped index: must not reach the host
    read = {"item": r.item, "tolist": r.tolist, "cpu": r.cpu, "repr": lambda: repr(r),
            "float": lambda: float(r), "bool": lambda: bool(r),
            "numpy": lambda: r.numpy(force=True)}[sync]
    with pytest.raises(IndexError, match="getitem: index 7 is out of bounds for dimension 0 "
                                         "with size 2"):
        read()
    assert read() is not None or sync == "item"  # reported once; values readable again


def _ce(m, x, t):
    return m.nn.functional.cross_entropy(x, t)


def _nll(m, x, t):
    return m.nn.functional.nll_loss(x.log_softmax(1), t)


_LOOKUPS = {  # name: (the op on module m with tensors made by mk, the error (both devices))
    "getitem": (lambda m, mk: mk([[1.0, 2.0], [3.0, 4.0]])[mk([1, 2])],
                "getitem: index 2 is out of bounds for (axis|dimension) 0"),
    "getitem negative": (lambda m, mk: mk([1.0, 2.0])[mk([-3])],
                         "getitem: index -3 is out of bounds for (axis|dimension) 0"),
    "getitem dim 1": (lambda m, mk: mk([[1.0, 2.0]])[:, mk([0, 5])],
                      "getitem: index 5 is out of bounds for (axis|dimension) 1"),
    "setitem": (lambda m, mk: mk([1.0, 2.0]).__setitem__(mk([4]), 0.0),
                "(setitem|index_put): index 4 is out of bounds"),
    "index_put accumulate": (lambda m, mk: mk([1.0, 2.0]).index_put((mk([0, 9]),),
                                                                    mk([1.0, 1.0]), True),
                             "index_put: index 9 is out of bounds"),
    "gather": (lambda m, mk: m.gather(mk([[1.0, 2.0]]), 1, mk([[0, 2]])),
               "gather: index 2 is out of bounds for dimension 1 with size 2"),
    "take_along_dim": (lambda m, mk: m.take_along_dim(mk([[1.0, 2.0]]), mk([[-1]]), 1),
                       "gather: index -1 is out of bounds"),
    "scatter_add": (lambda m, mk: m.scatter_add(mk([[1.0, 2.0]]), 1, mk([[3]]), mk([[1.0]])),
                    "scatter_add: index 3 is out of bounds"),
    "cross_entropy": (lambda m, mk: _ce(m, mk([[1.0, 2.0], [0.0, 1.0]]), mk([1, 2])),
                      "cross_entropy: Target 2 is out of bounds"),
    "cross_entropy negative": (lambda m, mk: _ce(m, mk([[1.0, 2.0]]), mk([-1])),
                               "cross_entropy: Target -1 is out of bounds"),
    "nll_loss": (lambda m, mk: _nll(m, mk([[1.0, 2.0], [0.0, 1.0]]), mk([0, 7])),
                 "nll_loss: Target 7 is out of bounds"),
    "embedding": (lambda m, mk: F.embedding(mk([0, 3]), mk([[1.0], [2.0]])),
                  "index out of range in self|getitem: index 3 is out of bounds"),
}


@pytest.mark.parametrize("case", sorted(_LOOKUPS))
def test_out_of_range_indices_raise_on_the_cpu_at_once(case):
    fn, want = _LOOKUPS[case]
    with pytest.raises(IndexError, match=want):
        fn(gg, gg.tensor)


@pytest.mark.parametrize("case", sorted(_LOOKUPS))
def test_out_of_range_indices_on_a_device_raise_at_the_next_sync_not_silently(dev, case):
    """CuPy wraps the bad index around (as the stand-in does): the op returns, without waiting
    for the device, and the next read of any device value raises naming the op and the index."""
    fn, want = _LOOKUPS[case]
    with no_sync():
        fn(gg, dev)
    assert B._pending, "no check was made"
    with pytest.raises(IndexError, match=want):
        dev([0.0]).tolist()
    assert not B._pending


def test_good_indices_on_a_device_give_pytorchs_values_without_a_sync(dev, torch):
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 3)), np.array([2, 0, 1, 2])
    with no_sync():
        loss = F.cross_entropy(dev(x), dev(t))
        nll = F.nll_loss(dev(x), dev(t), reduction="sum")
        picked = dev(x)[dev([0, -1, 2])]
        gathered = gg.gather(dev(x), 1, dev(t[:, None]))
    ignored = F.cross_entropy(dev(x), dev([2, -100, 1, -100]))  # ignore_index on a device
    tx, tt = torch.tensor(x), torch.tensor(t)
    np.testing.assert_allclose(loss.item(), torch.nn.functional.cross_entropy(tx, tt).item())
    np.testing.assert_allclose(nll.item(), torch.nn.functional.nll_loss(tx, tt, reduction="sum"))
    np.testing.assert_allclose(ignored.item(), torch.nn.functional.cross_entropy(
        tx, torch.tensor([2, -100, 1, -100])).item())
    assert picked.tolist() == tx[[0, -1, 2]].tolist()
    assert gathered.tolist() == tx.gather(1, tt[:, None]).tolist()
    assert not B._pending


def test_a_bad_label_in_a_training_step_on_a_device_is_reported_not_a_wrong_loss(dev):
    w = dev(np.ones((3, 4)) * 0.1)
    w.requires_grad_()
    x = dev(np.eye(3))
    with no_sync():  # forward and backward queue work only
        loss = F.cross_entropy(x @ w, dev([0, 9, 1]))
        loss.backward()
    with pytest.raises(IndexError, match="cross_entropy: Target 9 is out of bounds"):
        print(loss)


def test_check_arrays_finds_the_dim_each_index_array_indexes():
    shape = (2, 3, 4, 5)
    cases = [((np.array([1]), np.array([3])), "dimension 1 with size 3"),
             ((Ellipsis, np.array([5])), "dimension 3 with size 5"),
             ((None, slice(None), np.array([-4])), "dimension 1 with size 3"),
             ((np.ones((2, 3), bool), np.array([4])), "dimension 2 with size 4"),
             ((0, Ellipsis, np.array([9]), slice(None)), "dimension 2 with size 4")]
    for idx, want in cases:
        with pytest.raises(IndexError, match=want):
            S.check_arrays("getitem", shape, idx)
    S.check_arrays("getitem", shape, (np.array([1, -2]), np.array([2, -3]), Ellipsis,
                                      np.array([4, -5])))


def test_integers_to_negative_powers_raise_or_truncate_as_in_pytorch(dev, torch):
    for m in (torch, gg):
        for dt in (m.int64, m.uint8):
            with pytest.raises(RuntimeError, match="Integers to negative integer powers are not "
                                                   "allowed"):
                m.tensor([2, 3], dtype=dt) ** -1
        with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
            m.tensor([2]).pow_(-2)
    a, b = [1, -1, 2, -1, 0, 3], [-1, -3, -1, -2, 2, 2]
    want = (torch.tensor(a) ** torch.tensor(b)).tolist()
    assert (gg.tensor(a) ** gg.tensor(b)).tolist() == want
    with no_sync():  # no question about the exponents' signs to the device
        r = dev(a) ** dev(b)
        with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
            dev(a) ** -1
    assert r.tolist() == want


# ----------------------------------------------------------------------------- item 7


class _CupyAddAt:
    """``cupy.add`` for `add_at`: its ``at`` takes only the dtypes CuPy 14's scatter-add does."""

    @staticmethod
    def at(out, idx, v):
        if out.dtype not in (np.int32, np.int64, np.uint32, np.uint64, np.float16, np.float32,
                             np.float64):
            raise TypeError("cupy.add.at only supports int32, int64, float16, float32, "
                            "float64, uint32, uint64 as data type")
        np.add.at(out, idx, v)


class _CupyLike:
    add = _CupyAddAt()
    int32 = np.int32


@pytest.mark.parametrize("dt", ["int8", "uint8", "int16", "bool", "int32", "float32"])
def test_scatter_add_and_accumulate_on_narrow_dtypes_wrap_around_as_in_pytorch(dt, torch):
    idx = [0, 0, 1, 1, 2]
    if dt == "bool":
        x, src = [False, False, True], [True, False, False, False, False]
    else:
        x, src = [120, 0, 1], [100, 100, 50, 7, -1 if dt != "uint8" else 255]
    want = {}
    for m in (torch, gg):
        d = getattr(m, dt)
        t, s, i = m.tensor(x, dtype=d), m.tensor(src, dtype=d), m.tensor(idx)
        want[m] = (t.scatter_add(0, i, s).tolist(), t.index_put((i,), s, accumulate=True).tolist())
    assert want[gg] == want[torch]
    # the same through an add.at that refuses narrow dtypes, as CuPy's does
    out = np.array(x, dtype=np.dtype(dt if dt != "bool" else np.bool_))
    S.add_at(_CupyLike, out, (np.array(idx),), np.array(src, dtype=out.dtype))
    assert out.tolist() == want[torch][0]


def _writers_agree(shape, idx, v):
    """Whether every element that `idx` names more than once gets one value from all writes."""
    pos = np.arange(int(np.prod(shape))).reshape(shape)[idx].reshape(-1)
    vals = np.broadcast_to(np.asarray(v), np.zeros(shape)[idx].shape).reshape(-1)
    return all(len(set(vals[pos == p].tolist())) == 1 for p in np.unique(pos))


_REPEATS = np.array([0, 2, 0, 1, 2, 2])
_ASSIGNMENTS = [  # (shape, index tuple, shape of the values)
    ((3,), (_REPEATS,), (6,)),
    ((3, 4), (_REPEATS,), (6, 4)),
    ((3, 4), (_REPEATS,), (6, 1)),
    ((4, 3), (slice(None), _REPEATS), (4, 6)),
    ((4, 3, 5), (slice(None), _REPEATS, slice(1, 4)), (4, 6, 3)),
    ((3, 3), (_REPEATS, _REPEATS[::-1]), (6,)),
    ((3, 5, 3), (_REPEATS, slice(None), _REPEATS[::-1]), (6, 5)),  # apart: array dims first
    ((2, 3, 5), (0, _REPEATS, slice(None)), (6, 5)),  # an int next to an array
    ((3, 2, 5), (_REPEATS, Ellipsis, 1), (6, 2)),
    ((3, 4), (_REPEATS[:, None], np.array([[0, 1, 0]])), (6, 3)),
    ((3, 4), (None, _REPEATS), (1, 6, 4)),
    ((3,), (-_REPEATS - 1,), (6,)),
]


@pytest.mark.parametrize("case", range(len(_ASSIGNMENTS)))
def test_repeated_indices_in_an_assignment_get_the_last_writes_value(case):
    shape, idx, vshape = _ASSIGNMENTS[case]
    v = np.random.default_rng(case).standard_normal(vshape)
    assert not _writers_agree(shape, idx, v)
    fixed = S.last_wins(np, shape, idx, v)
    assert _writers_agree(shape, idx, fixed)
    want, got = np.zeros(shape), np.zeros(shape)
    want[idx] = v  # NumPy assigns in order: the last write wins
    got[idx] = fixed
    np.testing.assert_array_equal(got, want)
    assert S.last_wins(np, shape, idx, 1.5) == 1.5  # one value: nothing to do


def test_assignments_with_repeated_indices_on_a_device_are_deterministic(dev):
    v = np.arange(6.0)
    with no_sync():
        t = dev(np.zeros(3))
        t[dev(_REPEATS)] = dev(v)
        u = dev(np.zeros(3)).index_put((dev(_REPEATS),), dev(v))
    want = np.zeros(3)
    want[_REPEATS] = v
    assert t.tolist() == u.tolist() == want.tolist() == [2.0, 3.0, 5.0]
