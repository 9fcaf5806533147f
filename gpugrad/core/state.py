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

# Forward-AD levels (process-wide, as in PyTorch) are numbered 0, 1, ... from the outermost.
# A tensor's tangents are a dict ``_fw = {level: tangent}``, never changed once set (a new
# dict replaces it), and the tangent at level k carries tangents at levels < k only: the
# mixed derivatives (nested dual numbers, the innermost level outermost, as in JAX).
#
# fw_levels[0]: how many levels ops see, 0 when none is open (the one check on the hot path).
# It is len(duals), except inside the jvp rule of level k, which sees levels < k only.
fw_levels = [0]

# Per open level, its token (compared by identity: a node's saved tangents are reused only
# on the very level that made them), which is also the record of the tensors given a tangent
# on it: id -> weak reference (a WeakSet would compare tensors with ==), so that the level's
# exit can drop their tangents.
duals: list[dict] = []

# The live tensors that have had a post-accumulate-grad hook registered (id -> weak
# reference): while there are any, backward counts each leaf's uses first so that it can
# finish a leaf's gradient (and call those hooks) as soon as its last use has run.
post_hooked: dict[int, weakref.ref] = {}


def track_post_hooked(t) -> None:
    i = id(t)
    if i not in post_hooked:
        def forget(_ref, i=i):
            post_hooked.pop(i, None)

        post_hooked[i] = weakref.ref(t, forget)


# Anomaly mode (process-wide, as in PyTorch): nodes keep the user's line that made them, and
# backward checks every gradient for NaN.
anomaly = [False]


def track(t, level: int) -> None:
    """Remember that `t` carries a tangent on `level`, so that the level's exit drops it."""
    duals[level][id(t)] = weakref.ref(t)


def track_all(t) -> None:
    """`track` `t` on every open level where it carries a tangent (a copy of another's)."""
    for k in t._fw:
        if k < len(duals):
            duals[k][id(t)] = weakref.ref(t)


# vmap: the open batch levels, outermost first (each a `gpugrad.core.batched.Level`). Empty
# outside vmap: `apply` looks for batched inputs only when it is not (one check per op).
batch_levels: list = []
