"""Printing tensors as PyTorch prints them (``tensor([ 0.,  4.,  8., 12.])``)."""

from __future__ import annotations

import math

from .. import backend as B

LINEWIDTH = 80
THRESHOLD = 1000
EDGEITEMS = 3
PRECISION = 4


class _Formatter:
    def __init__(self, values, kind):
        self.kind = kind
        self.sci = False
        self.int_mode = True
        self.width = 1
        if kind == "f":
            finite = [abs(v) for v in values if math.isfinite(v) and v != 0]
            self.int_mode = all(v == math.ceil(v) for v in finite)
            if finite:
                hi, lo = max(finite), min(finite)
                if self.int_mode:
                    self.sci = hi / lo > 1000.0 or hi > 1.0e8
                else:
                    self.sci = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        # As in PyTorch, only finite values set the column width (nan and inf may stick out).
        shown = [v for v in values if math.isfinite(v)] if kind == "f" else values
        self.width = max((len(self.fmt(v)) for v in shown), default=1)

    def fmt(self, v):
        if self.kind == "b":
            return str(bool(v))
        if self.kind != "f":
            return str(int(v))
        if not math.isfinite(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        if self.sci:
            return f"{v:.{PRECISION}e}"
        if self.int_mode:
            return f"{v:.0f}."
        return f"{v:.{PRECISION}f}"

    def __call__(self, v):
        return self.fmt(v).rjust(self.width)


def _flat_values(a, summarize):
    """The values that will be printed (edges only when summarizing)."""
    if not summarize or a.ndim == 0:
        return a.reshape(-1).tolist()
    out = []

    def walk(x):
        if x.ndim == 1:
            n = x.shape[0]
            out.extend((x if n <= 2 * EDGEITEMS else B.numpy.concatenate(
                [x[:EDGEITEMS], x[-EDGEITEMS:]])).tolist())
            return
        n = x.shape[0]
        idx = range(n) if n <= 2 * EDGEITEMS else [*range(EDGEITEMS), *range(n - EDGEITEMS, n)]
        for i in idx:
            walk(x[i])

    walk(a)
    return out


def _render(a, fmt, indent, summarize):
    if a.ndim == 0:
        return fmt(a.item()).strip() if fmt.kind != "f" else fmt.fmt(a.item())
    if a.ndim == 1:
        n = a.shape[0]
        if summarize and n > 2 * EDGEITEMS:
            items = [fmt(v) for v in a[:EDGEITEMS].tolist()] + ["..."] + \
                    [fmt(v) for v in a[-EDGEITEMS:].tolist()]
        else:
            items = [fmt(v) for v in a.tolist()]
        per_line = max(1, (LINEWIDTH - indent) // (fmt.width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    n = a.shape[0]
    if summarize and n > 2 * EDGEITEMS:
        rows = [_render(a[i], fmt, indent + 1, summarize) for i in range(EDGEITEMS)] + ["..."] + \
               [_render(a[i], fmt, indent + 1, summarize) for i in range(n - EDGEITEMS, n)]
    else:
        rows = [_render(a[i], fmt, indent + 1, summarize) for i in range(n)]
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(rows) + "]"


def tensor_repr(t, prefix="tensor(", indent=None):
    a = B.to_numpy(t._data)
    dt = B.dtype_of(a)
    kind = "f" if dt.is_floating_point else ("b" if dt is B.bool_ else "i")
    if indent is None:
        indent = len(prefix)
    summarize = a.size > THRESHOLD
    suffix = []
    dev = t.device
    if dev.type != "cpu":
        suffix.append(f"device='{dev}'")
    if a.size == 0:
        body = "[]"
        if a.ndim != 1:
            suffix.append(f"size={tuple(a.shape)}")
    else:
        fmt = _Formatter(_flat_values(a.astype(float) if kind == "f" else a, summarize), kind)
        body = _render(a.astype(float) if kind == "f" else a, fmt, indent, summarize)
    if not (dt is B.get_default_dtype() or dt is B.int64 or dt is B.bool_):
        suffix.append(f"dtype={dt!r}")
    if t.grad_fn is not None:
        suffix.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffix.append("requires_grad=True")
    return prefix + body + "".join(", " + s for s in suffix) + ")"
