"""One-pass CUDA sweep for the linear_mse primitive (gpugrad/ops/fused.py), for one output;
declared on that entry as its "cuda" kernel.

One warp per row, rows strided over the grid: the warp reads the row once for the dot product
x.w, reduces it with shuffles into the residual r = x.w + b - y, then adds r x to the block's
accumulator in shared memory while the row is still in L1. Each block adds its accumulators to
the result with atomics at the end, so X is read from memory once and no partial results are
written per row. Float atomics make the last bits of the sums depend on the block order.
"""

from __future__ import annotations

from ... import backend as B

_SOURCE = r"""
extern "C" __global__ void linear_mse_sweep(
        const T* __restrict__ X, const T* __restrict__ w, const T* __restrict__ b,
        const T* __restrict__ y, const long long n, const int d, const int has_b,
        double* __restrict__ sq_out, T* __restrict__ gw_out, T* __restrict__ gb_out,
        T* __restrict__ r_out, const int keep_r) {
    extern __shared__ unsigned char smem[];
    T* acc = reinterpret_cast<T*>(smem);          // [warps per block][d]
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, wpb = blockDim.x >> 5;
    T* mine = acc + (long long)warp * d;
    for (int j = lane; j < d; j += 32) mine[j] = T(0);
    const T bias = has_b ? b[0] : T(0);
    double sq = 0.0;
    T sb = T(0);
    const long long step = (long long)gridDim.x * wpb;
    for (long long i = (long long)blockIdx.x * wpb + warp; i < n; i += step) {
        const T* row = X + i * d;
        T dot = T(0);
        for (int j = lane; j < d; j += 32) dot += row[j] * w[j];
        for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
        const T r = dot + bias - y[i];
        if (lane == 0) {
            sq += (double)r * (double)r;
            sb += r;
            if (keep_r) r_out[i] = r;
        }
        for (int j = lane; j < d; j += 32) mine[j] += r * row[j];
    }
    __syncthreads();
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
        T s = T(0);
        for (int k = 0; k < wpb; ++k) s += acc[(long long)k * d + j];
        atomicAdd(gw_out + j, s);
    }
    if (lane == 0) {
        atomicAdd(sq_out, sq);
        atomicAdd(gb_out, sb);
    }
}
"""

_THREADS = 256  # 8 warps a block
_SHARED_LIMIT = 48 * 1024
_kernels: dict = {}


def _kernel(cp, dtype):
    k = _kernels.get(dtype)
    if k is None:
        ctype = {"float32": "float", "float64": "double"}[dtype.name]
        k = _kernels[dtype] = cp.RawKernel("typedef " + ctype + " T;\n" + _SOURCE,
                                           "linear_mse_sweep")
    return k


def supports(X, w, b, y) -> bool:
    """Whether the kernel takes these arrays: one output, float32/64, contiguous, and an
    accumulator that fits in shared memory."""
    return (X.dtype.name in ("float32", "float64") and X.ndim == 2 and w.ndim == 1
            and y.ndim == 1 and (b is None or b.size == 1) and X.flags.c_contiguous
            and w.flags.c_contiguous and y.flags.c_contiguous
            and (_THREADS // 32) * X.shape[1] * X.itemsize <= _SHARED_LIMIT)


def sweep(xp, X, w, b, y, chunk, grad_w, grad_b, keep_r, fallback):
    """`fallback`'s contract (ops/fused.py `_sweep`) in one kernel launch where supported."""
    n, d = X.shape
    if not (n and d and supports(X, w, b, y)):
        return fallback(xp, X, w, b, y, chunk, grad_w, grad_b, keep_r)
    cp = B._load_cupy()
    sq = xp.zeros((), xp.float64)
    gw = xp.zeros(d, X.dtype)
    gb = xp.zeros((), X.dtype)
    R = xp.empty(n, X.dtype) if keep_r else xp.empty(1, X.dtype)
    sms = cp.cuda.Device().attributes["MultiProcessorCount"]
    blocks = max(1, min(sms * 8, -(-n // (_THREADS // 32))))
    bd = b.reshape(1) if b is not None else gw  # any valid pointer when there is no bias
    _kernel(cp, X.dtype)(
        (blocks,), (_THREADS,),
        (X, w, bd, y, cp.int64(n), cp.int32(d), cp.int32(b is not None), sq, gw, gb, R,
         cp.int32(bool(keep_r))),
        shared_mem=(_THREADS // 32) * d * X.itemsize)
    return (sq, gw if grad_w else None, gb if grad_b else None, R if keep_r else None)
