"""NCCL through CuPy (``cupy.cuda.nccl``) for CUDA tensors: ChainerMN's ``pure_nccl`` design.

One process per GPU. The GPU is chosen from the local rank (the rank among the processes on
the same machine), rank 0 makes the NCCL unique id and MPI broadcasts it; then every CUDA
buffer moves with NCCL on the current stream, and the host waits for the stream under the
group's watchdog (so a hung NCCL call aborts the job as an MPI one does).

NOTE: this path has not run on a GPU yet (written against CuPy's documented bindings); its
tests skip without CUDA.
"""

from __future__ import annotations

from .. import backend as B


class NcclGroup:
    """The NCCL communicator of a process group, on this process's GPU."""

    def __init__(self, comm, local_rank: int, device_id=None):
        nccl = self.nccl = B.load_nccl("init_process_group(backend='nccl')")
        cp = B.require_cuda(B.device("cuda", 0), "init_process_group(backend='nccl')")
        if device_id is None:
            index = local_rank % cp.cuda.runtime.getDeviceCount()
        else:
            index = B.as_device(device_id).index if not isinstance(device_id, int) else device_id
        self.device = B.device("cuda", index or 0)
        cp.cuda.Device(index or 0).use()
        rank, size = comm.Get_rank(), comm.Get_size()
        uid = B.numpy.zeros(nccl.get_unique_id().__len__(), B.numpy.int64)
        if rank == 0:
            uid[:] = nccl.get_unique_id()
        comm.Bcast(uid, root=0)  # the buffer method: no pickle
        self.comm = nccl.NcclCommunicator(size, tuple(int(v) for v in uid), rank)
        self.cp = cp
        self.types = {
            "float16": nccl.NCCL_FLOAT16, "float32": nccl.NCCL_FLOAT32,
            "float64": nccl.NCCL_FLOAT64, "int32": nccl.NCCL_INT32, "int64": nccl.NCCL_INT64,
            "uint8": nccl.NCCL_UINT8, "int8": nccl.NCCL_INT8, "bool": nccl.NCCL_UINT8,
        }
        self.ops = {"SUM": nccl.NCCL_SUM, "PRODUCT": nccl.NCCL_PROD, "MAX": nccl.NCCL_MAX,
                    "MIN": nccl.NCCL_MIN}
        if hasattr(nccl, "NCCL_AVG"):
            self.ops["AVG"] = nccl.NCCL_AVG

    def destroy(self) -> None:
        self.comm.destroy()

    def _args(self, a):
        if a.dtype.name not in self.types:
            raise TypeError(f"gpugrad.distributed (nccl): dtype {a.dtype.name} is not supported")
        return a.data.ptr, a.size, self.types[a.dtype.name]

    def _stream(self):
        return self.cp.cuda.get_current_stream().ptr

    def synchronize(self) -> None:
        self.cp.cuda.get_current_stream().synchronize()

    # Every method below takes C-contiguous CuPy arrays and enqueues on the current stream.

    def all_reduce(self, a, op: str) -> None:
        ptr, n, t = self._args(a)
        self.comm.allReduce(ptr, ptr, n, t, self.ops[op], self._stream())

    def reduce(self, a, op: str, root: int) -> None:
        ptr, n, t = self._args(a)
        self.comm.reduce(ptr, ptr, n, t, self.ops[op], root, self._stream())

    def broadcast(self, a, root: int) -> None:
        ptr, n, t = self._args(a)
        self.comm.bcast(ptr, n, t, root, self._stream())

    def all_gather(self, send, recv) -> None:
        ptr, n, t = self._args(send)
        self.comm.allGather(ptr, recv.data.ptr, n, t, self._stream())

    def reduce_scatter(self, send, recv, op: str) -> None:
        ptr, n, t = self._args(recv)
        self.comm.reduceScatter(send.data.ptr, ptr, n, t, self.ops[op], self._stream())

    def gather(self, send, recv, root: int, rank: int, size: int) -> None:
        """`recv` (on root: one row per rank) gets every rank's `send`: grouped send/recv."""
        ptr, n, t = self._args(send)
        s = self._stream()
        self.nccl.groupStart()
        if rank == root:
            for r in range(size):
                self.comm.recv(recv[r].data.ptr, n, t, r, s)
        self.comm.send(ptr, n, t, root, s)
        self.nccl.groupEnd()

    def scatter(self, send, recv, root: int, rank: int, size: int) -> None:
        ptr, n, t = self._args(recv)
        s = self._stream()
        self.nccl.groupStart()
        if rank == root:
            for r in range(size):
                self.comm.send(send[r].data.ptr, n, t, r, s)
        self.comm.recv(ptr, n, t, root, s)
        self.nccl.groupEnd()

    def send(self, a, peer: int) -> None:
        ptr, n, t = self._args(a)
        self.comm.send(ptr, n, t, peer, self._stream())

    def recv(self, a, peer: int) -> None:
        ptr, n, t = self._args(a)
        self.comm.recv(ptr, n, t, peer, self._stream())
