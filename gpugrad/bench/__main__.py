"""``python -m gpugrad.bench [suite ...]`` (or ``gpugrad-bench``): run benchmark suites.

    python -m gpugrad.bench                      # all suites, CPU, default sizes (a few minutes)
    python -m gpugrad.bench linreg --n 100000 --json out.json
    python -m gpugrad.bench overhead --device cuda --size 1 1000
    python -m gpugrad.bench all --quick          # tiny sizes: a smoke test in seconds
    python -m gpugrad.bench vmap --batch-sizes 8  # per-sample gradients, one small batch
    python -m gpugrad.bench scaling --plot scaling.png   # growth with N, d, ops, batch (3 min)
    python -m gpugrad.bench scaling --n-grid 1e3 1e5 1e7 --ops-grid 1e3 1e6 --d-grid 64
    mpiexec -n 2 python -m mpi4py -m gpugrad.bench distributed   # not part of "all"

The ``scaling`` suite measures how time and peak memory grow with linreg's N and d, the
overhead chain's length and the MLP's batch, fits each row's log-log slope (a line starting
SUPERLINEAR flags a slope above 1.1), and with ``--plot PATH.png`` draws the curves and their
floors (matplotlib: ``pip install 'gpugrad[plot]'``). Grids take counts such as ``1e5``.

Exits with status 1 when a row's gradient disagrees with its reference (flagged WRONG), 2 when
an option cannot be honoured (--device cuda without a GPU, --plot without matplotlib).
"""

from __future__ import annotations

import argparse
import gc
import io
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import gpugrad
import gpugrad.distributed as dist

from . import cheapgrad, distributed, linreg, mlp, overhead, persample, scaling
from .harness import Bench, write_json

SUITES: dict[str, Callable[[Bench, Any], None]] = {
    "linreg": linreg.run, "overhead": overhead.run, "mlp": mlp.run, "cheapgrad": cheapgrad.run,
    "vmap": persample.run, "scaling": scaling.run, "distributed": distributed.run}
# "all": the single-process suites (distributed runs under mpiexec, when named)
ALL = ["linreg", "overhead", "mlp", "cheapgrad", "vmap", "scaling"]


def count(text: str) -> int:
    """A positive whole number, also written as 1e5."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value >= 1 and value.is_integer()):
        raise argparse.ArgumentTypeError(f"expected a positive whole number such as 1000 or "
                                         f"1e3, got {text!r}")
    return int(value)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gpugrad.bench",
                                description="Time gpugrad against NumPy by hand, PyTorch and JAX, "
                                            "and check every gradient.")
    p.add_argument("suites", nargs="*", default=["all"], metavar="suite",
                   help=f"{', '.join(SUITES)} or all (default: all but distributed)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--n", type=int, help="linreg, cheapgrad: rows of X (default 1000000); "
                                         "scaling: N of the linreg vs d curve (default 100000)")
    p.add_argument("--d", type=int, help="linreg, cheapgrad: columns of X (default 256); "
                                         "scaling: d of the linreg vs N curve (default 64)")
    p.add_argument("--batch", type=int, help="mlp, cheapgrad: batch size (default 64)")
    p.add_argument("--batch-sizes", type=int, nargs="+",
                   help="vmap: batch sizes (default 64 512)")
    p.add_argument("--ops", type=int, help="overhead: ops in the chain (default 1000)")
    p.add_argument("--size", type=int, nargs="+", help="overhead: tensor sizes (default 1 100)")
    p.add_argument("--repeat", type=int,
                   help="timed rounds (default 7 for linreg, 21 for overhead and mlp; "
                        "scaling: fewer as cells grow, 1 for chains over 1e5 ops)")
    p.add_argument("--n-grid", type=count, nargs="+", metavar="N",
                   help="scaling: rows of X (default 1e3 1e4 1e5 1e6 1e7)")
    p.add_argument("--d-grid", type=count, nargs="+", metavar="D",
                   help="scaling: columns of X (default 16 64 256 1024)")
    p.add_argument("--ops-grid", type=count, nargs="+", metavar="OPS",
                   help="scaling: chain lengths (default 10 1e2 1e3 1e4 1e5 1e6)")
    p.add_argument("--batch-grid", type=count, nargs="+", metavar="B",
                   help="scaling: MLP batch sizes (default 1 8 64 512 4096)")
    p.add_argument("--plot", metavar="PATH",
                   help="scaling: draw its curves, log-log with their floors, to PATH (.png; "
                        "needs matplotlib: pip install 'gpugrad[plot]')")
    p.add_argument("--json", metavar="PATH", help="write every row's numbers to PATH")
    p.add_argument("--quick", action="store_true", help="tiny sizes and 3 rounds, for tests")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = parser()
    args = p.parse_args(argv)
    names = ALL if "all" in args.suites else args.suites
    unknown = [s for s in names if s not in SUITES]
    if unknown:
        p.error(f"unknown suite {', '.join(unknown)}; choose from {', '.join(SUITES)} or all")
    if args.plot and "scaling" not in names:
        p.error("--plot draws the scaling suite's curves: name scaling (or all) among the suites")
    if args.plot:
        try:
            scaling.figure_class()
        except ImportError as exc:
            print(f"gpugrad.bench: {exc}", file=sys.stderr)
            return 2
    if args.device == "cuda" and not gpugrad.cuda.is_available():
        print("gpugrad.bench: --device cuda needs CuPy and a CUDA GPU; none is usable",
              file=sys.stderr)
        return 2
    out = None
    if "distributed" in names:  # every rank runs the suites; rank 0 prints
        if not dist.is_initialized():
            dist.init_process_group("mpi")
        if dist.get_rank() != 0:
            out = io.StringIO()
    bench = Bench(args.device, quick=args.quick, repeat=args.repeat or (3 if args.quick else None),
                  out=out)
    env = bench.env
    bench.say(f"gpugrad.bench {' '.join(names)} on {env['device_name']} ({env['cpu_count']} CPUs), "
              f"{env['date']}")
    bench.say("  " + ", ".join(f"{k} {env[k]}" for k in ("python", "gpugrad", "numpy", "torch",
                                                         "jax", "cupy") if env[k]))
    bench.say(f"  rows timed interleaved after {bench.warmup} warm-up round(s), each timed call "
              "right after an untimed one of the same row;\n  ratio: median over the reference's "
              "median; grad err: max |g - g_ref| / max |g_ref|")
    for name in names:
        bench.say(f"\n[{name}]")
        SUITES[name](bench, args)
        gc.collect()
    if args.json and out is None:
        write_json(args.json, bench, argv)
        bench.say(f"\nwrote {args.json}")
    if bench.wrong:
        bench.say("\nWRONG gradients: " + ", ".join(
            "/".join(s for s in (r.suite, r.table, r.name) if s) for r in bench.wrong))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
