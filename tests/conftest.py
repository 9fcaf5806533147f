"""Shared fixtures: the `device` every op test runs on, and seeded random state."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

# Make the op table importable whatever pytest's import mode is.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import gpugrad  # noqa: E402

CUDA_SKIP_REASON = (
    "no usable CUDA device: needs CuPy (pip install cupy-cuda12x) and an NVIDIA GPU with a driver"
)


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs CuPy and an NVIDIA GPU (skipped otherwise)")


def cuda_available() -> bool:
    return bool(gpugrad.cuda.is_available())


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def device(request):
    """The device a test runs on: "cpu", and "cuda" where a GPU is usable (skipped otherwise)."""
    if request.param == "cuda" and not cuda_available():
        pytest.skip(CUDA_SKIP_REASON)
    return request.param


@pytest.fixture
def cuda_device():
    """ "cuda" for tests that only make sense with a GPU; skips without one."""
    if not cuda_available():
        pytest.skip(CUDA_SKIP_REASON)
    return "cuda"


@pytest.fixture
def rng():
    """A seeded NumPy generator."""
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seeded_and_restored():
    """Seed gpugrad's RNG before each test; restore the default dtype and grad mode after it."""
    gpugrad.manual_seed(0)
    get = getattr(gpugrad, "get_default_dtype", None)
    dtype = get() if get else None
    yield
    if dtype is not None:
        gpugrad.set_default_dtype(dtype)
    gpugrad.set_grad_enabled(True)


def pytest_report_header(config):
    if cuda_available():
        return f"gpugrad: CUDA tests run on {gpugrad.cuda.device_count()} GPU(s)"
    return f"gpugrad: CUDA tests are skipped ({CUDA_SKIP_REASON})"
