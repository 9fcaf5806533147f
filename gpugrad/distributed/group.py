"""The default process group: how processes find each other, and how a failure ends the job.

MPI (through mpi4py) launches and bootstraps the processes and carries CPU buffers; NCCL
(through CuPy, ``nccl.py``) carries CUDA buffers, its unique id sent over MPI. mpi4py is
imported when a group is first made (importing it initialises MPI), never at gpugrad's import.

Failure handling (no rank may hang when another has failed):

- `init_process_group` installs a ``sys.excepthook`` that prints the traceback and calls
  ``MPI.COMM_WORLD.Abort`` when the world has more than one process (ChainerMN's design), so an
  uncaught exception on one rank ends every rank;
- every collective runs under a watchdog: one daemon thread that wakes now and then and aborts
  the job, naming the collective and the rank, once a collective has run longer than the
  group's ``timeout``.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import sys
import threading
import time

from .nccl import NcclGroup

DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)
BACKENDS = ("mpi", "nccl")
# Before an abort: time for the launcher to forward what this process printed (mpiexec kills
# every process at the abort, and output still in its pipes was seen to be lost under load).
FORWARD_S = 0.5

_INSTALL_HINT = ("install it with `pip install mpi4py mpich` (or `pip install 'gpugrad[test]'`), "
                 "then launch with `mpiexec -n N python -m mpi4py script.py`")


def _mpi():
    """mpi4py's MPI module (importing it initialises MPI), or a clear error."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(f"gpugrad.distributed needs mpi4py, which could not be imported "
                           f"({e}): {_INSTALL_HINT}") from e
    return MPI


class Watchdog:
    """Aborts the job when a collective runs past its deadline.

    ``start(name)`` and ``stop()`` around a blocking call are two attribute assignments; a
    daemon thread looks at the current call every ``tick`` seconds (mpi4py releases the GIL
    while MPI blocks).
    """

    def __init__(self, rank: int, size: int, timeout: float):
        self.rank, self.size, self.timeout = rank, size, timeout
        self.current: tuple | None = None  # (name, deadline)
        self.tick = min(1.0, max(0.01, timeout / 20))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gpugrad-watchdog", daemon=True)
        self._thread.start()

    def start(self, name: str) -> None:
        self.current = (name, time.monotonic() + self.timeout)

    def stop(self) -> None:
        self.current = None

    def close(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            cur = self.current
            if cur is not None and time.monotonic() > cur[1]:
                abort(f"gpugrad.distributed: {cur[0]} did not complete on rank {self.rank} (of "
                      f"{self.size}) within the timeout of {self.timeout:g} s given to "
                      "init_process_group; another rank has probably failed, is stuck, or "
                      "called a different collective. Aborting the job.")


def abort(message: str, code: int = 1) -> None:
    """Print `message` to stderr and end every process of the job (``MPI.COMM_WORLD.Abort``)."""
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()
    time.sleep(FORWARD_S)
    MPI = _mpi()
    if MPI.Is_initialized() and not MPI.Is_finalized():
        MPI.COMM_WORLD.Abort(code)
    os._exit(code)


class ProcessGroup:
    """The processes of one job: rank, size, the MPI communicator (a duplicate of
    ``COMM_WORLD``, so that the user's own MPI traffic never mixes with ours) and, for the
    ``"nccl"`` backend, the NCCL communicator of the CUDA buffers."""

    def __init__(self, backend: str, comm, timeout: float, nccl=None):
        self.backend = backend
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.timeout = timeout
        self.nccl = nccl
        self.watchdog = Watchdog(self.rank, self.size, timeout)

    def __repr__(self):
        return f"ProcessGroup(backend={self.backend!r}, rank={self.rank}, size={self.size})"


_group: list[ProcessGroup | None] = [None]
_previous_hook: list = [None]

NOT_INITIALIZED = ("Default process group has not been initialized, please make sure to call "
                   "init_process_group.")


def default_group(group=None) -> ProcessGroup:
    """The group a collective runs on (only the default group exists)."""
    if group is not None and group is not _group[0]:
        raise ValueError("gpugrad.distributed supports only the default process group "
                         "(group=None); new_group is not implemented")
    g = _group[0]
    if g is None:
        raise ValueError(NOT_INITIALIZED)
    return g


def _excepthook(kind, value, tb):
    """Print the traceback, then end the whole job when it has more than one process."""
    hook = _previous_hook[0] or sys.__excepthook__
    hook(kind, value, tb)
    MPI = sys.modules.get("mpi4py.MPI")
    if MPI is not None and MPI.Is_initialized() and not MPI.Is_finalized() \
            and MPI.COMM_WORLD.Get_size() > 1:
        rank = MPI.COMM_WORLD.Get_rank()
        sys.stderr.write(f"gpugrad.distributed: uncaught {kind.__name__} on rank {rank}; "
                         "aborting the job (MPI.COMM_WORLD.Abort)\n")
        sys.stderr.flush()
        time.sleep(FORWARD_S)
        MPI.COMM_WORLD.Abort(1)


def _seconds(timeout) -> float:
    if timeout is None:
        return DEFAULT_TIMEOUT.total_seconds()
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise ValueError(f"init_process_group: timeout must be a positive datetime.timedelta or "
                         f"number of seconds, got {timeout!r}")
    return float(timeout)


def _check_env(name: str, value: int, given: int, what: str) -> None:
    env = os.environ.get(name)
    for source, v in (("argument", given), (f"environment variable {name}", env)):
        if v is None or v == -1:
            continue
        if int(v) != value:
            raise ValueError(f"init_process_group: {what} {int(v)} (from the {source}) differs "
                             f"from MPI's {value}; launch with `mpiexec -n N` and let MPI "
                             "assign ranks")


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout=None, world_size: int = -1, rank: int = -1, store=None,
                       group_name: str = "", pg_options=None, device_id=None) -> None:
    """Join the job's processes into the default process group.

    ``backend="mpi"`` (the default) moves CPU tensors with MPI; ``backend="nccl"`` moves CUDA
    tensors with NCCL (one process per GPU, the GPU chosen from the local rank) and CPU
    tensors with MPI. Rank and world size come from ``MPI.COMM_WORLD``: launch with
    ``mpiexec -n N python -m mpi4py script.py``; a plain ``python script.py`` is a world of
    one process. A collective that has not completed after `timeout` (a ``timedelta`` or
    seconds; default 30 minutes) aborts the job with a message naming it and the rank; an
    uncaught exception on any rank aborts the job too (an excepthook installed here).

    Example::

        import gpugrad.distributed as dist

        dist.init_process_group("mpi")
        x = gpugrad.ones(3) * dist.get_rank()
        dist.all_reduce(x)          # every rank now holds the sum over ranks
    """
    if _group[0] is not None:
        raise ValueError("trying to initialize the default process group twice!")
    backend = "mpi" if backend is None else str(backend).lower()
    if backend not in BACKENDS:
        raise ValueError(f"init_process_group: backend {backend!r} is not supported; use "
                         f"one of {BACKENDS} (gloo and ucc are not implemented)")
    if init_method not in (None, "env://") or store is not None:
        raise ValueError("init_process_group: processes find each other through MPI; "
                         "init_method and store are not supported (launch with mpiexec)")
    seconds = _seconds(timeout)
    MPI = _mpi()
    world = MPI.COMM_WORLD
    _check_env("RANK", world.Get_rank(), rank, "rank")
    _check_env("WORLD_SIZE", world.Get_size(), world_size, "world_size")
    comm = world.Dup()
    nccl = None
    if backend == "nccl":
        local = os.environ.get("LOCAL_RANK")
        if local is None:
            node = comm.Split_type(MPI.COMM_TYPE_SHARED)
            local = node.Get_rank()
            node.Free()
        nccl = NcclGroup(comm, int(local), device_id)
    _group[0] = ProcessGroup(backend, comm, seconds, nccl)
    if sys.excepthook is not _excepthook:
        _previous_hook[0] = sys.excepthook
        sys.excepthook = _excepthook


def destroy_process_group(group=None) -> None:
    """Leave the default process group (MPI itself stays initialised until the process exits).

    Example::

        dist.destroy_process_group()
    """
    g = default_group(group)
    g.watchdog.close()
    if g.nccl is not None:
        g.nccl.destroy()
    g.comm.Free()
    _group[0] = None
    if sys.excepthook is _excepthook:
        sys.excepthook = _previous_hook[0] or sys.__excepthook__
        _previous_hook[0] = None


def is_available() -> bool:
    """Whether gpugrad.distributed can run here (mpi4py is installed; not imported by this).

    Example::

        >>> gpugrad.distributed.is_available()
        True
    """
    return importlib.util.find_spec("mpi4py") is not None


def is_initialized() -> bool:
    """Whether `init_process_group` has been called (and the group not destroyed)."""
    return _group[0] is not None


def get_rank(group=None) -> int:
    """This process's rank in the default group, 0 to ``get_world_size() - 1``."""
    return default_group(group).rank


def get_world_size(group=None) -> int:
    """The number of processes in the default group."""
    return default_group(group).size


def get_backend(group=None) -> str:
    """The group's backend: ``"mpi"`` or ``"nccl"``."""
    return default_group(group).backend
