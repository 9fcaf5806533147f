"""The primitives under nn's layers: N-d convolution and its two transposes, max-pool indices,
and the normal CDF (exact GELU).

Convolution runs on the array module alone (NumPy or CuPy): the windows of the padded input
are a strided view (no copy), gathered once into columns (im2col) and multiplied with the
weight, one matmul per group. Its transposes are primitives too: ``conv_input_grad`` (the
transposed convolution, whose col2im adds each kernel offset's columns into a strided slice)
and ``conv_weight_grad``. The rules of the three are written with each other, so every order
of derivative, in both modes, comes from these three forwards.

The three take the same params: ``(x_shape, w_shape, stride, padding, dilation, groups)``,
``padding`` a (low, high) pair per spatial dim.
"""

from __future__ import annotations

import itertools
import math

from .elementwise import unary_op
from .registry import defop

# ----------------------------------------------------------------------------- convolution


def _pad(xp, x, padding, value=0.0):
    if any(lo or hi for lo, hi in padding):
        return xp.pad(x, ((0, 0), (0, 0), *padding), constant_values=value)
    return x


def out_size(size, kernel, stride, padding, dilation):
    """The output size of a convolution or pooling along each spatial dim."""
    return tuple((n + lo + hi - d * (k - 1) - 1) // s + 1
                 for n, k, s, (lo, hi), d in zip(size, kernel, stride, padding, dilation))


def _windows(xp, x, kernel, stride, padding, dilation, value=0.0):
    """The windows of `x` padded: a strided view of shape (N, C, *out, *kernel)."""
    xp_ = _pad(xp, x, padding, value)
    nd = len(kernel)
    out = out_size(x.shape[2:], kernel, stride, padding, dilation)
    st = xp_.strides
    shape = xp_.shape[:2] + out + tuple(kernel)
    strides = (st[:2] + tuple(st[2 + i] * stride[i] for i in range(nd))
               + tuple(st[2 + i] * dilation[i] for i in range(nd)))
    return xp.lib.stride_tricks.as_strided(xp_, shape, strides), out


def _columns(xp, x, kernel, stride, padding, dilation, groups):
    """im2col: (N, G, P, C/G * prod(kernel)) for P output positions; and the output size."""
    win, out = _windows(xp, x, kernel, stride, padding, dilation)
    n, c, nd = x.shape[0], x.shape[1], len(kernel)
    perm = (0, *range(2, 2 + nd), 1, *range(2 + nd, 2 + 2 * nd))
    cols = win.transpose(perm).reshape(n, math.prod(out), groups, c // groups * math.prod(kernel))
    return cols.transpose(0, 2, 1, 3), out


def _conv_fwd(xp, x, w, x_shape, w_shape, stride, padding, dilation, groups):
    cols, out = _columns(xp, x, w.shape[2:], stride, padding, dilation, groups)
    o = w.shape[0]
    wm = w.reshape(groups, o // groups, cols.shape[-1]).transpose(0, 2, 1)
    y = xp.matmul(cols, wm)  # (N, G, P, O/G)
    return xp.ascontiguousarray(y.transpose(0, 1, 3, 2)).reshape((x.shape[0], o) + out)


def _conv_input_grad_fwd(xp, g, w, x_shape, w_shape, stride, padding, dilation, groups):
    n, o, out = g.shape[0], g.shape[1], g.shape[2:]
    cg, kernel = w.shape[1], w.shape[2:]
    nd = len(kernel)
    gm = g.reshape(n, groups, o // groups, math.prod(out)).transpose(0, 1, 3, 2)
    gcols = xp.matmul(gm, w.reshape(groups, o // groups, cg * math.prod(kernel)))
    # (N, G, *out, Cg, *K) -> (N, G, Cg, *K, *out)
    gcols = gcols.reshape((n, groups) + out + (cg,) + kernel)
    gcols = gcols.transpose((0, 1, 2 + nd, *range(3 + nd, 3 + 2 * nd), *range(2, 2 + nd)))
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(x_shape[2:], padding))
    gx = xp.zeros((n, groups, cg) + padded, dtype=gcols.dtype)
    if gcols.size:
        # col2im: each kernel offset's columns land on a strided slice of the padded input.
        for k in itertools.product(*map(range, kernel)):
            sl = tuple(slice(k[i] * dilation[i], k[i] * dilation[i] + stride[i] * (out[i] - 1) + 1,
                             stride[i]) for i in range(nd))
            gx[(slice(None),) * 3 + sl] += gcols[(slice(None),) * 3 + k]
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(x_shape[2:], padding))
    return xp.ascontiguousarray(gx[(slice(None),) * 3 + crop]).reshape(x_shape)


def _conv_weight_grad_fwd(xp, x, g, x_shape, w_shape, stride, padding, dilation, groups):
    cols, out = _columns(xp, x, w_shape[2:], stride, padding, dilation, groups)
    n, o = g.shape[:2]
    p = math.prod(out)
    gm = g.reshape(n, groups, o // groups, p).transpose(1, 2, 0, 3).reshape(groups, o // groups,
                                                                         n * p)
    cm = cols.transpose(1, 0, 2, 3).reshape(groups, n * p, cols.shape[-1])
    return xp.matmul(gm, cm).reshape(w_shape)


# Bilinear ops: each rule is one of the three applied to a cotangent or tangent.


def _conv_vjp(F, g, args, out, n):
    x, w = args
    nx, nw = n.needs
    return (F.conv_input_grad(g, w, *n.params) if nx else None,
            F.conv_weight_grad(x, g, *n.params) if nw else None)


def _conv_input_grad_vjp(F, u, args, out, n):
    g, w = args
    ng, nw = n.needs
    return (F.conv(u, w, *n.params) if ng else None,
            F.conv_weight_grad(u, g, *n.params) if nw else None)


def _conv_weight_grad_vjp(F, u, args, out, n):
    x, g = args
    nx, ng = n.needs
    return (F.conv_input_grad(g, u, *n.params) if nx else None,
            F.conv(x, u, *n.params) if ng else None)


def _bilinear_jvp(name):
    def jvp(F, ts, args, out, params):
        (ta, tb), (a, b) = ts, args
        f = getattr(F, name)
        r = None if ta is None else f(ta, b, *params)
        if tb is not None:
            r = f(a, tb, *params) if r is None else r + f(a, tb, *params)
        return r
    return jvp


_SAVE = ((1,), (0,))
CONV = defop("conv", _conv_fwd, _conv_vjp, _bilinear_jvp("conv"), save=_SAVE, nin=2,
             promote=(0, 1), node_name="ConvolutionBackward0")
CONV_INPUT_GRAD = defop("conv_input_grad", _conv_input_grad_fwd, _conv_input_grad_vjp,
                        _bilinear_jvp("conv_input_grad"), save=_SAVE, nin=2, promote=(0, 1),
                        node_name="ConvolutionBackwardBackward0")
CONV_WEIGHT_GRAD = defop("conv_weight_grad", _conv_weight_grad_fwd, _conv_weight_grad_vjp,
                         _bilinear_jvp("conv_weight_grad"), save=_SAVE, nin=2, promote=(0, 1),
                         node_name="ConvolutionBackwardBackward0")

# ----------------------------------------------------------------------------- max pooling


def _max_pool_indices_fwd(xp, x, kernel, stride, padding, dilation):
    """The flat index (into each input plane) of each window's maximum; the first of ties,
    and a NaN where the window holds one, as PyTorch picks."""
    win, out = _windows(xp, x, kernel, stride, padding, dilation, -math.inf)
    nd = len(kernel)
    k = win.reshape(win.shape[:2 + nd] + (-1,)).argmax(-1)
    offsets = xp.unravel_index(k, kernel) if nd > 1 else (k,)
    idx = 0
    for i in range(nd):
        shape = [1] * (2 + nd)
        shape[2 + i] = out[i]
        start = (xp.arange(out[i]) * stride[i] - padding[i][0]).reshape(shape)
        idx = idx * x.shape[2 + i] + start + offsets[i] * dilation[i]
    return xp.asarray(idx, dtype=xp.int64)


# No derivative: the pooled values are a gather at these indices, differentiated as one.
# (Integer inputs are compared as floats, exactly below 2**53.)
MAX_POOL_INDICES = defop("max_pool_indices", _max_pool_indices_fwd, floating=True)

# ----------------------------------------------------------------------------- normal CDF

# Cephes' ndtr (S. L. Moshier, public domain): erf by a rational function of x**2 for
# |x| < 1, erfc by exp(-x**2) times one of two rational functions of |x| beyond.
_T = (9.60497373987051638749E0, 9.00260197203842689217E1, 2.23200534594684319226E3,
      7.00332514112805075473E3, 5.55923013010394962768E4)
_U = (3.35617141647503099647E1, 5.21357949780152679795E2, 4.59432382970980127987E3,
      2.26290000613890934246E4, 4.92673942608635921086E4)
_P = (2.46196981473530512524E-10, 5.64189564831068821977E-1, 7.46321056442269912687E0,
      4.86371970985681366614E1, 1.96520832956077098242E2, 5.26445194995477358631E2,
      9.34528527171957607540E2, 1.02755188689515710272E3, 5.57535335369399327526E2)
_Q = (1.32281951154744992508E1, 8.67072140885989742329E1, 3.54937778887819891062E2,
      9.75708501743205489753E2, 1.82390916687909736289E3, 2.24633760818710981792E3,
      1.65666309194161350182E3, 5.57535340817727675546E2)
_R = (5.64189583547755073984E-1, 1.27536670759978104416E0, 5.01905042251180477414E0,
      6.16021097993053585195E0, 7.40974269950448939160E0, 2.97886665372100240670E0)
_S = (2.26052863220117276590E0, 9.39603524938001434673E0, 1.20489539808096656605E1,
      1.70814450747565897222E1, 9.60896809063285878198E0, 3.36907645100081516050E0)
_SQRTH = 0.70710678118654752440


def _polevl(x, coef, monic=False):
    r = x + coef[0] if monic else x * 0 + coef[0]
    for c in coef[1:]:
        r = r * x + c
    return r


def _ndtr_fwd(xp, a):
    x = a * _SQRTH
    z = xp.abs(x)
    small = z < _SQRTH
    one = xp.ones_like(z)
    xs = xp.where(small, x, 0 * one)
    xs2 = xs * xs
    y_small = 0.5 + 0.5 * xs * _polevl(xs2, _T) / _polevl(xs2, _U, monic=True)
    zl = xp.minimum(xp.where(small, one, z), 40 * one)  # erfc(40) is 0 in float64
    ratio = xp.where(zl < 8, _polevl(zl, _P) / _polevl(zl, _Q, monic=True),
                     _polevl(zl, _R) / _polevl(zl, _S, monic=True))
    tail = 0.5 * xp.exp(-zl * zl) * ratio
    return xp.where(small, y_small, xp.where(x > 0, 1 - tail, tail)).astype(a.dtype, copy=False)


_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
# The standard normal CDF; its derivative is the normal density.
NDTR = unary_op("ndtr", _ndtr_fwd, lambda F, x, out: F.exp(x * x * -0.5) * _INV_SQRT_2PI,
                node_name="SpecialNdtrBackward0")
