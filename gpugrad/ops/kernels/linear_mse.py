"""One-pass CUDA sweep for the linear_mse primitive (gpugrad/ops/fused.py), for one output;
declared on that entry as its "cuda" kernel.

One warp per row, rows strided over the grid: the warp reads the row once for the dot product
x.w, reduces it with shuffles into the residual r = x.w + b - y, then adds r x to its own
accumulator in shared memory while the row is still in L1, so X is read from memory once and
nothing is written per row (but r, when the backward needs it).

Deterministic: no atomics. Each block sums its warps' accumulators in warp order and writes
them to its own slot of a per-block buffer (sum of r**2, X^T r, sum of r); a second, small
kernel adds the slots in block order. The grid size is a function of the number of rows and of
the GPU's SM count only, so the same inputs on the same GPU model give the same bits, run after
run (tests/test_fused.py checks this on CUDA, as on the CPU).

`chunk` has no meaning here: on the CPU it is the number of rows that stay in cache between
the two uses of a chunk, but a GPU sweep uses each row while it is still in L1, with all rows
spread over the grid in one launch (the fused op's docstring: "all rows on a GPU"). An explicit
chunk is still checked (a bad one raises) by ``fused.row_chunk`` before the sweep is called,
and the result does not depend on it, as on the CPU.
"""

from __future__ import annotations

from ... import backend as B
from . import CudaSource

_THREADS = 256  # 8 warps a block
_WARPS = _THREADS // 32
_BLOCKS_PER_SM = 8
_SHARED_LIMIT = 48 * 1024  # bytes of dynamic shared memory a launch may take without opting in

SOURCE = CudaSource(code=r"""
// Block b sweeps rows b*W + w + k*(gridDim.x*W) (warp w of W per block, k = 0, 1, ...) and
// writes its partial sums to part_sq[b], part_gb[b] and part_gw[b*d : (b+1)*d].
extern "C" __global__ void linear_mse_sweep(
        const T* __restrict__ X, const T* __restrict__ w, const T* __restrict__ b,
        const T* __restrict__ y, const long long n, const int d, const int has_b,
        double* __restrict__ part_sq, T* __restrict__ part_gw, T* __restrict__ part_gb,
        T* __restrict__ r_out, const int keep_r) {
    extern __shared__ double smem[];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, wpb = blockDim.x >> 5;
    double* sq_w = smem;                                   // [warps per block]
    T* sb_w = reinterpret_cast<T*>(sq_w + wpb);            // [warps per block]
    T* acc = sb_w + wpb;                                   // [warps per block][d]
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
    if (lane == 0) {
        sq_w[warp] = sq;
        sb_w[warp] = sb;
    }
    __syncthreads();
    // the block's sums, in warp order
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
        T s = T(0);
        for (int k = 0; k < wpb; ++k) s += acc[(long long)k * d + j];
        part_gw[(long long)blockIdx.x * d + j] = s;
    }
    if (threadIdx.x == 0) {
        double s = 0.0;
        T t = T(0);
        for (int k = 0; k < wpb; ++k) {
            s += sq_w[k];
            t += sb_w[k];
        }
        part_sq[blockIdx.x] = s;
        part_gb[blockIdx.x] = t;
    }
}

// The sweep's per-block sums added in block order: thread j < d gives gw[j], thread d gives
// gb, thread d + 1 gives sq.
extern "C" __global__ void linear_mse_combine(
        const double* __restrict__ part_sq, const T* __restrict__ part_gw,
        const T* __restrict__ part_gb, const int blocks, const int d,
        double* __restrict__ sq_out, T* __restrict__ gw_out, T* __restrict__ gb_out) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j > d + 1) return;
    double s = 0.0;
    if (j < d) {
        for (int k = 0; k < blocks; ++k) s += (double)part_gw[(long long)k * d + j];
        gw_out[j] = (T)s;
    } else if (j == d) {
        for (int k = 0; k < blocks; ++k) s += (double)part_gb[k];
        gb_out[0] = (T)s;
    } else {
        for (int k = 0; k < blocks; ++k) s += part_sq[k];
        sq_out[0] = s;
    }
}
""", kernels=("linear_mse_sweep", "linear_mse_combine"))

CUDA_SOURCES = (SOURCE,)

_modules: dict = {}  # dtype name -> CuPy RawModule (compiled per device on first launch)
_sm_counts: dict = {}  # device id -> number of SMs


def _kernels(cp, dtype):
    """The compiled (sweep, combine) kernels for `dtype`."""
    m = _modules.get(dtype.name)
    if m is None:
        m = _modules[dtype.name] = cp.RawModule(code=SOURCE.render(dtype.name))
    return m.get_function("linear_mse_sweep"), m.get_function("linear_mse_combine")


def sm_count(cp, device_id: int) -> int:
    """The number of streaming multiprocessors of GPU `device_id`, asked once per device."""
    n = _sm_counts.get(device_id)
    if n is None:
        rt = cp.cuda.runtime
        n = _sm_counts[device_id] = rt.deviceGetAttribute(rt.cudaDevAttrMultiProcessorCount,
                                                          device_id)
    return n


def grid(n: int, sms: int) -> int:
    """Blocks of the sweep for `n` rows on a GPU with `sms` SMs: enough to fill the GPU, and
    no block without a row. A function of `n` and `sms` only, so that the per-block sums, and
    the bits of the result, do not change from run to run."""
    return max(1, min(sms * _BLOCKS_PER_SM, -(-n // _WARPS)))


def _shared_bytes(d: int, itemsize: int) -> int:
    return _WARPS * 8 + _WARPS * itemsize + _WARPS * d * itemsize


def supports(X, w, b, y) -> bool:
    """Whether the kernel takes these arrays: one output, float32/64, contiguous, and an
    accumulator that fits in shared memory."""
    return (X.dtype.name in SOURCE.dtypes and X.ndim == 2 and w.ndim == 1
            and y.ndim == 1 and (b is None or b.size == 1) and X.flags.c_contiguous
            and w.flags.c_contiguous and y.flags.c_contiguous
            and _shared_bytes(X.shape[1], X.itemsize) <= _SHARED_LIMIT)


def sweep(xp, X, w, b, y, chunk, grad_w, grad_b, keep_r, fallback):
    """`fallback`'s contract (ops/fused.py `_sweep`) in two kernel launches where supported
    (`chunk`: see the module docstring)."""
    n, d = X.shape
    if not (n and d and supports(X, w, b, y)):
        return fallback(xp, X, w, b, y, chunk, grad_w, grad_b, keep_r)
    cp = B._load_cupy()
    blocks = grid(n, sm_count(cp, X.device.id))
    part_sq = xp.empty(blocks, xp.float64)
    part_gw = xp.empty((blocks, d), X.dtype)
    part_gb = xp.empty(blocks, X.dtype)
    sq = xp.empty((), xp.float64)
    gw = xp.empty(d, X.dtype)
    gb = xp.empty((), X.dtype)
    R = xp.empty(n, X.dtype) if keep_r else xp.empty(1, X.dtype)
    bd = b.reshape(1) if b is not None else gw  # any valid pointer when there is no bias
    sweep_kernel, combine_kernel = _kernels(cp, X.dtype)
    sweep_kernel(
        (blocks,), (_THREADS,),
        (X, w, bd, y, cp.int64(n), cp.int32(d), cp.int32(b is not None), part_sq, part_gw,
         part_gb, R, cp.int32(bool(keep_r))),
        shared_mem=_shared_bytes(d, X.itemsize))
    combine_kernel((-(-(d + 2) // _THREADS),), (_THREADS,),
                   (part_sq, part_gw, part_gb, cp.int32(blocks), cp.int32(d), sq, gw, gb))
    return (sq, gw if grad_w else None, gb if grad_b else None, R if keep_r else None)
