"""``DistributedDataParallel``: one model replica per process, gradients averaged across
processes during backward.

1. Construction: every rank must hold parameters of the same shapes and dtypes (checked,
   naming the first mismatch); rank 0's parameters and buffers are then broadcast.
2. The parameters are split into buckets of at most ``bucket_cap_mb`` MB, in reverse
   registration order (roughly the order backward finishes their gradients), the same on
   every rank.
3. During backward, each parameter's post-accumulate-grad hook marks it ready. When all the
   parameters of a bucket are ready, the bucket's gradients are copied into one flat buffer
   and its all-reduce starts (nonblocking). Buckets start strictly in order, so that every
   rank reduces the same buckets in the same order.
4. At the end of backward (an engine callback), the remaining buckets start, every
   reduction is waited for, and the averaged gradients are written back into ``.grad``.
"""

from __future__ import annotations

import contextlib

from ... import backend as B
from ...autograd.engine import queue_callback
from ...autograd.grad_mode import no_grad
from ...core.factories import tensor, zeros
from ...distributed import collectives as C
from ...distributed.group import default_group
from ..module import Module


class _Bucket:
    __slots__ = ("params", "offsets", "flat", "ready", "work")

    def __init__(self, params):
        self.params = params
        self.offsets = []
        n = 0
        for p in params:
            self.offsets.append(n)
            n += p.numel()
        self.flat = zeros(n, dtype=params[0].dtype, device=params[0].device)
        self.ready = 0
        self.work = None


class DistributedDataParallel(Module):
    """Wrap `module` for data-parallel training: run one process per replica (``mpiexec -n
    N``), give each a different part of every batch (``DistributedSampler``), and after
    ``loss.backward()`` every rank holds the gradients averaged over all ranks, so that the
    optimizer steps keep the replicas identical.

    ``bucket_cap_mb`` (default 25) sizes the buckets whose all-reduce starts as soon as their
    gradients are ready during backward; ``no_sync()`` skips the reduction (gradient
    accumulation: the next synchronised backward reduces the accumulated gradients);
    ``broadcast_buffers`` re-sends rank 0's buffers before each forward; ``.module`` is the
    wrapped model (``state_dict`` keys start with ``module.``, as in PyTorch).

    Differs from PyTorch: a parameter that got no gradient on a rank counts as zeros in the
    average (PyTorch needs ``find_unused_parameters=True`` for that), and after the
    reduction every parameter of the model has a ``.grad``.

    Example::

        dist.init_process_group("mpi")
        model = DistributedDataParallel(Net())
        opt = gpugrad.optim.SGD(model.parameters(), lr=0.1)
        for xb, yb in loader:          # DataLoader(..., sampler=DistributedSampler(...))
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, init_sync=True):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be an nn.Module, got "
                            f"{type(module).__name__}")
        self.module = module
        pg = default_group(process_group)
        object.__setattr__(self, "_pg", pg)
        object.__setattr__(self, "broadcast_buffers", bool(broadcast_buffers))
        object.__setattr__(self, "require_backward_grad_sync", True)
        cap = 25.0 if bucket_cap_mb is None else float(bucket_cap_mb)
        if cap <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, "
                             f"got {bucket_cap_mb}")
        object.__setattr__(self, "bucket_cap_mb", cap)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._check_shapes(named)
        if init_sync:
            with no_grad():
                for _, p in module.named_parameters():
                    C.broadcast(p.detach(), src=0)
                self._sync_buffers()
        buckets = self._make_buckets([p for _, p in named], int(cap * 1024 * 1024))
        object.__setattr__(self, "_buckets", buckets)
        where = {}
        for b, bucket in enumerate(buckets):
            for i, p in enumerate(bucket.params):
                where[id(p)] = (b, i)
        object.__setattr__(self, "_where", where)
        object.__setattr__(self, "_next", 0)  # the next bucket to start
        object.__setattr__(self, "_armed", False)  # the end-of-backward callback is queued
        for _, p in named:
            p.register_post_accumulate_grad_hook(self._grad_ready)

    # ------------------------------------------------------------------ construction

    def _check_shapes(self, named):
        pg = self._pg
        counts = [zeros(1, dtype="int64") for _ in range(pg.size)]
        C.all_gather(counts, tensor([len(named)]))
        counts = [int(c.item()) for c in counts]
        if len(set(counts)) > 1:
            raise RuntimeError(f"DistributedDataParallel: the ranks' modules differ in their "
                               f"number of parameters: {dict(enumerate(counts))} (rank: count)")
        rows = [[p.ndim, *list(p.shape)[:6], *[-1] * (6 - min(p.ndim, 6)),
                 B.DTYPES.index(p.dtype)] for _, p in named]
        mine = tensor(rows, dtype="int64") if rows else zeros(0, 8, dtype="int64")
        every = [zeros(tuple(mine.shape), dtype="int64") for _ in range(pg.size)]
        C.all_gather(every, mine)
        for i, (name, p) in enumerate(named):
            for r in range(pg.size):
                if every[r][i].tolist() != mine[i].tolist():
                    row = every[r][i].tolist()
                    shape = tuple(row[1:1 + min(row[0], 6)])
                    raise RuntimeError(
                        f"DistributedDataParallel: parameter {i} ('{name}') differs across "
                        f"ranks: rank {pg.rank} has shape {tuple(p.shape)} ({p.dtype}), rank "
                        f"{r} has shape {shape}" + (" and another dtype" if row[-1] !=
                                                    mine[i].tolist()[-1] else "")
                        + "; every rank must build the same model")

    @staticmethod
    def _make_buckets(params, cap_bytes):
        buckets, cur, size = [], [], 0
        for p in reversed(params):
            nbytes = p.numel() * p.element_size()
            if cur and (size + nbytes > cap_bytes or p.dtype != cur[0].dtype
                        or p.device != cur[0].device):
                buckets.append(_Bucket(cur))
                cur, size = [], 0
            cur.append(p)
            size += nbytes
        if cur:
            buckets.append(_Bucket(cur))
        return buckets

    def _sync_buffers(self):
        for _, b in self.module.named_buffers():
            C.broadcast(b.detach(), src=0)

    # ------------------------------------------------------------------ training

    def forward(self, *args, **kwargs):
        self._reset()
        if self.broadcast_buffers and self._pg.size > 1 and self.require_backward_grad_sync:
            with no_grad():
                self._sync_buffers()
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Within this context, backward accumulates gradients locally without reducing them;
        the first backward after it reduces the accumulated gradients.

        Example::

            with model.no_sync():
                model(x1).sum().backward()   # local only
            model(x2).sum().backward()       # reduces the sum of both
        """
        old = self.require_backward_grad_sync
        object.__setattr__(self, "require_backward_grad_sync", False)
        try:
            yield
        finally:
            object.__setattr__(self, "require_backward_grad_sync", old)

    def _reset(self):
        for b in self._buckets:
            b.ready = 0
            b.work = None
        object.__setattr__(self, "_next", 0)
        object.__setattr__(self, "_armed", False)

    def _grad_ready(self, p):
        """A parameter's gradient is final for this backward (its post-accumulate-grad hook)."""
        if not self.require_backward_grad_sync:
            return
        if not self._armed:
            object.__setattr__(self, "_armed", True)
            queue_callback(self._finish)
        b, _ = self._where[id(p)]
        self._buckets[b].ready += 1
        self._start_ready()

    def _start_ready(self, everything=False):
        """Start the buckets that are complete (all of them with `everything`), in order."""
        buckets = self._buckets
        k = self._next
        while k < len(buckets) and (everything or
                                    buckets[k].ready == len(buckets[k].params)):
            self._start(buckets[k])
            k += 1
        object.__setattr__(self, "_next", k)

    def _start(self, bucket):
        flat = bucket.flat._data
        for p, o in zip(bucket.params, bucket.offsets):
            n = p.numel()
            g = p.grad
            if g is None:
                flat[o:o + n] = 0
            else:
                flat[o:o + n] = g._data.reshape(-1)
        bucket.work = C.all_reduce(bucket.flat, op=C.ReduceOp.AVG, group=None, async_op=True)

    def _finish(self):
        """End of backward: start what is left, wait for every bucket, write the averages."""
        self._start_ready(everything=True)
        for bucket in self._buckets:
            bucket.work.wait()
            flat = bucket.flat._data
            for p, o in zip(bucket.params, bucket.offsets):
                n = p.numel()
                avg = flat[o:o + n].reshape(p._data.shape)
                if p.grad is None:
                    p.grad = tensor(avg.copy(), dtype=p.dtype, device=p.device)
                else:
                    p.grad._data[...] = avg
        self._reset()
