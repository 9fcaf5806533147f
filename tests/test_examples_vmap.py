"""Smoke tests of the vmap examples: run each as a script and check what it prints."""

from __future__ import annotations

import re

from test_examples import NUMBER, line, run_example


def _after(out, pattern):
    return float(re.search(pattern + rf"\s*({NUMBER})", out).group(1))


def test_per_sample_grads():
    out = run_example("per_sample_grads.py", "--batch", "16")
    assert "16 examples" in out
    assert _after(out, r"max \|vmap - loop\| =") < 1e-5, out
    assert _after(out, r"max \|mean of per-sample - batch gradient\| =") < 1e-5, out
    assert _after(out, r"after clipping to 1.0: max norm") <= 1.0 + 1e-5, out
    lo = float(line(out, "per-sample gradient norms").split()[4])
    assert lo > 0, out


def test_batched_jacobians():
    out = run_example("batched_jacobians.py", "--batch", "5")
    assert "shape (5, 3, 4)" in out and "shape (5, 4, 4)" in out, out
    for pattern in (r"vmap\(jacrev\(f\)\): shape \(5, 3, 4\), max \|vmap - loop\| =",
                    r"max diff =", r"vmap\(hessian\(energy\)\): shape \(5, 4, 4\), max \|vmap - "
                    r"loop\| =", r"max \|H - H\^T\| ="):
        assert _after(out, pattern) < 1e-12, out


def test_ensemble():
    out = run_example("ensemble.py", "--steps", "100")
    assert _after(out, r"max \|vmap - one model at a time\| =") < 1e-5, out
    before = [float(v) for v in line(out, "losses before:").split()[2:]]
    after = [float(v) for v in line(out, "losses after:").split()[2:]]
    assert len(before) == len(after) == 5
    assert all(a < b for a, b in zip(after, before)), out
    assert len(set(before)) == 5, out  # five different models
    assert _after(out, r"ensemble accuracy \(mean of probabilities\):") > 0.7, out
