"""The mode switches every op reads: grad mode (thread-local, as in PyTorch), the open
forward-AD levels with the tensors that carry a tangent on them, and anomaly mode.

Only the raw state lives here; the public switches (``no_grad``, ``dual_level``,
``detect_anomaly``) are in ``gpugrad.autograd``.
"""

from __future__ import annotations

import threading
import weakref


class _State(threading.local):
    grad_enabled = True


state = _State()

# Open forward-AD levels (process-wide, as in PyTorch); tangents are looked at only when > 0.
fw_levels = [0]

# Per open level, the tensors given a tangent on it: id -> weak reference (a WeakSet would
# compare tensors with ==), so that the level's exit can drop their tangents.
duals: list[dict] = []

# Anomaly mode (process-wide, as in PyTorch): nodes keep the user's line that made them, and
# backward checks every gradient for NaN.
anomaly = [False]


def track(t) -> None:
    """Remember a tensor that carries a tangent, so that the level's exit drops it."""
    if duals and t._fw is not None:
        duals[-1][id(t)] = weakref.ref(t)


def current_level():
    """The open forward-AD level's token (None outside ``dual_level``)."""
    return duals[-1] if duals else None
