"""Record PyTorch's result dtypes into ``tests/data/dtype_table.json`` (needs torch):
binary ops over every pair of dtypes (tensor with tensor, with a 0-d tensor, with a Python
scalar), unary ops and reductions over every dtype. ``tests/test_reliability_dtype_rules.py``
checks gpugrad against this table where torch is not installed.

    python tools/gen_dtype_table.py
"""

from __future__ import annotations

import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "dtype_table.json")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
BINARY = ["add", "sub", "mul", "div", "floor_divide", "remainder", "fmod", "pow", "maximum",
          "minimum", "atan2", "eq", "lt", "logical_and", "bitwise_and", "where"]
UNARY = ["neg", "abs", "exp", "sqrt", "sin", "floor", "round", "sign", "sigmoid", "relu",
         "reciprocal", "logical_not", "square", "isnan"]
REDUCE = ["sum", "prod", "mean", "amax", "amin", "argmax", "std", "var", "logsumexp", "all",
          "any", "norm"]
SCALARS = {"int": 2, "float": 2.5, "bool": True}


def call(m, op, a, b):
    """The op as both libraries spell it (``where`` takes a condition first)."""
    if op == "where":
        return m.where(a > 0 if a.dtype != m.bool else a, a, b)
    return getattr(m, op)(a, b)


def unary(m, op, a):
    if op == "relu":
        return m.nn.functional.relu(a)
    return getattr(m, op)(a)


def reduce(m, op, a):
    if op == "logsumexp":
        return m.logsumexp(a, 0)
    return getattr(m, op)(a)


def result(fn, *args):
    try:
        return str(fn(*args).dtype).rpartition(".")[2]
    except Exception:  # noqa: BLE001 - the table records that torch refuses it
        return "error"


def build(m):
    """The table for library `m` (torch, or gpugrad to compare)."""
    def t(d, nd=True):
        shape = (2,) if nd else ()
        return m.ones(shape, dtype=getattr(m, d))

    table: dict = {"binary": {}, "scalar": {}, "unary": {}, "reduce": {}}
    for op in BINARY:
        for da in DTYPES:
            for db in DTYPES:
                for kind, (na, nb) in {"nd-nd": (True, True), "nd-0d": (True, False),
                                       "0d-nd": (False, True)}.items():
                    table["binary"][f"{op}|{da}|{db}|{kind}"] = result(
                        call, m, op, t(da, na), t(db, nb))
            for sname, s in SCALARS.items():
                if op == "where":
                    continue
                table["scalar"][f"{op}|{da}|{sname}"] = result(call, m, op, t(da), s)
    for op in UNARY:
        for d in DTYPES:
            table["unary"][f"{op}|{d}"] = result(unary, m, op, t(d))
    for op in REDUCE:
        for d in DTYPES:
            table["reduce"][f"{op}|{d}"] = result(reduce, m, op, t(d))
    return table


def main():
    import torch  # noqa: PLC0415 - the recorder's one dependency

    table = build(torch)
    with open(OUT, "w") as f:
        json.dump({"torch": torch.__version__, **table}, f, indent=0, sort_keys=True)
        f.write("\n")
    print(f"{sum(len(v) for v in table.values())} results recorded in "
          f"{os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
