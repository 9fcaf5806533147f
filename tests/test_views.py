"""Views as in PyTorch: a view is a new tensor that shares its base's storage and version
counter and remembers the base; in place on a non-leaf keeps what the backward needs; in place
on a view rebases the graph of the base and of its other views (CopySlices). The expected
values were computed with PyTorch 2.13; where torch is installed, it is also run live."""

from __future__ import annotations

import numpy as np
import pytest

import gpugrad as gg

# call -> (a view op applied to y of shape (3,) or m of shape (2, 3)); each returns a new tensor
VIEWS = {
    "view": lambda y, m: y.view(y.shape),
    "reshape": lambda y, m: y.reshape(3),
    "view_as": lambda y, m: y.view_as(y),
    "permute": lambda y, m: m.permute(0, 1),
    "movedim": lambda y, m: m.movedim(0, 0),
    "T": lambda y, m: y.T,
    "t": lambda y, m: y.t(),
    "transpose": lambda y, m: m.transpose(0, 0),
    "mT": lambda y, m: m.mT,
    "expand": lambda y, m: y.expand(3),
    "broadcast_to": lambda y, m: y.broadcast_to((3,)),
    "squeeze": lambda y, m: y.squeeze(),
    "unsqueeze": lambda y, m: y.unsqueeze(0),
    "narrow": lambda y, m: y.narrow(0, 0, 3),
    "select": lambda y, m: m.select(0, 1),
    "getitem_ellipsis": lambda y, m: y[...],
    "getitem_slice": lambda y, m: y[:],
    "split": lambda y, m: y.split(3)[0],
    "chunk": lambda y, m: y.chunk(1)[0],
    "unbind": lambda y, m: m.unbind(0)[1],
}


def _ym(lib, device=None):
    kw = {} if device is None else {"device": device}
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True, **kw)
    w = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True, **kw)
    return x * 1, w * 1


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_view_is_a_new_tensor_sharing_storage_and_version(name, device):
    y, m = _ym(gg, device)
    v = VIEWS[name](y, m)
    src = m if v._base is m else y
    assert v is not y and v is not m
    assert v._base is src
    before = v._version
    with gg.no_grad():
        src.add_(1)
    assert v._version == src._version == before + 1
    assert v.requires_grad and v.grad_fn is not None


def test_flatten_and_contiguous_return_the_tensor_itself_as_in_pytorch():
    y, m = _ym(gg)
    assert y.flatten() is y and m.flatten(1, 1) is m and y.contiguous() is y
    s = gg.tensor(2.0, requires_grad=True) * 1
    assert s.flatten()._base is s


def test_detach_shares_the_version_counter_but_is_not_a_view():
    y, _ = _ym(gg)
    d = y.detach()
    assert getattr(d, "_base", None) is None
    d.add_(1)
    assert y._version == 1


def test_hook_on_a_same_shape_view_changes_only_the_view():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    v = y.view(y.shape)
    v.register_hook(lambda g: g * 100)
    (y.sum() + 0 * v.sum()).backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]  # PyTorch; the hook only scales the 0 * v path


def test_retain_grad_on_a_view_is_the_views_own():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    v = y.view(2)
    v.retain_grad()
    (v * gg.tensor([5.0, 7.0])).sum().backward()
    assert v.grad.tolist() == [5.0, 7.0] and y.grad is None


# ----------------------------------------------------------------------------- in place


def _scenarios(lib):
    """Each scenario returns a list of floats; the expected values are PyTorch 2.13's."""
    c32 = lib.tensor([[1.0, 1.0], [3.0, 5.0], [7.0, 7.0]])

    def copy_into_view_of_buffer():
        h = lib.tensor([1.0, 2.0], requires_grad=True)
        out = lib.zeros(3, 2)
        out[1].copy_(h)
        (out * c32).sum().backward()
        return h.grad.tolist() + [float(out.requires_grad)]

    def add_into_narrow():
        h = lib.tensor([1.0, 2.0], requires_grad=True)
        out = lib.zeros(3, 2)
        out.narrow(0, 1, 1).add_(h * 2)
        (out * c32).sum().backward()
        return h.grad.tolist()

    def setitem_into_slice_of_buffer():
        h = lib.tensor([1.0, 2.0], requires_grad=True)
        out = lib.zeros(3, 2)
        out[1:][0] = h ** 2
        (out * c32).sum().backward()
        return h.grad.tolist()

    def mul_on_view_of_graph_tensor():
        x = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        y = x * 2
        y[1:3].mul_(3)
        (y * lib.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
        return x.grad.tolist()

    def other_view_sees_the_write():
        x = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        y = x * 2
        a, b = y[0:2], y[1:3]
        b.mul_(3)
        (a * lib.tensor([1.0, 10.0])).sum().backward()
        return x.grad.tolist() + a.tolist()

    def view_after_base_in_place():
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = x * 1
        v = b[0]
        b.mul_(3)
        v.backward()
        return x.grad.tolist()

    def transposed_view_written():
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        y = x * 1
        y.t()[0].mul_(lib.tensor([5.0, 6.0]))
        (y * lib.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
        return x.grad.flatten().tolist() + y.detach().flatten().tolist()

    def second_order_through_copy_into_view():
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        buf = lib.zeros(3)
        buf[1:].copy_(x[:2] ** 2)
        (g,) = lib.autograd.grad((buf ** 2).sum(), x, create_graph=True)
        (g2,) = lib.autograd.grad(g.sum(), x)
        return g.tolist() + g2.tolist()

    def imul_non_leaf():
        x = lib.tensor([0.3, 1.2, 2.0], requires_grad=True)
        w = lib.tensor([1.5, 2.0, 0.5], requires_grad=True)
        y = x * 1
        y *= w
        y.sin_()
        (y * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        return [round(v, 12) for v in x.grad.tolist() + w.grad.tolist()]

    return {f.__name__: f for f in [
        copy_into_view_of_buffer, add_into_narrow, setitem_into_slice_of_buffer,
        mul_on_view_of_graph_tensor, other_view_sees_the_write, view_after_base_in_place,
        transposed_view_written, second_order_through_copy_into_view, imul_non_leaf]}


EXPECTED = {  # PyTorch 2.13
    "copy_into_view_of_buffer": [3.0, 5.0, 1.0],
    "add_into_narrow": [6.0, 10.0],
    "setitem_into_slice_of_buffer": [6.0, 20.0],
    "mul_on_view_of_graph_tensor": [2.0, 12.0, 18.0, 8.0],
    "other_view_sees_the_write": [2.0, 60.0, 0.0, 0.0, 2.0, 12.0],
    "view_after_base_in_place": [3.0, 0.0, 0.0],
    "transposed_view_written": [5.0, 2.0, 18.0, 4.0, 5.0, 2.0, 18.0, 4.0],
    "second_order_through_copy_into_view": [4.0, 32.0, 0.0, 12.0, 48.0, 0.0],
    "imul_non_leaf": [1.350670653529, -2.949574862165, 0.810453458802, 0.270134130706,
                      -1.769744917299, 3.241813835209],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_in_place_scenario_matches_pytorch(name):
    got = _scenarios(gg)[name]()
    np.testing.assert_allclose(got, EXPECTED[name], rtol=1e-6, atol=1e-7)  # float32


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_in_place_scenario_matches_live_torch(name):
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float32)
    np.testing.assert_allclose(_scenarios(gg)[name](), _scenarios(torch)[name](), rtol=1e-5,
                               atol=1e-6)


def test_a_real_conflict_still_raises_naming_both_versions():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = y * y
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"MulBackward0.*version 0.*version 1|"
                                           r"MulBackward0.*modified by an in-place"):
        z.sum().backward()


def test_output_saved_by_another_node_then_changed_raises():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x.sigmoid()  # SigmoidBackward0 reads its output
    y.mul_(2)
    with pytest.raises(RuntimeError, match="SigmoidBackward0"):
        y.sum().backward()


def test_in_place_on_a_leaf_or_a_view_of_a_leaf_that_requires_grad_raises():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="add_: a leaf tensor that requires grad"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="mul_: a view of a leaf tensor that requires grad"):
        x[0].mul_(2)
    with gg.no_grad():  # an optimizer's update
        x[0].mul_(2)
    assert x.tolist() == [2.0, 2.0]


def test_in_place_on_a_view_made_in_no_grad_raises_as_in_pytorch():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    with gg.no_grad():
        v = y[0:1]
    with pytest.raises(RuntimeError, match="mul_: a view was created in no_grad mode"):
        v.mul_(2)
    with gg.no_grad():
        v.mul_(2)  # both inside: not tracked
    assert y.tolist() == [2.0, 2.0]


def test_write_into_a_view_makes_the_buffer_require_grad_and_keeps_its_dtype():
    h = gg.tensor([1.0, 2.0], dtype=gg.float64, requires_grad=True)
    out = gg.zeros(2, 2)  # float32
    out[0].copy_(h)
    assert out.requires_grad and out.grad_fn.name() == "CopySlices"
    out.sum().backward()
    assert h.grad.dtype is gg.float64 and h.grad.tolist() == [1.0, 1.0]


def test_forward_mode_through_a_write_into_a_view():
    from gpugrad.autograd import forward_ad as fwAD

    with fwAD.dual_level():
        h = fwAD.make_dual(gg.tensor([1.0, 2.0]), gg.tensor([10.0, 20.0]))
        out = gg.zeros(3, 2)
        other = out[2]
        out[1].copy_(h * h)
        assert fwAD.unpack_dual(out).tangent.tolist() == [[0, 0], [20.0, 80.0], [0, 0]]
        assert fwAD.unpack_dual(other).tangent.tolist() == [0.0, 0.0]
