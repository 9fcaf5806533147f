"""Interop: NumPy's array protocol, DLPack with NumPy/PyTorch/JAX/CuPy, CUDA array interface."""

from __future__ import annotations

import numpy as np
import pytest

import gpugrad


def _torch():
    return pytest.importorskip("torch")


# ----------------------------------------------------------------------------- NumPy, CPU


def test_asarray_and_numpy_share_memory():
    t = gpugrad.arange(6.0).reshape(2, 3)
    a = np.asarray(t)
    assert a.shape == (2, 3) and a.dtype == np.float32
    a[0, 0] = 7.0
    assert t[0, 0].item() == 7.0
    assert np.shares_memory(t.numpy(), a)


def test_numpy_refuses_requires_grad_with_torch_advice():
    t = gpugrad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"requires grad.*detach\(\)\.numpy\(\)"):
        t.numpy()
    np.testing.assert_array_equal(t.detach().numpy(), np.ones(3, np.float32))


def test_from_numpy_shares_memory():
    a = np.arange(4.0)
    t = gpugrad.from_numpy(a)
    a[1] = -1.0
    assert t[1].item() == -1.0
    t.add_(1.0)
    np.testing.assert_array_equal(a, [1.0, 0.0, 3.0, 4.0])


def test_dlpack_device_cpu():
    assert gpugrad.zeros(2).__dlpack_device__() == (1, 0)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool"])
def test_dlpack_numpy_round_trip_shares_memory(dtype):
    t = gpugrad.arange(6).reshape(2, 3).to(getattr(gpugrad, dtype))
    a = np.from_dlpack(t)
    assert a.dtype == np.dtype(dtype) and a.shape == (2, 3)
    np.testing.assert_array_equal(a, t.numpy())
    assert np.shares_memory(a, t.numpy())

    back = gpugrad.from_dlpack(a)
    assert back.dtype == getattr(gpugrad, dtype) and back.device == gpugrad.device("cpu")
    assert np.shares_memory(back.numpy(), a)


def test_from_dlpack_numpy_writes_go_both_ways():
    a = np.zeros((2, 2), np.float64)
    t = gpugrad.from_dlpack(a)
    assert t.dtype == gpugrad.float64
    a[0, 1] = 3.0  # NumPy -> gpugrad
    assert t[0, 1].item() == 3.0
    t[1, 0] = 5.0  # gpugrad -> NumPy
    assert a[1, 0] == 5.0


def test_dlpack_keeps_strides_of_views():
    t = gpugrad.arange(12.0).reshape(3, 4).t()
    a = np.from_dlpack(t)
    np.testing.assert_array_equal(a, t.numpy())
    assert np.shares_memory(a, t.numpy())


def test_dlpack_refuses_requires_grad_like_torch():
    t = gpugrad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't export tensors that require gradient"):
        np.from_dlpack(t)
    assert t.__dlpack_device__() == (1, 0)
    np.testing.assert_array_equal(np.from_dlpack(t.detach()), np.ones(3, np.float32))


def test_from_dlpack_rejects_non_dlpack_and_unsupported_dtypes():
    with pytest.raises(TypeError, match="__dlpack__"):
        gpugrad.from_dlpack([1.0, 2.0])
    with pytest.raises(TypeError, match="unsupported dtype complex128"):
        gpugrad.from_dlpack(np.zeros(2, np.complex128))


def test_from_dlpack_of_a_tensor_shares_memory():
    t = gpugrad.zeros(3)
    u = gpugrad.from_dlpack(t)
    u[0] = 1.0
    assert t[0].item() == 1.0


def test_cuda_array_interface_absent_on_cpu():
    t = gpugrad.zeros(2)
    assert not hasattr(t, "__cuda_array_interface__")
    with pytest.raises(AttributeError, match="non-CUDA"):
        t.__cuda_array_interface__  # noqa: B018


# ----------------------------------------------------------------------------- PyTorch, JAX (CPU)


def test_torch_round_trip_cpu():
    torch = _torch()
    t = gpugrad.arange(6.0).reshape(2, 3)
    u = torch.from_dlpack(t)
    assert u.dtype == torch.float32 and tuple(u.shape) == (2, 3) and u.device.type == "cpu"
    u[0, 0] = 10.0  # torch -> gpugrad
    assert t[0, 0].item() == 10.0

    x = torch.arange(4, dtype=torch.float64)
    g = gpugrad.from_dlpack(x)
    assert g.dtype == gpugrad.float64
    g[2] = -2.0  # gpugrad -> torch
    assert x[2].item() == -2.0
    y = g * 2  # gpugrad ops on borrowed memory
    np.testing.assert_array_equal(y.numpy(), [0.0, 2.0, -4.0, 6.0])


def test_torch_refuses_requires_grad_tensor():
    torch = _torch()
    with pytest.raises(RuntimeError, match="require gradient"):
        torch.from_dlpack(gpugrad.ones(2, requires_grad=True))


def test_jax_round_trip_cpu():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    t = gpugrad.arange(6.0).reshape(2, 3)
    j = jnp.from_dlpack(t)
    np.testing.assert_array_equal(np.asarray(j), t.numpy())
    x = jax.device_put(jnp.arange(4.0, dtype=jnp.float32), jax.devices("cpu")[0])
    g = gpugrad.from_dlpack(x)  # JAX arrays are immutable: read only
    assert g.dtype == gpugrad.float32
    np.testing.assert_array_equal(g.numpy(), [0.0, 1.0, 2.0, 3.0])


# ----------------------------------------------------------------------------- CUDA


def test_dlpack_cupy_round_trip_cuda(cuda_device):
    import cupy as cp

    t = gpugrad.arange(6.0, device=cuda_device).reshape(2, 3)
    assert t.__dlpack_device__() == (2, 0)
    c = cp.from_dlpack(t)
    c[0, 0] = 10.0  # CuPy -> gpugrad
    assert t[0, 0].item() == 10.0

    x = cp.arange(4, dtype=cp.float64)
    g = gpugrad.from_dlpack(x)
    assert g.is_cuda and g.dtype == gpugrad.float64
    g[1] = -1.0  # gpugrad -> CuPy
    assert float(x[1]) == -1.0


def test_cuda_array_interface(cuda_device):
    import cupy as cp

    t = gpugrad.arange(4.0, device=cuda_device)
    iface = t.__cuda_array_interface__
    assert iface["shape"] == (4,) and iface["typestr"] == "<f4"
    c = cp.asarray(t)  # zero copy through the interface
    c[0] = 5.0
    assert t[0].item() == 5.0
    with pytest.raises(RuntimeError, match="requires grad"):
        gpugrad.ones(2, device=cuda_device, requires_grad=True).__cuda_array_interface__  # noqa: B018


def test_dlpack_torch_round_trip_cuda(cuda_device):
    torch = _torch()
    if not torch.cuda.is_available():
        pytest.skip("this PyTorch has no CUDA")
    t = gpugrad.arange(6.0, device=cuda_device)
    u = torch.from_dlpack(t)
    assert u.is_cuda
    u[0] = 10.0
    assert t[0].item() == 10.0

    x = torch.arange(4.0, device="cuda")
    g = gpugrad.from_dlpack(x)
    assert g.is_cuda
    g[1] = -1.0
    torch.cuda.synchronize()
    assert x[1].item() == -1.0


def test_from_dlpack_cuda_without_cupy_says_how_to_fix(monkeypatch):
    from gpugrad import backend

    class FakeCuda:
        def __dlpack__(self, stream=None):
            raise AssertionError("not reached")

        def __dlpack_device__(self):
            return (2, 0)

    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "_cupy_error", "ImportError: No module named 'cupy'")
    with pytest.raises(RuntimeError, match=r"from_dlpack.*needs CuPy.*gpugrad\[cuda12\]"):
        gpugrad.from_dlpack(FakeCuda())
