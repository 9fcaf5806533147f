"""Random sampling: ``normal`` (its four overloads), ``bernoulli``, ``poisson``,
``multinomial`` and the in-place fills ``normal_``, ``uniform_``, ``bernoulli_``,
``exponential_``, ``random_``, ``geometric_``, ``cauchy_``, ``log_normal_``.

All of them are one primitive, ``sampled``: its forward draws with the engine of the
tensor's device (or of ``generator=``, a ``gpugrad.Generator`` of that device type), so
samples are made where the tensor lives. Its params name the distribution.

Gradients are PyTorch's: a sample is treated as not depending on its parameters, so the
gradient with respect to ``mean``/``std`` of ``normal``, ``p`` of ``bernoulli``, and the
rates of ``poisson`` is zero (NormalBackward*, BernoulliBackward*, PoissonBackward0), in
both modes. For a reparameterised sample whose gradient flows to mean and std, write
``mean + std * gpugrad.randn_like(mean)``.
"""

from __future__ import annotations

import math

from .. import backend as B
from ..core.batched import random_batch, random_input, wrap_levels
from ..core.state import batch_levels
from ..core.tensor import Tensor, wrap
from .registry import Target, apply, defop, promote, public

GROUP = "Random sampling"

# PyTorch's node names, by kind of draw.
_NODE = {"normal_tt": "NormalBackward3", "normal_tf": "NormalBackward1",
         "normal_ft": "NormalBackward2", "normal_": "NormalBackward0",
         "uniform_": "UniformBackward0", "bernoulli": "BernoulliBackward0",
         "bernoulli_p": "NotImplemented", "bernoulli_": "BernoulliBackward2",
         "bernoulli_t": "BernoulliBackward1", "poisson": "PoissonBackward0",
         "exponential_": "ExponentialBackward0", "random_": "RandomBackward{}",
         "geometric_": "GeometricBackward0", "cauchy_": "CauchyBackward0",
         "log_normal_": "LogNormalBackward0", "multinomial": "MultinomialBackward0"}


def _draw(xp, *args):
    """The forward: ``(*arrays, kind, eng, extra)``; `arrays` are the tensor inputs (the
    distribution's parameters, or the tensor an in-place fill writes into)."""
    *a, kind, eng, extra = args
    x = a[0]
    dt = x.dtype
    if kind == "normal_tt":
        mean, std = a
        shape = xp.broadcast(mean, std).shape
        return mean + std * B.standard_normal(eng, shape, dt)
    if kind == "normal_tf":
        return x + extra * B.standard_normal(eng, x.shape, dt)
    if kind == "normal_ft":
        return extra + x * B.standard_normal(eng, x.shape, dt)
    if kind == "normal_":
        mean, std = extra
        return (mean + std * B.standard_normal(eng, x.shape, xp.float64)).astype(dt)
    if kind == "log_normal_":
        mean, std = extra
        return xp.exp(mean + std * B.standard_normal(eng, x.shape, xp.float64)).astype(dt)
    if kind == "random_":
        low, high, _ = extra
        return B.integers(eng, low, high, x.shape, dt)
    if kind == "poisson":
        return B.poisson(eng, x)
    if kind == "multinomial":
        return _multinomial(xp, eng, x, *extra)
    if kind == "bernoulli_t":  # (self, p): p broadcast to self's shape
        p = xp.broadcast_to(a[1], x.shape)
        return (B.uniform(eng, x.shape, xp.float64) < p).astype(dt)
    u = B.uniform(eng, x.shape, xp.float64)
    if kind == "bernoulli":
        return (u < x).astype(dt)
    if kind in ("bernoulli_p", "bernoulli_"):
        return (u < extra).astype(dt)
    if kind == "uniform_":
        low, high = extra
        r = (low + (high - low) * u).astype(dt)
        if high > low:  # a value rounded up to `high` in a narrow dtype: [low, high) still
            top = xp.asarray(high, dtype=dt)
            r = xp.where(r >= top, xp.nextafter(top, xp.asarray(low, dtype=dt)), r)
        return r
    if kind == "exponential_":  # inverse CDF; 1 - u is in (0, 1], so the log is finite
        return (-xp.log1p(-u) / extra).astype(dt)
    if kind == "geometric_":  # the number of trials up to the first success, >= 1
        return xp.maximum(xp.ceil(xp.log1p(-u) / math.log1p(-extra)), 1).astype(dt)
    if kind == "cauchy_":
        median, sigma = extra
        return (median + sigma * xp.tan(math.pi * (u - 0.5))).astype(dt)
    raise ValueError(f"sampled: unknown kind {kind!r}")


def _multinomial(xp, eng, p, n, replacement):
    rows = p.reshape(-1, p.shape[-1]).astype(xp.float64)
    r, k = rows.shape
    u = B.uniform(eng, (r, n), xp.float64)
    if replacement:
        # Inverse CDF per row, as one sorted search: row i's CDF (ending at exactly 1) is
        # shifted by i, and so are its uniforms. A zero-probability category has an empty
        # interval and is never drawn.
        cdf = xp.cumsum(rows, axis=1)
        cdf = cdf / cdf[:, -1:]
        shift = xp.arange(r, dtype=xp.float64)[:, None]
        idx = xp.searchsorted((cdf + shift).reshape(-1), (u + shift).reshape(-1), side="right")
        out = xp.minimum(idx.reshape(r, n) - xp.arange(r)[:, None] * k, k - 1)
    else:
        # Without replacement: the exponential race. Category j finishes at time E_j / p_j
        # (E_j ~ Exp(1)); the order of finishing is the order of sequential draws without
        # replacement, so the first n are a sample. Zero-probability ones never finish.
        e = -xp.log(B.uniform(eng, (r, k), xp.float64))
        pos = rows > 0
        t = xp.where(pos, e / xp.where(pos, rows, 1.0), xp.inf)
        out = xp.argsort(t, axis=1, kind="stable")[:, :n]
    return out.astype(xp.int64).reshape(p.shape[:-1] + (n,))


def _node_name(params):
    kind, _, extra = params
    # random_(from, to), random_(to), random_(): RandomBackward0, 1, 2
    return _NODE[kind].format(extra[2]) if kind == "random_" else _NODE[kind]


def _vjp(F, g, args, out, n):
    # PyTorch's rule: samples do not depend on their parameters (zero gradients).
    if n.params[0] == "bernoulli_p":
        raise NotImplementedError("the derivative for 'bernoulli' with a float p is not "
                                  "implemented (as in PyTorch); use bernoulli(p_tensor)")
    return tuple(F.zeros_like(g) if need else None for need in n.needs)


def _jvp(F, ts, args, out, params):
    return F.zeros_like(out)


SAMPLED = defop("sampled", _draw, _vjp, _jvp, nin=2, unbroadcast=True, float_out=False,
                node_name=_node_name)


def _sample(name, kind, tensors, generator, extra=None, out=None):
    x = tensors[0]
    if batch_levels:  # inside vmap: by the levels' randomness
        tensors = (random_input(x), *tensors[1:])
    eng = B.engine(x.device, generator, name)
    with B.on_device(x.device, name):
        return apply(SAMPLED, tuple(tensors), (kind, eng, extra), out)


def _floating(name, x, what="input"):
    if not x.dtype.is_floating_point:
        raise NotImplementedError(f"{name}: not implemented for {what} of dtype {x.dtype}; "
                                  "use a floating-point tensor")


def _check(cond, msg):
    if not cond:
        raise RuntimeError(msg)


def _all(t) -> bool:
    return bool(t.all().item())


def _number(name, what, v):
    """A float of a number (or a one-element tensor, as PyTorch takes)."""
    v = v.item() if isinstance(v, Tensor) else B.py_scalar(v)
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        raise TypeError(f"{name}: {what} must be a number, got {type(v).__name__}")
    return float(v)


# ----------------------------------------------------------------------------- functions


@public(GROUP, method=False, first_tensor=False)
def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    """Samples from normal distributions N(mean, std**2), as ``torch.normal``'s overloads:

    - ``normal(mean: Tensor, std: Tensor)``: elementwise (the two broadcast);
    - ``normal(mean: Tensor, std=1.0)`` and ``normal(mean: float, std: Tensor)``;
    - ``normal(mean: float, std: float, size)``: with ``dtype``, ``device``,
      ``requires_grad``.

    The gradient with respect to a tensor mean or std is zero, as in PyTorch (a sample is
    treated as a constant); ``mean + std * randn_like(mean)`` gives the reparameterised one.

    Example::

        >>> gpugrad.normal(gpugrad.zeros(3), 2.0, generator=gpugrad.Generator().manual_seed(0))
        >>> gpugrad.normal(0.0, 1.0, size=(2, 3))
    """
    tm, ts = isinstance(mean, Tensor), isinstance(std, Tensor)
    if tm or ts:
        if size is not None or dtype is not None or device is not None or requires_grad:
            raise TypeError("normal(): size, dtype, device and requires_grad go with float "
                            "mean and std only: normal(mean: float, std: float, size, ...)")
        if tm and ts:
            _floating("normal", mean, "mean")
            _floating("normal", std, "std")
            _check(_all(std >= 0), "normal expects all elements of std >= 0.0")
            try:
                B.numpy.broadcast_shapes(tuple(mean.shape), tuple(std.shape))
            except ValueError:
                raise RuntimeError(f"normal: the shapes of mean {tuple(mean.shape)} and std "
                                   f"{tuple(std.shape)} cannot be broadcast together") from None
            return _sample("normal", "normal_tt", promote("normal", mean, std), generator)
        if tm:
            _floating("normal", mean, "mean")
            s = _number("normal", "std", std)
            _check(s >= 0.0, f"normal expects std >= 0.0, but found std {std}")
            return _sample("normal", "normal_tf", (mean,), generator, s)
        _floating("normal", std, "std")
        _check(_all(std >= 0), "normal expects all elements of std >= 0.0")
        return _sample("normal", "normal_ft", (std,), generator, _number("normal", "mean", mean))
    if size is None:
        raise TypeError("normal(): with float mean and std, size is required: "
                        "normal(mean, std, size), e.g. normal(0.0, 1.0, size=(2, 3))")
    m, s = _number("normal", "mean", mean), _number("normal", "std", std)
    _check(s >= 0.0, f"normal expects std >= 0.0, but found std {std}")
    dt = B.get_default_dtype() if dtype is None else B.to_dtype(dtype)
    if not dt.is_floating_point:
        raise NotImplementedError(f"normal: not implemented for dtype {dt}")
    size = (size,) if isinstance(size, int) else tuple(size)
    dev = B.as_device(device)
    eng = B.engine(dev, generator, "normal")
    lead, levels = random_batch(size) if batch_levels else ((), ())  # (inside vmap)
    with B.on_device(dev, "normal"):
        z = B.standard_normal(eng, lead + size, B.numpy.float64)
        t = wrap((m + s * z).astype(dt.np))
    t = wrap_levels(t, levels)
    return t.requires_grad_(True) if requires_grad else t


@public(GROUP)
def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """0/1 samples: 1 with probability ``input`` elementwise (or with probability `p`, a
    float, in a tensor of `input`'s shape and dtype). Zero gradient, as in PyTorch.

    Example::

        >>> gpugrad.bernoulli(gpugrad.full((2, 3), 0.3))
    """
    _floating("bernoulli", input)
    if p is not None:
        q = _number("bernoulli", "p", p)
        _check(0.0 <= q <= 1.0, f"bernoulli expects p to be in [0, 1], but got p={p}")
        return _sample("bernoulli", "bernoulli_p", (input,), generator, q)
    _check(_all((input >= 0) & (input <= 1)),
           "bernoulli: expected all probabilities in [0, 1] (Expected p_in >= 0 && p_in <= 1)")
    return _sample("bernoulli", "bernoulli", (input,), generator)


@public(GROUP)
def poisson(input, generator=None) -> Tensor:
    """Samples from Poisson distributions with the rates in `input` (same shape and dtype).
    Zero gradient, as in PyTorch.

    Example::

        >>> gpugrad.poisson(gpugrad.tensor([0.5, 4.0, 20.0]))
    """
    _floating("poisson", input)
    _check(_all(input >= 0), "poisson: invalid Poisson rate, expected rate to be non-negative")
    return _sample("poisson", "poisson", (input,), generator)


@public(GROUP)
def multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor:
    """Category indices (int64) drawn with the (unnormalised) weights in each row of `input`
    (1-D, or 2-D: one row per distribution), `num_samples` per row, with or without
    replacement. Without replacement, a category is drawn at most once.

    Example::

        >>> w = gpugrad.tensor([0.1, 0.0, 0.9])
        >>> gpugrad.multinomial(w, 4, replacement=True)     # never 1
        >>> gpugrad.multinomial(w, 2)                       # [2, 0] or [0, 2]
    """
    _check(input.ndim in (1, 2), "multinomial: prob_dist must be 1 or 2 dim")
    _check(input.dtype.is_floating_point, "multinomial only supports floating-point dtypes for "
           f"input, got: {input.dtype}")
    if not isinstance(num_samples, int) or isinstance(num_samples, bool):
        raise TypeError(f"multinomial: num_samples must be an int, got {num_samples!r}")
    _check(num_samples > 0, "multinomial: cannot sample n_sample <= 0 samples")
    k = input.shape[-1]
    _check(k > 0, "multinomial: number of categories cannot be zero")
    _check(replacement or num_samples <= k, "multinomial: cannot sample n_sample > "
           f"prob_dist.size(-1) samples without replacement (n_sample={num_samples}, {k} "
           "categories)")
    _check(_all((input >= 0) & input.isfinite()) if input.numel() else True,
           "multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    _check(_all(input.sum(-1) > 0),
           "multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    return _sample("multinomial", "multinomial", (input,), generator,
                   (num_samples, bool(replacement)))


# ----------------------------------------------------------------------------- in-place fills


def _fill(self, name, kind, extra, generator, tensors=()):
    return _sample(name, kind, (self, *tensors), generator, extra, Target(self, name))


@public(GROUP, function=False)
def normal_(self, mean=0.0, std=1.0, *, generator=None) -> Tensor:
    """Fill with samples from N(mean, std**2); returns self.

    Example: ``gpugrad.empty(3, 4).normal_(0.0, 0.02)``
    """
    _floating("normal_", self, "a tensor")
    m, s = _number("normal_", "mean", mean), _number("normal_", "std", std)
    _check(s >= 0.0, f"normal_ expects std >= 0.0, but found std {std}")
    return _fill(self, "normal_", "normal_", (m, s), generator)


@public(GROUP, function=False)
def uniform_(self, from_=0.0, to=1.0, *, generator=None) -> Tensor:
    """Fill with samples from U[from_, to); returns self (PyTorch's ``from`` is a Python
    keyword: pass the bounds positionally).

    Example: ``gpugrad.empty(3).uniform_(-1, 1)``
    """
    _floating("uniform_", self, "a tensor")
    lo, hi = _number("uniform_", "from", from_), _number("uniform_", "to", to)
    _check(lo <= hi, f"uniform_ expects to return a [from, to) range, but found from={from_} > "
           f"to={to}")
    return _fill(self, "uniform_", "uniform_", (lo, hi), generator)


@public(GROUP, function=False)
def bernoulli_(self, p=0.5, *, generator=None) -> Tensor:
    """Fill with 0/1 samples, 1 with probability `p` (a float, or a tensor broadcastable to
    self's shape); returns self. Any dtype.

    Example: ``gpugrad.empty(3, dtype=gpugrad.int64).bernoulli_(0.25)``
    """
    if isinstance(p, Tensor):
        _floating("bernoulli_", p, "p")
        _check(_all((p >= 0) & (p <= 1)), "bernoulli_ expects all elements of p in [0, 1]")
        try:
            B.numpy.broadcast_to(B.numpy.empty(tuple(p.shape)), tuple(self.shape))
        except ValueError:
            raise RuntimeError(f"bernoulli_: p of shape {tuple(p.shape)} does not broadcast to "
                               f"the tensor's shape {tuple(self.shape)}") from None
        return _fill(self, "bernoulli_", "bernoulli_t", None, generator, (p,))
    q = _number("bernoulli_", "p", p)
    _check(0.0 <= q <= 1.0, f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    return _fill(self, "bernoulli_", "bernoulli_", q, generator)


@public(GROUP, function=False)
def exponential_(self, lambd=1.0, *, generator=None) -> Tensor:
    """Fill with samples from the exponential distribution of rate `lambd`; returns self.

    Example: ``gpugrad.empty(5).exponential_(2.0)``
    """
    _floating("exponential_", self, "a tensor")
    r = _number("exponential_", "lambd", lambd)
    _check(r > 0.0, f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return _fill(self, "exponential_", "exponential_", r, generator)


@public(GROUP, function=False)
def geometric_(self, p, *, generator=None) -> Tensor:
    """Fill with samples from the geometric distribution (trials up to the first success,
    success probability `p`); returns self.

    Example: ``gpugrad.empty(5).geometric_(0.3)``
    """
    q = _number("geometric_", "p", p)
    _check(0.0 < q < 1.0, f"geometric_ expects p to be in (0, 1), but got p={p}")
    return _fill(self, "geometric_", "geometric_", q, generator)


@public(GROUP, function=False)
def cauchy_(self, median=0.0, sigma=1.0, *, generator=None) -> Tensor:
    """Fill with samples from the Cauchy distribution; returns self.

    Example: ``gpugrad.empty(5).cauchy_()``
    """
    _floating("cauchy_", self, "a tensor")
    s = _number("cauchy_", "sigma", sigma)
    _check(s > 0.0, f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    return _fill(self, "cauchy_", "cauchy_", (_number("cauchy_", "median", median), s),
                 generator)


@public(GROUP, function=False)
def log_normal_(self, mean=1.0, std=2.0, *, generator=None) -> Tensor:
    """Fill with exp(N(mean, std**2)) samples; returns self.

    Example: ``gpugrad.empty(5).log_normal_()``
    """
    _floating("log_normal_", self, "a tensor")
    s = _number("log_normal_", "std", std)
    _check(s > 0.0, f"log_normal_ expects std > 0.0, but found std={std}")
    return _fill(self, "log_normal_", "log_normal_", (_number("log_normal_", "mean", mean), s),
                 generator)


_MANTISSA = {"float16": 11, "float32": 24, "float64": 53}


@public(GROUP, function=False)
def random_(self, from_=0, to=None, *, generator=None) -> Tensor:
    """Fill with integers drawn uniformly: from [0, to) with one argument, [from_, to) with
    two, and with none from [0, 2**mantissa] for floats (every integer the dtype holds
    exactly) or the dtype's whole non-negative range for integers; returns self.

    Example: ``gpugrad.empty(4, dtype=gpugrad.int64).random_(10)``
    """
    variant = 2 if to is None and from_ == 0 else (1 if to is None else 0)
    if to is None and from_ != 0:
        from_, to = 0, from_
    dt = self.dtype
    if dt.name == "bool":
        lo_ok, hi_max = 0, 2
    elif dt.is_floating_point:
        lo_ok, hi_max = -(2 ** _MANTISSA[dt.name]), 2 ** _MANTISSA[dt.name] + 1
    else:
        info = B.numpy.iinfo(dt.np)
        lo_ok, hi_max = int(info.min), int(info.max) + 1
    low = int(from_)
    if to is None:
        high = hi_max
    else:
        high = int(to)
        _check(low < high, f"random_ expects 'from' to be less than 'to', but got from={low} >= "
               f"to={high}")
        _check(high <= hi_max, f"random_: to - 1 is out of bounds for {dt} (to={high})")
    _check(low >= lo_ok, f"random_: from is out of bounds for {dt} (from={low})")
    return _fill(self, "random_", "random_", (low, high, variant), generator)
