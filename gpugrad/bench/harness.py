"""The shared core of ``python -m gpugrad.bench``: rows, interleaved timing, checks, output.

A suite builds `Row`s (a name and a zero-argument callable returning the gradient(s)) and hands
them to `Bench.measure`, which times them with `time_rows`, checks every gradient against the
reference row's, and keeps the `Result`s; `Bench.table` prints them with `print_table` and
`write_json` writes everything a run measured.
"""

from __future__ import annotations

import datetime
import importlib
import importlib.metadata
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import gpugrad
from gpugrad import backend as B

# The array modules come from gpugrad's backend, the one module that imports them.
np = B.numpy


def _cupy() -> Any:
    return B.xp_for(B.as_device("cuda"), "gpugrad.bench")


# Relative max error a gradient may have against the reference's, by the coarser dtype of the two.
TOLERANCE = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-9}


@dataclass
class Row:
    """One line of a table.

    `fn` is called with no arguments and returns the gradient(s): an array or tensor (NumPy,
    CuPy, gpugrad, PyTorch, JAX) or a list or tuple of them. A row that computes no gradient (a
    copy, a forward pass alone) has ``grad=False``, and what it returns is ignored. `check`, when
    given, is called once, untimed, and its result is checked instead of `fn`'s (for rows whose
    timed calls change their own state).
    `timer` on cuda: "device" times with CuPy events, "torch" with torch.cuda events, "host" with
    perf_counter around a call that waits for its own result (JAX's block_until_ready). A row
    whose warm call takes longer than `max_s` seconds is dropped.
    """

    name: str
    fn: Callable[[], Any]
    check: Callable[[], Any] | None = None
    timer: str = "device"
    max_s: float | None = None
    grad: bool = True


@dataclass
class Result:
    """The measurements of one row: times in seconds, shown in `unit` after multiplying by
    `scale`; `ratio` is median / median of the reference row; `extra` holds a suite's columns."""

    suite: str
    table: str
    name: str
    unit: str
    scale: float
    times: list[float]
    ratio: float | None = None
    # min / min of the reference: steadier than `ratio` where slow spells of a shared machine
    # (seconds long) reach many of a millisecond row's rounds
    min_ratio: float | None = None
    grad_err: float | None = None
    tol: float | None = None
    extra: dict[str, float | None] = field(default_factory=dict)

    @property
    def median_s(self) -> float:
        return statistics.median(self.times)

    @property
    def wrong(self) -> bool:
        return self.grad_err is not None and not self.grad_err <= (self.tol or 0.0)

    def stats(self) -> tuple[float, float, float]:
        """(median, min, max) in the display unit."""
        s = self.scale
        return self.median_s * s, min(self.times) * s, max(self.times) * s

    def to_json(self) -> dict[str, Any]:
        med, lo, hi = self.stats()
        return dict(suite=self.suite, table=self.table, name=self.name, unit=self.unit,
                    times=[t * self.scale for t in self.times], times_s=self.times,
                    median=med, min=lo, max=hi, ratio=self.ratio, min_ratio=self.min_ratio,
                    grad_err=self.grad_err,
                    grad_tol=self.tol, wrong=self.wrong, **self.extra)


# ----------------------------------------------------------------------------- timing


def _timer(kind: str, device: str) -> Callable[[Callable[[], Any]], tuple[float, Any]]:
    """A function that calls `fn` once and returns (seconds, result)."""
    if device == "cuda" and kind == "device":
        cp = _cupy()

        def cupy_events(fn):
            start, end = cp.cuda.Event(), cp.cuda.Event()
            start.record()
            out = fn()
            end.record()
            end.synchronize()
            return cp.cuda.get_elapsed_time(start, end) / 1e3, out

        return cupy_events
    if device == "cuda" and kind == "torch":
        torch = importlib.import_module("torch")

        def torch_events(fn):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            out = fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3, out

        return torch_events

    def host(fn):
        t0 = time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, out

    return host


def _cap(row: Row) -> float:
    return math.inf if row.max_s is None else row.max_s


def time_rows(rows: Sequence[Row], repeat: int, warmup: int = 1, device: str = "cpu",
              settle: int = 1, settle_s: float = 0.0
              ) -> tuple[list[list[float]], list[Any], list[float]]:
    """Time `rows` interleaved: each round times every row once, in turn, so that a slow spell
    of a shared machine slows all rows alike. `warmup` untimed rounds come first.

    Each timed call follows `settle` untimed calls of the same row: the first call after
    another library's row pays for that library's idle threads still spinning on the cores
    (OpenBLAS's workers spin after each call), which made a 1 ms torch row 2-4x slower after
    a NumPy row on a 2-core machine. The timed call then finds the row's own thread pool warm,
    as in a loop of steps. With `settle_s`, untimed calls go on until that many seconds have
    passed: OpenBLAS's workers spin for about 0.1 s, longer than a few short calls.

    Returns each row's `repeat` times (seconds), the result of its first call, and the time of
    its last warm-up call. A row whose warm-up call exceeds its `max_s` is called no more
    (its times list is empty).
    """
    timers = [_timer(r.timer, device) for r in rows]
    first: list[Any] = [None] * len(rows)
    warm = [0.0] * len(rows)
    live = list(range(len(rows)))
    for k in range(max(warmup, 1)):
        for i in live:
            warm[i], out = timers[i](rows[i].fn)
            if k == 0 and rows[i].grad:
                first[i] = to_host(out)
        live = [i for i in live if warm[i] <= _cap(rows[i])]
    times: list[list[float]] = [[] for _ in rows]
    for _ in range(repeat):
        for i in live:
            for _ in range(settle):
                rows[i].fn()
            if settle_s:
                end = time.perf_counter() + settle_s
                while time.perf_counter() < end:
                    rows[i].fn()
            times[i].append(timers[i](rows[i].fn)[0])
    return times, first, warm


def backward_row(loss: Callable[[], Any], leaves: Sequence[Any],
                 grads: Callable[[], Any] | None = None) -> Callable[[], Any]:
    """A row's function for a gpugrad or PyTorch loss: clear the leaves' ``.grad``, run
    ``loss().backward()``, return ``grads()`` (default: the leaves' ``.grad``)."""
    def run():
        for p in leaves:
            p.grad = None
        loss().backward()
        return grads() if grads is not None else [p.grad for p in leaves]
    return run


# ----------------------------------------------------------------------------- gradient checks


def to_host(x: Any) -> list[np.ndarray] | None:
    """The gradient(s) `x` as a list of NumPy arrays (copies), or None."""
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return [a for item in x for a in (to_host(item) or [])]
    if isinstance(x, gpugrad.Tensor):
        return [np.array(x.numpy(force=True))]
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
        return [np.array(x.detach().cpu().numpy())]
    if type(x).__module__.startswith("cupy"):
        return [x.get()]
    return [np.array(x)]


def grad_error(got: list[np.ndarray], ref: list[np.ndarray]) -> tuple[float, float]:
    """(relative max error, tolerance): max |got - ref| / max |ref| over all arrays, and the
    tolerance of the coarser float dtype of the two."""
    dtypes = [a.dtype for a in got + ref if a.dtype.kind == "f"]
    tol = TOLERANCE.get(min(dtypes, key=lambda d: d.itemsize), 1e-3) if dtypes else 1e-3
    if len(got) != len(ref) or any(a.shape != b.shape for a, b in zip(got, ref)):
        return math.inf, tol
    err = 0.0
    for a, b in zip(got, ref):
        if a.size == 0:
            continue
        scale = float(np.max(np.abs(b.astype(np.float64))))
        diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
        e = diff / scale if scale > 0 else diff
        err = max(err, e if math.isfinite(e) else math.inf)
    return err, tol


# ----------------------------------------------------------------------------- output


def fmt(v: float | None) -> str:
    """A number in a table: about four significant figures, "-" for none."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    a = abs(v)
    if a == 0 or 1e-2 <= a < 1e6:
        return f"{v:.{max(0, 3 - int(math.floor(math.log10(a))))}f}" if a else "0"
    return f"{v:.2e}"


def fmt_count(v: float | None) -> str:
    """A count in a table: ``1e5`` for a power of ten from 1,000 up, else the whole number."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    k = round(math.log10(v)) if v > 0 else 0
    return f"1e{k}" if v >= 1000 and 10**k == v else f"{v:g}"


def print_table(title: str, results: Sequence[Result], columns: Sequence[str] = (),
                ratio_ref: str | None = None, out: TextIO | None = None,
                lead: Sequence[str] = ()) -> None:
    """One table: row, the `lead` columns (counts, such as a curve's x), median, min, max (in
    the rows' unit), the suite's `columns` (`lead` and `columns` from each result's `extra`),
    the ratio to `ratio_ref`, the gradient's relative error, and WRONG."""
    out = out or sys.stdout
    unit = results[0].unit if results else ""
    head = ["row", *lead, f"median {unit}", "min", "max", *columns,
            f"/ {ratio_ref}" if ratio_ref else "ratio", "min/min", "grad err"]
    body = []
    for r in results:
        cells = [r.name, *(fmt_count(r.extra.get(c)) for c in lead), *map(fmt, r.stats()),
                 *(fmt(r.extra.get(c)) for c in columns),
                 fmt(r.ratio), fmt(r.min_ratio),
                 "-" if r.grad_err is None else f"{r.grad_err:.1e}"]
        body.append(cells + (["WRONG"] if r.wrong else []))
    widths = [max(len(c[i]) for c in [head, *body] if i < len(c)) for i in range(len(head))]
    print(f"\n{title}", file=out)
    for cells in [head, *body]:
        line = [cells[0].ljust(widths[0])]
        line += [c.rjust(w) for c, w in zip(cells[1:], widths[1:])] + cells[len(widths):]
        print("  " + "  ".join(line).rstrip(), file=out)


def environment(device: str) -> dict[str, Any]:
    """Versions, machine and date, for the JSON file and the run's header."""

    def version(dist):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    cupy = next((d.metadata["Name"] for d in importlib.metadata.distributions()
                 if (d.metadata["Name"] or "").lower().startswith("cupy")), None)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas: str | None = None
    try:
        lib: Any = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{lib['name']} {lib.get('version', '')}".strip()
    except Exception:  # older NumPy: no "dicts" mode
        pass
    name = f"cpu: {cpu}"
    if device == "cuda":
        cp = _cupy()
        prop = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
        name = f"cuda: {prop['name'].decode() if isinstance(prop['name'], bytes) else prop['name']}"
    return dict(date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                python=platform.python_version(), gpugrad=gpugrad.__version__,
                numpy=np.__version__, torch=version("torch"), jax=version("jax"),
                jaxlib=version("jaxlib"), cupy=version(cupy) if cupy else None,
                device=device, device_name=name, cpu=cpu, cpu_count=os.cpu_count(),
                platform=platform.platform(), blas=blas,
                OPENBLAS_THREAD_TIMEOUT=os.environ.get("OPENBLAS_THREAD_TIMEOUT"))


def write_json(path: str, bench: Bench, argv: Sequence[str]) -> None:
    """Every row's raw numbers, the skipped rows, the footers and the environment."""
    doc = dict(argv=list(argv), environment=bench.env,
               rows=[r.to_json() for r in bench.results], skipped=bench.skipped,
               notes=bench.notes, wrong=[f"{r.suite}/{r.table}/{r.name}" for r in bench.wrong])
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, default=float)
        f.write("\n")


# ----------------------------------------------------------------------------- a run


class Bench:
    """The state of one run: device, array module, options, and what has been measured."""

    def __init__(self, device: str = "cpu", quick: bool = False, repeat: int | None = None,
                 warmup: int | None = None, out: TextIO | None = None):
        self.device, self.quick, self.repeat = device, quick, repeat
        self.warmup = warmup if warmup is not None else (1 if quick else 2)
        self.out = out or sys.stdout
        self.xp: Any = _cupy() if device == "cuda" else np
        self.env = environment(device)
        self.results: list[Result] = []
        self.skipped: list[dict[str, str]] = []
        self.notes: list[str] = []
        self.cache: dict[Any, Any] = {}  # data shared by suites (linreg's X), one entry at a time
        self.hand = f"{self.xp.__name__} hand"  # the name of the hand-written reference rows

    @property
    def wrong(self) -> list[Result]:
        return [r for r in self.results if r.wrong]

    def say(self, line: str = "") -> None:
        print(line, file=self.out)

    def optional(self, suite: str, module: str) -> Any:
        """`module` (torch or jax) imported and, on cuda, able to use the GPU; else None after
        a line saying that its rows are skipped."""
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            self.skip(suite, module, f"not importable ({exc})")
            return None
        if self.device == "cuda":
            gpu = mod.cuda.is_available() if module == "torch" else mod.default_backend() == "gpu"
            if not gpu:
                self.skip(suite, module, "installed without GPU support")
                return None
        return mod

    def skip(self, suite: str, row: str, reason: str) -> None:
        self.skipped.append(dict(suite=suite, row=row, reason=reason))
        self.say(f"  {row}: skipped, {reason}")

    def measure(self, suite: str, table: str, rows: Sequence[Row], *, repeat: int,
                unit: str = "ms", scale: float = 1e3, ratio_ref: str | None = None,
                grad_ref: str | None = None, settle: int = 1,
                warmup: int | None = None, settle_s: float = 0.0) -> dict[str, Result]:
        """Time `rows` interleaved (`self.repeat` rounds if set, else `repeat`), check each
        gradient against `grad_ref`'s, and return the results by row name. `settle`,
        `settle_s`: untimed calls of a row before each timed one (`time_rows`); `warmup`:
        warm-up rounds, if not the run's (`self.warmup`), for rows whose every call is seconds
        long."""
        times, first, warm = time_rows(rows, self.repeat or repeat,
                                       self.warmup if warmup is None else warmup, self.device,
                                       settle, settle_s if not self.quick else 0.0)
        got: dict[str, list[np.ndarray] | None] = {}
        results: dict[str, Result] = {}
        for row, ts, out, w in zip(rows, times, first, warm):
            if not ts:
                self.skip(suite, row.name, f"one call took {w:.1f} s (> {row.max_s} s)")
                continue
            got[row.name] = to_host(row.check()) if row.check and row.grad else out
            results[row.name] = Result(suite, table, row.name, unit, scale, ts)
        ref = got.get(grad_ref) if grad_ref else None
        base = results.get(ratio_ref) if ratio_ref else None
        for name, r in results.items():
            if base is not None:
                r.ratio = r.median_s / base.median_s
                r.min_ratio = min(r.times) / min(base.times)
            g = got[name]
            if ref is not None and g is not None:
                r.grad_err, r.tol = grad_error(g, ref)
        self.results.extend(results.values())
        return results

    def table(self, title: str, results: dict[str, Result], columns: Sequence[str] = (),
              ratio_ref: str | None = None, lead: Sequence[str] = ()) -> None:
        print_table(title, list(results.values()), columns, ratio_ref, self.out, lead)

    def target(self, what: str, now: float | None, limit: float,
               by_min: float | None = None) -> None:
        """A footer line: a target, the value it has now (and by the ratio of minima, where
        given), and whether it is met."""
        state = "-" if now is None else "met" if now <= limit else "missed"
        also = "" if by_min is None else f"; min/min {fmt(by_min)}"
        self.footer(f"target: {what} (now {fmt(now)}, {state}{also})")

    def footer(self, *lines: str) -> None:
        for line in lines:
            self.notes.append(line)
            self.say(f"  {line}")
