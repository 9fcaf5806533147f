"""scaling: how time and peak memory grow with the size of the problem, row by row.

    python -m gpugrad.bench scaling [--n-grid 1e3 1e4 1e5 1e6 1e7] [--d 64]
        [--d-grid 16 64 256 1024] [--n 100000] [--ops-grid 10 1e2 1e3 1e4 1e5 1e6]
        [--batch-grid 1 8 64 512 4096] [--plot scaling.png] [--json PATH] [--device cpu|cuda]

Four curves, each measured cell by cell with the other suites' rows, and printed as one table
with a line per row and x (x log-spaced; grids as counts such as ``1e5``):

- **linreg vs N** (rows of X, at ``--d``, default 64) and **linreg vs d** (columns, at ``--n``,
  default 100,000): one gradient of mean((X w - y)^2), X float32, as in the linreg suite: by hand
  in NumPy (the reference), gpugrad autograd, gpugrad fused (``nn.functional.linear_mse_loss``),
  PyTorch; and "copy X" and "X @ w", which compute no gradient but measure the read bandwidth.
  The one-pass floor is the smaller of X @ w's time and X's bytes at the copy's bandwidth (bytes
  read + written over its time); the footer prints both, and "x floor" is each row over it.
- **overhead vs ops**: forward + backward of the overhead suite's chain on 1-element float64
  tensors, by hand (the chain rule in NumPy: the floor), gpugrad, gpugrad's forward alone (so
  "bwd us/op" = gpugrad less its forward) and PyTorch (one thread). Target: gpugrad's us per op
  flat within 10% from 1,000 ops up (max / min over the chains of 1,000 ops and more).
- **mlp vs batch**: one SGD step of the mlp suite's 784-256-256-10 MLP, by hand, gpugrad, PyTorch.

Each line: the time of one call (ms), the time per unit (us per row of X, ns per element of X,
us per op, us per example), tracemalloc's peak MB during one call (on cpu, for the NumPy and
gpugrad rows: PyTorch's allocations are not traced; chains up to 1e5 ops only, tracemalloc
slows Python's allocations) and the ratio to the hand row. Under each table, the log-log slope
of every row's time (and peak memory) over the largest three x: all four curves should grow at
most linearly, and a slope above 1.1 is flagged by a line starting "SUPERLINEAR".

``--plot PATH.png`` draws the four curves log-log (needs matplotlib: ``pip install
'gpugrad[plot]'``), with the linreg one-pass floor and the hand chain drawn as dashed floors.

Rounds shrink as cells grow (one timed round of the longest chains), which keeps the default
run to about three minutes on 2 cores, with at most about 6 GB allocated (the 1e7 x 64 float32
X is 2.56 GB, and the copy row writes a second one). ``--quick`` runs tiny grids in seconds.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gpugrad.distributed as dist
from gpugrad.nn import functional as F

from . import linreg, mlp, overhead
from .harness import Bench, Result, Row, backward_row, fmt, fmt_count

SUITE = "scaling"

N_GRID = (10**3, 10**4, 10**5, 10**6, 10**7)
D_GRID = (16, 64, 256, 1024)
OPS_GRID = (10, 10**2, 10**3, 10**4, 10**5, 10**6)
BATCH_GRID = (1, 8, 64, 512, 4096)
QUICK = dict(n_grid=(256, 1024, 4096), d=8, d_grid=(4, 16, 64), n=512,
             ops_grid=(10, 100, 1000, 2000), batch_grid=(1, 4, 16))

SLOPE_POINTS = 3  # the slope is fitted over this many of the largest x
SUPERLINEAR = 1.1  # a slope above this, where growth should be linear, is flagged
FLAT_FROM = 1000  # gpugrad's us per op must be flat over chains this long and longer
PEAK_OPS = 10**5  # peak memory of chains up to this length only


def loglog_slope(xs: Sequence[float], ys: Sequence[float | None],
                 points: int = SLOPE_POINTS) -> float | None:
    """The least-squares slope of log y against log x over the `points` largest x that have a
    positive y: 1 for y proportional to x, 2 for x squared. None with fewer than two such
    points (or a single x)."""
    pairs = sorted((x, y) for x, y in zip(xs, ys) if y is not None and x > 0 and y > 0)
    pairs = pairs[-points:]
    if len(pairs) < 2:
        return None
    lx = [math.log(x) for x, _ in pairs]
    ly = [math.log(y) for _, y in pairs]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    if sxx == 0:
        return None
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sxx


@dataclass
class Curve:
    """One curve's cells: for each x, the results of its rows (by name)."""

    name: str  # "linreg vs N"
    x_name: str  # the extra column holding x: "N", "d", "ops", "batch"
    per: str  # the time-per-unit column: "us/row", ...
    per_unit: Callable[[int], float]  # seconds -> that unit, at x
    cells: list[tuple[int, dict[str, Result]]] = field(default_factory=list)
    floor: list[tuple[int, float]] = field(default_factory=list)  # (x, the floor in ms or us/op)
    settle_s: float = 0.0  # seconds of untimed calls before each timed one (harness.time_rows)

    def series(self) -> dict[str, list[tuple[int, Result]]]:
        """Each row's (x, result) in grid order, rows in the order first measured."""
        out: dict[str, list[tuple[int, Result]]] = {}
        for x, res in self.cells:
            for name, r in res.items():
                out.setdefault(name, []).append((x, r))
        return out


def plan(size: float, steps: Sequence[tuple[float, int, int, int | None]]
         ) -> tuple[int, int, int | None]:
    """(repeat, settle, warmup) of the first step whose size limit `size` does not exceed:
    fewer rounds for bigger cells. The last step is the default."""
    for limit, repeat, settle, warmup in steps:
        if size <= limit:
            return repeat, settle, warmup
    return steps[-1][1:]


def measure_cell(bench: Bench, curve: Curve, x: int, rows: list[Row],
                 rounds: tuple[int, int, int | None],
                 peaks: dict[str, Callable[[], Any]]) -> dict[str, Result]:
    """Time `rows` at `x`, add x, the time per unit and (on cpu) the peak MB of the rows in
    `peaks`, and keep the cell in `curve`."""
    repeat, settle, warmup = rounds
    res = bench.measure(SUITE, f"{curve.name}, {curve.x_name}={x}", rows, repeat=repeat,
                        ratio_ref=bench.hand, grad_ref=bench.hand, settle=settle, warmup=warmup,
                        settle_s=curve.settle_s)
    for r in res.values():
        r.extra[curve.x_name] = x
        r.extra[curve.per] = r.median_s * curve.per_unit(x)
    if bench.device == "cpu":
        for name, fn in peaks.items():
            if name in res:
                res[name].extra["peak MB"] = linreg.peak_bytes(fn) / 1e6
    curve.cells.append((x, res))
    gc.collect()
    return res


def report(bench: Bench, curve: Curve, title: str, columns: Sequence[str]) -> None:
    """The curve's table (a line per row and x), each row's log-log slopes of time and peak
    memory over the largest x, and a SUPERLINEAR line for each slope above 1.1."""
    series = curve.series()
    ordered = {f"{name} {x}": r for name, cells in series.items() for x, r in cells}
    bench.table(title, ordered, [curve.per, *columns], ratio_ref=bench.hand,
                lead=[curve.x_name])
    xs = sorted({x for x, _ in curve.cells})
    top = xs[-SLOPE_POINTS:]
    span = f"{curve.x_name} = {fmt_count(top[0])}..{fmt_count(top[-1])}" if xs else ""
    times: list[str] = []
    peaks: list[str] = []
    flags: list[str] = []
    for name, cells in series.items():
        for what, values, out in (
                ("time", [r.median_s for _, r in cells], times),
                ("peak memory", [r.extra.get("peak MB") for _, r in cells], peaks)):
            s = loglog_slope([x for x, _ in cells], values)
            if s is None:
                continue
            key = "slope" if what == "time" else "peak MB slope"
            for _, r in cells:
                r.extra[key] = s
            out.append(f"{name} {s:.2f}")
            if s > SUPERLINEAR:
                flags.append(f"SUPERLINEAR: {curve.name}: {name}'s {what} grows as "
                             f"{curve.x_name}^{s:.2f} over {span} (linear is 1; flagged above "
                             f"{SUPERLINEAR})")
    if times:
        bench.footer(f"log-log slope of time over {span}: {', '.join(times)}")
    if peaks:
        bench.footer(f"log-log slope of peak MB over {span}: {', '.join(peaks)}")
    bench.footer(*flags)


# ----------------------------------------------------------------------------- linreg


def linreg_rows(bench: Bench, n: int, d: int, torch
                ) -> tuple[list[Row], dict[str, Callable[[], Any]], Any]:
    """The linreg rows at X (n, d), the rows whose peak memory to measure, and X."""
    X, w, y = linreg.data(bench, n, d)
    gX, gw, gy = linreg.gpugrad_tensors(X, w, y)
    peaks = {bench.hand: lambda: linreg.hand_grad(X, w, y),
             "gpugrad autograd": backward_row(lambda: ((gX @ gw - gy) ** 2).mean(), [gw]),
             "gpugrad fused": backward_row(lambda: F.linear_mse_loss(gX, gw, gy), [gw])}
    rows = [Row(name, fn) for name, fn in peaks.items()]
    if torch is not None:
        tX, tw, ty = linreg.torch_tensors(torch, X, w, y)
        rows.append(Row("torch", backward_row(lambda: ((tX @ tw - ty) ** 2).mean(), [tw]),
                        timer="torch"))
    buf = bench.xp.empty_like(X)
    rows += [Row("copy X", lambda: bench.xp.copyto(buf, X), grad=False),
             Row("X @ w", lambda: X @ w, grad=False)]
    return rows, peaks, X


def linreg_curve(bench: Bench, curve: Curve, shapes: Sequence[tuple[int, int]],
                 x_of: Callable[[tuple[int, int]], int], torch) -> None:
    """Measure the linreg rows at each (n, d) of `shapes`; x_of((n, d)) is the curve's x."""
    for n, d in shapes:
        rows, peaks, X = linreg_rows(bench, n, d, torch)
        # Two settling calls while OpenBLAS's spinning workers (about 100 ms) outlast one call.
        rounds = plan(X.nbytes, [(2**24, 15, 2, None), (2**27, 7, 2, None),
                                 (2**30, 5, 1, None), (math.inf, 3, 1, 1)])
        res = measure_cell(bench, curve, x_of((n, d)), rows, rounds, peaks)
        copy_s, read_s = res["copy X"].median_s, res["X @ w"].median_s
        floor = min(read_s, copy_s / 2)  # X's bytes at the copy's bandwidth: half its time
        for r in res.values():
            r.extra.update({"N": n, "d": d, "x floor": r.median_s / floor,
                            "GB/s copy": 2 * X.nbytes / copy_s / 1e9,
                            "GB/s X @ w": X.nbytes / read_s / 1e9})
        curve.floor.append((x_of((n, d)), floor * 1e3))
        del rows, peaks, X  # free X (and the copy buffer) before the next shape
        bench.cache.clear()


def linreg_footer(bench: Bench, curve: Curve) -> None:
    cells = [(x, res["copy X"].extra, res["X @ w"].extra) for x, res in curve.cells]
    bench.footer(
        "read bandwidth, GB/s by " + curve.x_name + ": copy X (X's bytes read + written) "
        + ", ".join(f"{fmt_count(x)}: {c['GB/s copy']:.1f}" for x, c, _ in cells)
        + "; X @ w (one read of X) "
        + ", ".join(f"{fmt_count(x)}: {r['GB/s X @ w']:.1f}" for x, _, r in cells),
        "one-pass floor, ms: " + ", ".join(f"{fmt_count(x)}: {fmt(f)}" for x, f in curve.floor)
        + " (the smaller of X @ w's time and X.nbytes at the copy's bandwidth)")


# ----------------------------------------------------------------------------- chain, mlp


CHAIN_ROWS = ("gpugrad", "gpugrad forward", "torch")


def chain_curve(bench: Bench, curve: Curve, grid: Sequence[int], torch) -> None:
    for n in grid:
        rows = [r for r in overhead.rows_for(bench, n, 1, torch, None)
                if r.name == bench.hand or r.name in CHAIN_ROWS]
        # One warm-up and no settling calls from 1e5 ops (a call takes a second or more).
        rounds = plan(n, [(10**3, 21, 1, None), (10**4, 7, 1, None), (10**5, 3, 0, 1),
                          (math.inf, 1, 0, 1)])
        by_name = {r.name: r.fn for r in rows}
        peaks = {k: by_name[k] for k in (bench.hand, "gpugrad")} if n <= PEAK_OPS else {}
        res = measure_cell(bench, curve, n, rows, rounds, peaks)
        g, fwd = res.get("gpugrad"), res.get("gpugrad forward")
        if g is not None and fwd is not None:
            g.extra["bwd us/op"] = (g.median_s - fwd.median_s) * 1e6 / n
        if bench.hand in res:
            curve.floor.append((n, res[bench.hand].median_s * 1e6 / n))


def flatness(curve: Curve, name: str) -> float | None:
    """max / min of row `name`'s us per op over the chains of FLAT_FROM ops and more."""
    us = [r.extra[curve.per] for x, r in curve.series().get(name, []) if x >= FLAT_FROM]
    values = [u for u in us if u is not None]
    return max(values) / min(values) if len(values) >= 2 else None


def mlp_rows(bench: Bench, batch: int, torch
             ) -> tuple[list[Row], dict[str, Callable[[], Any]]]:
    """The mlp rows at `batch` (as in the mlp suite), and the rows whose peak memory to
    measure."""
    xp = bench.xp
    params, X, labels = mlp.init(bench, batch)
    mine = [p.copy() for p in params]
    hand = lambda: mlp.hand_step(xp, mine, X, labels)
    rows = [Row(bench.hand, hand,
                check=lambda: mlp.hand_value_and_grad(xp, params, X, labels)[1])]
    rows += mlp.framework_rows(bench, params, X, labels, torch)
    return rows, {bench.hand: hand, "gpugrad": rows[1].fn}


def mlp_curve(bench: Bench, curve: Curve, grid: Sequence[int], torch) -> None:
    for batch in grid:
        rows, peaks = mlp_rows(bench, batch, torch)
        rounds = plan(batch, [(64, 51, 1, None), (512, 15, 1, None), (math.inf, 5, 1, None)])
        measure_cell(bench, curve, batch, rows, rounds, peaks)


# ----------------------------------------------------------------------------- the suite


def run(bench: Bench, args) -> None:
    def arg(name, default):
        given = getattr(args, name, None)
        return given if given else QUICK[name] if bench.quick else default

    n_grid, d = arg("n_grid", N_GRID), arg("d", 64)
    d_grid, n = arg("d_grid", D_GRID), arg("n", 100_000)
    ops_grid, batch_grid = arg("ops_grid", OPS_GRID), arg("batch_grid", BATCH_GRID)
    torch = bench.optional(SUITE, "torch")
    dev = bench.device
    memory = ("peak MB: tracemalloc's peak during one call (NumPy and Python allocations, not "
              "torch's)" if dev == "cpu" else "peak memory is measured on cpu only")
    curves = []

    by_n = Curve("linreg vs N", "N", "us/row", lambda x: 1e6 / x, settle_s=linreg.SPIN_S)
    linreg_curve(bench, by_n, [(k, d) for k in n_grid], lambda s: s[0], torch)
    report(bench, by_n, f"linreg vs N: one gradient of mean((X w - y)^2), X float32 (N, {d}), "
                        f"{dev}, ms per call", ["x floor", "peak MB"])
    linreg_footer(bench, by_n)
    bench.footer(memory + ", X and y allocated before")
    curves.append(by_n)

    by_d = Curve("linreg vs d", "d", "ns/elem", lambda x: 1e9 / (n * x), settle_s=linreg.SPIN_S)
    linreg_curve(bench, by_d, [(n, k) for k in d_grid], lambda s: s[1], torch)
    report(bench, by_d, f"linreg vs d: one gradient of mean((X w - y)^2), X float32 ({n}, d), "
                        f"{dev}, ms per call; ns/elem: per element of X", ["x floor", "peak MB"])
    linreg_footer(bench, by_d)
    curves.append(by_d)

    by_ops = Curve("overhead vs ops", "ops", "us/op", lambda x: 1e6 / x)
    threads = torch.get_num_threads() if torch is not None else None
    try:
        if torch is not None:
            torch.set_num_threads(1)
        chain_curve(bench, by_ops, ops_grid, torch)
    finally:
        if threads is not None:
            torch.set_num_threads(threads)
    report(bench, by_ops, f"overhead vs ops: forward + backward of an n-op chain (mul add sin exp "
                          f"tanh) on 1-element float64 tensors, {dev}, ms per call",
           ["bwd us/op", "peak MB"])
    bench.footer(f"torch runs with one thread here; {memory}, measured up to "
                 f"{fmt_count(PEAK_OPS)} ops")
    flat = {name: flatness(by_ops, name) for name in (*CHAIN_ROWS, bench.hand)}
    bench.footer("us/op max / min over chains of 1e3 ops and more: " + ", ".join(
        f"{name} {fmt(v)}" for name, v in flat.items() if v is not None))
    bench.target("gpugrad us/op flat within 10% from 1e3 ops up (max / min)", flat["gpugrad"],
                 1.1)
    curves.append(by_ops)

    by_batch = Curve("mlp vs batch", "batch", "us/example", lambda x: 1e6 / x)
    mlp_curve(bench, by_batch, batch_grid, torch)
    report(bench, by_batch, f"mlp vs batch: one SGD step of a 784-256-256-10 tanh MLP, float32, "
                            f"{dev}, ms per step", ["peak MB"])
    curves.append(by_batch)

    if getattr(args, "plot", None) and (not dist.is_initialized() or dist.get_rank() == 0):
        plot(args.plot, curves, bench)
        bench.say(f"\n  wrote the plot to {args.plot}")


# ----------------------------------------------------------------------------- the plot


def figure_class() -> Any:
    """matplotlib's Figure (no pyplot: the process's backend and state stay as they are)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("python -m gpugrad.bench scaling --plot needs matplotlib: "
                          f"pip install 'gpugrad[plot]' ({exc})") from exc
    return Figure


def plot(path: str, curves: Sequence[Curve], bench: Bench) -> None:
    """Draw `curves` log-log, one panel each, with their floors dashed, to `path`."""
    fig = figure_class()(figsize=(12, 9), layout="constrained")
    from matplotlib.ticker import NullFormatter  # importable once figure_class() is

    env = bench.env
    fig.suptitle(f"gpugrad.bench scaling: {env['device_name']}, {env['date']}", fontsize=10)
    for ax, curve in zip(fig.subplots(2, 2).flat, curves):
        per_op = curve.per == "us/op"
        for name, cells in curve.series().items():
            if name in ("copy X", "X @ w") or (per_op and name == bench.hand):
                continue  # drawn as the floor
            xs = [x for x, _ in cells]
            ys = [r.extra[curve.per] if per_op else r.median_s * 1e3 for _, r in cells]
            ax.plot(xs, ys, marker="o", label=name)
        if curve.floor:
            label = "hand chain (floor)" if per_op else "one-pass floor"
            ax.plot(*zip(*curve.floor), "k--", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # decades only, however short the grid
        ax.set_xlabel(curve.x_name)
        ax.set_ylabel("us per op" if per_op else "ms per call")
        ax.set_title(curve.name)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
