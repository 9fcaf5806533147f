"""Record PyTorch's behaviour on the bad inputs of ``tests/bad_inputs_15.py`` into
``tests/data/bad_inputs_torch.json`` (run it after adding cases; needs torch).

    python tools/gen_bad_inputs.py          # rewrite the JSON
    python tools/gen_bad_inputs.py --diff   # also list where gpugrad differs from it
"""

from __future__ import annotations

import json
import os
import sys
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

OUT = os.path.join(ROOT, "tests", "data", "bad_inputs_torch.json")


def describe(r):
    """A JSON-able description of a result: tensors by dtype, shape and values."""
    if r is None:
        return None
    if hasattr(r, "dtype") and hasattr(r, "shape") and hasattr(r, "tolist"):
        return {"dtype": str(r.dtype).rpartition(".")[2], "shape": list(r.shape),
                "values": r.detach().tolist() if hasattr(r, "detach") else r.tolist()}
    if isinstance(r, (bool, int, float, str)):
        return {"py": r}
    if isinstance(r, (tuple, list)):
        return {"seq": [describe(x) for x in r]}
    return {"object": type(r).__name__}


def run(case, m):
    """{"raises": type, "message": ...} or {"returns": description} of case.fn(m)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            r = case.fn(m)
        except Exception as exc:  # noqa: BLE001 - recording what happens, whatever it is
            return {"raises": type(exc).__name__, "message": str(exc)[:300]}
        return {"returns": describe(r)}


def main():
    import bad_inputs_15  # noqa: PLC0415
    import torch  # noqa: PLC0415 - the recorder's one dependency

    torch.manual_seed(0)
    table = {c.id: run(c, torch) for c in bad_inputs_15.CASES}
    with open(OUT, "w") as f:
        json.dump({"torch": torch.__version__, "cases": table}, f, indent=0, sort_keys=True)
        f.write("\n")
    print(f"{len(table)} cases recorded in {os.path.relpath(OUT, ROOT)}")
    if "--diff" in sys.argv:
        import gpugrad  # noqa: PLC0415

        for c in bad_inputs_15.CASES:
            g = run(c, gpugrad)
            t = table[c.id]
            if ("raises" in g) != ("raises" in t) or "returns" in g and g != t:
                print(f"{c.id}\n  torch:   {str(t)[:300]}\n  gpugrad: {str(g)[:300]}")


if __name__ == "__main__":
    main()
