"""gpugrad.autograd.Function: custom ops with PyTorch's interface (values, gradients, every
ctx method, errors, double backward, forward mode, several outputs)."""

import numpy as np
import pytest

import gpugrad
import gpugrad.autograd.forward_ad as fwAD
from gpugrad.autograd import Function, gradcheck, gradgradcheck
from gpugrad.autograd.function import FunctionCtx, once_differentiable


class Cube(Function):
    """x^3 * k, with a non-tensor argument and backward written in gpugrad ops."""

    @staticmethod
    def forward(ctx, x, k=1.0):
        ctx.save_for_backward(x)
        ctx.k = k
        return x ** 3 * k

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x ** 2 * ctx.k, None

    @staticmethod
    def jvp(ctx, t, tk=None):
        (x,) = ctx.saved_tensors
        return t * 3 * x ** 2 * ctx.k


class MulAdd(Function):
    """x * y + z in the setup_context style."""

    @staticmethod
    def forward(x, y, z):
        return x * y + z

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, y, _ = inputs
        ctx.save_for_backward(x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y, g * x, g

    @staticmethod
    def jvp(ctx, tx, ty, tz):
        x, y = ctx.saved_tensors
        return tx * y + x * ty + tz


class SinCos(Function):
    """Two outputs and a non-tensor one."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin(), x.cos(), "label"

    @staticmethod
    def backward(ctx, gs, gc, gl):
        (x,) = ctx.saved_tensors
        return gs * x.cos() - gc * x.sin()

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return t * x.cos(), -t * x.sin(), None


def f64(*values, rg=True):
    return gpugrad.tensor(values, dtype=gpugrad.float64, requires_grad=rg)


# ----------------------------------------------------------------------------- values, grads


def test_values_gradient_and_node_name():
    x = f64(1.0, 2.0)
    y = Cube.apply(x, 2.0)
    np.testing.assert_allclose(y.detach().numpy(), [2.0, 16.0])
    assert y.grad_fn.name() == "CubeBackward"
    assert "CubeBackward" in repr(y.grad_fn)
    assert y.grad_fn.next_functions[0][0].variable is x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 24.0])  # 3 k x^2


def test_setup_context_style_binds_arguments():
    x, y, z = f64(1.0, 2.0), f64(3.0, 4.0), f64(0.5, 0.5)
    out = MulAdd.apply(x, y, z=z)
    np.testing.assert_allclose(out.detach().numpy(), [3.5, 8.5])
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(y.grad.numpy(), [1.0, 2.0])
    np.testing.assert_allclose(z.grad.numpy(), [1.0, 1.0])
    assert out.grad_fn.name() == "MulAddBackward"


def test_gradcheck_and_gradgradcheck():
    x = gpugrad.randn(4, dtype=gpugrad.float64, requires_grad=True)
    y, z = gpugrad.randn(4, dtype=gpugrad.float64, requires_grad=True), \
        gpugrad.randn(4, dtype=gpugrad.float64, requires_grad=True)
    assert gradcheck(lambda x: Cube.apply(x, 1.5), (x,))
    assert gradgradcheck(lambda x: Cube.apply(x, 1.5), (x,))
    assert gradcheck(MulAdd.apply, (x, y, z))
    assert gradgradcheck(MulAdd.apply, (x, y, z))
    assert gradcheck(lambda x: SinCos.apply(x)[:2], (x,))
    assert gradgradcheck(lambda x: SinCos.apply(x)[:2], (x,))


def test_double_backward():
    x = f64(1.0, 2.0)
    (g,) = gpugrad.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [3.0, 12.0])
    (gg,) = gpugrad.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), [6.0, 12.0])  # 6 x


def test_saved_output_double_backward():
    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    x = f64(0.0, 1.0)
    assert gradcheck(Exp.apply, (x,))
    assert gradgradcheck(Exp.apply, (x,))
    (g,) = gpugrad.autograd.grad(Exp.apply(x).sum(), x, create_graph=True)
    (gg,) = gpugrad.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), np.exp([0.0, 1.0]))


def test_no_tensor_inputs_and_grad_mode_off():
    class Twice(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    assert Twice.apply(2.0) == 4.0
    x = f64(1.0)
    with gpugrad.no_grad():
        y = Cube.apply(x)
    assert y.grad_fn is None and not y.requires_grad
    z = Cube.apply(f64(1.0, rg=False))
    assert z.grad_fn is None


# ----------------------------------------------------------------------------- several outputs


def test_several_outputs():
    x = f64(0.5, 1.0)
    s, c, label = SinCos.apply(x)
    assert label == "label"
    assert s.grad_fn.name() == c.grad_fn.name() == "SinCosBackward"
    np.testing.assert_allclose(s.detach().numpy(), np.sin([0.5, 1.0]))
    (2 * s + 3 * c).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos([0.5, 1.0]) - 3 * np.sin([0.5, 1.0]))


def test_unused_output_gets_zeros_or_none():
    seen = []

    class Two(Function):
        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            seen.append((ga, gb))
            return ga * 2 if ga is not None else None, None

    x = f64(1.0, 2.0)
    a, b = Two.apply(x, True)
    b.sum().backward()
    ga, gb = seen[-1]
    np.testing.assert_array_equal(ga.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(gb.numpy(), [1.0, 1.0])
    a, b = Two.apply(x, False)
    b.sum().backward(inputs=[x])
    assert seen[-1][0] is None


def test_hooks_and_retain_grad_on_one_of_several_outputs():
    x = f64(0.5)
    s, c, _ = SinCos.apply(x)
    c.retain_grad()
    s.register_hook(lambda g: g * 10)
    (s + c).sum().backward()
    np.testing.assert_allclose(c.grad.numpy(), [1.0])
    np.testing.assert_allclose(x.grad.numpy(), 10 * np.cos([0.5]) - np.sin([0.5]))


# ----------------------------------------------------------------------------- ctx


def test_needs_input_grad():
    seen = []

    class Rec(Function):
        @staticmethod
        def forward(ctx, x, y, k):
            seen.append(ctx.needs_input_grad)
            return x * y * k

        @staticmethod
        def backward(ctx, g):
            return g, g, None

    Rec.apply(f64(1.0), f64(2.0, rg=False), 3)
    assert seen[-1] == (True, False, False)
    with gpugrad.no_grad():
        Rec.apply(f64(1.0), f64(2.0), 3)
    assert seen[-1] == (False, False, False)


def test_saved_tensor_modified_in_place_raises_with_versions():
    x = f64(1.0, 2.0)
    y = x * 1
    z = Cube.apply(y)
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"CubeBackward.*version 1; expected version 0"):
        z.sum().backward()


def test_saved_output_modified_in_place_raises():
    class Double(Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * 2

    y = Double.apply(f64(1.0))
    y.mul_(3)
    with pytest.raises(RuntimeError, match="DoubleBackward.*modified by an in-place"):
        y.sum().backward()


def test_backward_twice_without_retain_graph_raises():
    y = Cube.apply(f64(1.0))
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="CubeBackward: trying to backward through the graph"):
        y.sum().backward()


def test_save_none_and_non_tensor_rejected():
    class SaveNone(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(None, x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            none, x = ctx.saved_tensors
            assert none is None
            return g * 2

    x = f64(1.0)
    SaveNone.apply(x).backward()
    assert x.grad.item() == 2.0
    with pytest.raises(TypeError, match="save_for_backward can only save tensors"):
        FunctionCtx().save_for_backward(3.0)


def test_mark_dirty():
    class AddOne(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    a = f64(1.0, 2.0)
    b = a * 2
    out = AddOne.apply(b)
    assert out is b and b.grad_fn.name() == "AddOneBackward"
    np.testing.assert_array_equal(b.detach().numpy(), [3.0, 5.0])
    (b * b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [12.0, 20.0])  # 2 * 2 * (2a + 1)
    with pytest.raises(RuntimeError, match="AddOne: a leaf tensor that requires grad"):
        AddOne.apply(f64(1.0))


def test_mark_dirty_needs_the_tensor_returned():
    class Forgot(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="Forgot: a tensor marked dirty"):
        Forgot.apply(f64(1.0) * 1)


def test_mark_non_differentiable():
    class SortIdx(Function):
        @staticmethod
        def forward(ctx, x):
            idx = (x > 2).long()
            y = x * 2
            ctx.mark_non_differentiable(idx)
            return y, idx

        @staticmethod
        def backward(ctx, g, gidx):
            assert gidx is None or float(gidx.abs().sum()) == 0
            return g * 2

    x = f64(3.0, 1.0)
    y, idx = SortIdx.apply(x)
    assert not idx.requires_grad and idx.grad_fn is None
    assert y.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])

    class FloatMask(Function):
        @staticmethod
        def forward(ctx, x):
            m = (x > 0).to(x.dtype)
            ctx.mark_non_differentiable(m)
            return m

        @staticmethod
        def backward(ctx, g):
            return g

    m = FloatMask.apply(f64(1.0, -1.0))
    assert not m.requires_grad and m.grad_fn is None


def test_integer_output_is_not_differentiable():
    class Count(Function):
        @staticmethod
        def forward(ctx, x):
            return (x > 0).sum()

        @staticmethod
        def backward(ctx, g):
            return None

    c = Count.apply(f64(1.0, -1.0, 2.0))
    assert int(c) == 2 and not c.requires_grad


def test_input_returned_as_is_shares_its_version_counter():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    x = f64(1.0) * 1
    y = Identity.apply(x)
    assert y is not x and y._version == x._version
    with gpugrad.no_grad():
        y.add_(1)
    assert x._version == y._version == 1


# ----------------------------------------------------------------------------- errors


def _bad(backward):
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

    Bad.backward = staticmethod(backward)
    return Bad


@pytest.mark.parametrize("backward, error, message", [
    (lambda ctx, g: g, RuntimeError,
     r"BadBackward returned an incorrect number of gradients \(expected 2, got 1\)"),
    (lambda ctx, g: (g, None, g), RuntimeError, r"incorrect number of gradients"),
    (lambda ctx, g: (g[:1], None), RuntimeError,
     r"BadBackward returned an invalid gradient for input 0: shape \(1,\), but the input has "
     r"shape \(2,\)"),
    (lambda ctx, g: (g.long(), None), TypeError, r"BadBackward returned a gradient of dtype "
     r"gpugrad.int64 for input 0"),
    (lambda ctx, g: (1.0, None), TypeError, r"BadBackward returned a float as the gradient for "
     r"input 0; expected a Tensor or None"),
    (lambda ctx, g: (g, g), RuntimeError, r"BadBackward returned a gradient different than None "
     r"for input 1, but the corresponding forward input was not a Tensor"),
])
def test_bad_backward(backward, error, message):
    x = f64(1.0, 2.0)
    with pytest.raises(error, match=message):
        _bad(backward).apply(x, 2.0).sum().backward()


def test_extra_none_gradients_broadcast_and_float_cast_are_accepted():
    x = gpugrad.ones(2, 3, requires_grad=True)  # float32
    _bad(lambda ctx, g: (g.double(), None, None)).apply(x, 2.0).sum().backward()
    assert x.grad.dtype is gpugrad.float32
    x.grad = None
    # a gradient the input broadcasts to is summed down to the input's shape (as PyTorch)
    _bad(lambda ctx, g: (g.expand(4, 2, 3), None)).apply(x, 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 4.0))


def test_user_errors_pass_through_unchanged():
    class Raises(Function):
        @staticmethod
        def forward(ctx, x):
            raise ValueError("bad input")

    with pytest.raises(ValueError, match="^bad input$"):
        Raises.apply(f64(1.0))


def test_legacy_use_and_missing_methods():
    with pytest.warns(DeprecationWarning, match="should not be instantiated"):
        f = Cube()
    with pytest.raises(RuntimeError, match="Legacy autograd function with non-static forward"):
        f(f64(1.0))

    class NoBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    with pytest.raises(NotImplementedError, match="implement either the backward or vjp"):
        NoBackward.apply(f64(1.0)).backward()
    with pytest.raises(NotImplementedError, match="implement the forward function"):
        Function.apply(f64(1.0))


def test_vjp_may_replace_backward():
    class V(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def vjp(ctx, g):
            return g * 2

    x = f64(1.0)
    V.apply(x).backward()
    assert x.grad.item() == 2.0


# ----------------------------------------------------------------------------- forward mode


def test_jvp():
    with fwAD.dual_level():
        x = fwAD.make_dual(f64(1.0, 2.0, rg=False), f64(1.0, 0.5, rg=False))
        t = fwAD.unpack_dual(Cube.apply(x, 2.0)).tangent
        np.testing.assert_allclose(t.numpy(), [6.0, 12.0])  # 3 k x^2 t
        y = fwAD.make_dual(f64(3.0, 4.0, rg=False), f64(1.0, 1.0, rg=False))
        # z has no tangent: jvp gets zeros for it
        t = fwAD.unpack_dual(MulAdd.apply(x, y, f64(0.0, 0.0, rg=False))).tangent
        np.testing.assert_allclose(t.numpy(), [1 * 3 + 1 * 1, 0.5 * 4 + 2 * 1])
        s, c, _ = SinCos.apply(x)
        np.testing.assert_allclose(fwAD.unpack_dual(s).tangent.numpy(),
                                   np.cos([1.0, 2.0]) * [1.0, 0.5])
        np.testing.assert_allclose(fwAD.unpack_dual(c).tangent.numpy(),
                                   -np.sin([1.0, 2.0]) * [1.0, 0.5])


def test_jvp_matches_vjp():
    x = gpugrad.randn(3, dtype=gpugrad.float64)
    v = gpugrad.randn(3, dtype=gpugrad.float64)
    _, jv = gpugrad.func.jvp(lambda x: Cube.apply(x, 1.5), (x,), (v,))
    J = gpugrad.autograd.functional.jacobian(lambda x: Cube.apply(x, 1.5), x)
    np.testing.assert_allclose(jv.numpy(), (J @ v).numpy())


def test_forward_mode_without_jvp_raises():
    class NoJvp(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    with fwAD.dual_level():
        x = fwAD.make_dual(f64(1.0, rg=False), f64(1.0, rg=False))
        with pytest.raises(NotImplementedError, match="NoJvp: you must implement the jvp"):
            NoJvp.apply(x)


def test_save_for_forward():
    class Sq(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_forward(x)
            return x * x

        @staticmethod
        def jvp(ctx, t):
            (x,) = ctx.saved_tensors
            return 2 * x * t

    with fwAD.dual_level():
        x = fwAD.make_dual(f64(3.0, rg=False), f64(1.0, rg=False))
        assert fwAD.unpack_dual(Sq.apply(x)).tangent.item() == 6.0


# ----------------------------------------------------------------------------- once_differentiable


class NumpyExp(Function):
    """A backward on raw arrays: not differentiable again."""

    @staticmethod
    def forward(ctx, x):
        y = gpugrad.from_numpy(np.exp(x.detach().numpy()))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        assert not gpugrad.is_grad_enabled()
        return gpugrad.from_numpy(g.detach().numpy() * y.detach().numpy())


def test_once_differentiable():
    x = f64(0.0, 1.0)
    y = NumpyExp.apply(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.0, 1.0]))
    # first order under create_graph works; differentiating the result again raises
    y = NumpyExp.apply(x)
    (g,) = gpugrad.autograd.grad((y * y).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 2 * np.exp(2 * np.array([0.0, 1.0])))
    with pytest.raises(RuntimeError, match="differentiate twice a function that was marked "
                                           "with @once_differentiable"):
        g.sum().backward()


# ----------------------------------------------------------------------------- against torch


def test_against_torch():
    torch = pytest.importorskip("torch")

    def make(lib):
        class Pow(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y, p):
                ctx.save_for_backward(x, y)
                ctx.p = p
                return x ** p * y, (x * y).sum()

            @staticmethod
            def backward(ctx, ga, gs):
                x, y = ctx.saved_tensors
                p = ctx.p
                return ga * p * x ** (p - 1) * y + gs * y, ga * x ** p + gs * x, None
        return Pow

    rng = np.random.default_rng(0)
    xv, yv = rng.uniform(0.5, 2.0, (2, 3)), rng.normal(size=(2, 3))
    results = []
    for lib, mk in ((gpugrad, lambda v: gpugrad.tensor(v, requires_grad=True)),
                    (torch, lambda v: torch.tensor(v, requires_grad=True))):
        x, y = mk(xv), mk(yv)
        a, s = make(lib).apply(x, y, 3.0)
        assert a.grad_fn.name() == "PowBackward"
        loss = (a * a).sum() + s * s
        gx, gy = lib.autograd.grad(loss, (x, y), create_graph=True)
        (ggx,) = lib.autograd.grad((gx * gy).sum(), x)
        results.append([t.detach().numpy() for t in (a, s, gx, gy, ggx)])
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10)
