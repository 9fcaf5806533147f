"""Several processes and machines, as ``torch.distributed``: a process group over MPI
(mpi4py) for CPU tensors and NCCL (CuPy) for CUDA tensors, and in-place collectives.

Launch with ``mpiexec -n 2 python -m mpi4py train.py``; a plain ``python train.py`` is a
world of one process.

Example::

    import gpugrad
    import gpugrad.distributed as dist

    dist.init_process_group("mpi")
    x = gpugrad.ones(3) * dist.get_rank()
    dist.all_reduce(x, op=dist.ReduceOp.SUM)
    dist.destroy_process_group()
"""

from .collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    barrier,
    broadcast,
    gather,
    irecv,
    isend,
    recv,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
    send,
)
from .group import (
    ProcessGroup,
    abort,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
)

__all__ = [
    "init_process_group",
    "destroy_process_group",
    "is_available",
    "is_initialized",
    "get_rank",
    "get_world_size",
    "get_backend",
    "ProcessGroup",
    "ReduceOp",
    "Work",
    "barrier",
    "all_reduce",
    "broadcast",
    "all_gather",
    "all_gather_into_tensor",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "reduce",
    "gather",
    "scatter",
    "send",
    "recv",
    "isend",
    "irecv",
    "abort",
]
