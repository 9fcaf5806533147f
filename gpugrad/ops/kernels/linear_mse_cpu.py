"""One-pass CPU sweep for the linear_mse primitive (gpugrad/ops/fused.py), for one output,
compiled with Numba where it is installed (``pip install "gpugrad[fast]"``); declared on that
entry as its "cpu" kernel, with the NumPy sweep as the fallback.

Each row of X is read from memory once: its dot product with w gives the residual
``r = x.w + b - y``, and ``r x`` is added to the weight gradient while the row is still in
registers and L1. The NumPy sweep needs two BLAS calls per block of rows and reads each block
twice (the second time from cache), which costs about twice the one-pass floor on some CPUs;
this loop runs at the speed of a plain read of X. Row ranges run on a thread per core (the
compiled loop releases the GIL), each range a fixed share, so results do not depend on timing.
The sums are reassociated into SIMD lanes (``fastmath`` reassociation only: NaN and infinity
propagate as IEEE arithmetic says), so their last bits differ from the NumPy sweep's.
"""

from __future__ import annotations

import threading

# Rows of fewer elements go to the NumPy sweep: 1e6 x 16 float32 takes 7.8 ms in the loop and
# 6.1 in the sweep; at 32 columns 9.3 against 13.1 (2-core Xeon).
MIN_D = 32

_loops: dict = {}
_lock = threading.Lock()
_missing: list = []  # the reason Numba could not be used, once known


def _source_loop(numba):
    def loop(X, w, b, y, lo, hi, gw, r_out, keep_r, zero):
        """Rows lo..hi: returns the sum of r**2 (float64) and the sum of r; adds X^T r to gw."""
        d = X.shape[1]
        sq = 0.0
        sb = 0.0
        for i in range(lo, hi):
            s = zero
            for j in range(d):
                s += X[i, j] * w[j]
            r = s + b - y[i]
            if keep_r:
                r_out[i] = r
            sq += float(r) * float(r)
            sb += float(r)
            for j in range(d):
                gw[j] += r * X[i, j]
        return sq, sb

    return numba.njit(loop, nogil=True, cache=True,
                      fastmath={"reassoc", "contract", "nsz", "arcp"}, error_model="numpy")


def loop():
    """The compiled loop, or None where Numba is not installed (the reason in `unavailable`)."""
    f = _loops.get("loop")
    if f is None and not _missing:
        with _lock:
            if "loop" not in _loops and not _missing:
                try:
                    import numba  # noqa: PLC0415 - optional, lazy by design
                except Exception as exc:  # not installed, or broken against this NumPy
                    _missing.append(f"{type(exc).__name__}: {exc}")
                else:
                    _loops["loop"] = _source_loop(numba)
        f = _loops.get("loop")
    return f


def unavailable() -> str | None:
    """Why the compiled sweep is not used (None when it is)."""
    return None if loop() is not None else _missing[0]


def supports(X, w, b, y) -> bool:
    """Whether the loop takes these arrays: one output, float32/64 of one dtype, X C-contiguous."""
    return (X.dtype.name in ("float32", "float64") and X.ndim == 2 and w.ndim == 1
            and y.ndim == 1 and (b is None or b.size == 1) and X.flags.c_contiguous
            and w.dtype == y.dtype == X.dtype and (b is None or b.dtype == X.dtype))


def sweep(xp, X, w, b, y, chunk, grad_w, grad_b, keep_r, fallback, map_rows, in_cache=0):
    """`fallback`'s contract (ops/fused.py `_sweep`) with the compiled loop where it applies.

    Threads take whole chunks of `chunk` rows (`map_rows`); the loop itself reads each row once
    and needs no cache blocking. An X of at most `in_cache` bytes goes to `fallback` in one
    chunk."""
    f = loop()
    n, d = X.shape if X.ndim == 2 else (0, 0)
    if f is None or not (n and d and supports(X, w, b, y)):
        return fallback(xp, X, w, b, y, chunk, grad_w, grad_b, keep_r)
    if X.nbytes <= in_cache:
        # X fits in the caches: BLAS's two passes over it, from cache, beat one compiled pass
        # (0.088 against 0.108 ms for 10,000 x 64 float32 on a 2-core Xeon; 0.35 against 0.31
        # at 30,000 x 64, which no longer fits).
        return fallback(xp, X, w, b, y, n, grad_w, grad_b, keep_r)
    if d < MIN_D:  # short rows: the loop's cost per row (the dot's final sum) outweighs a read
        return fallback(xp, X, w, b, y, chunk, grad_w, grad_b, keep_r)
    R = xp.empty(n if keep_r else 1, X.dtype)
    zero = X.dtype.type(0)
    bias = zero if b is None else b.reshape(())[()]
    def part(lo, hi):
        gw = xp.zeros(d, X.dtype)
        sq, sb = f(X, w, bias, y, lo, hi, gw, R, keep_r, zero)
        return sq, gw, sb

    parts = map_rows(X, chunk, part)
    sq, gw, sb = parts[0]
    for p in parts[1:]:
        sq = sq + p[0]
        gw = gw + p[1]
        sb = sb + p[2]
    return (xp.asarray(sq), gw if grad_w else None,
            xp.asarray(sb, dtype=X.dtype) if grad_b else None, R if keep_r else None)
