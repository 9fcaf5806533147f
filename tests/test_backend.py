"""Devices: parsing and printing, CUDA availability and its error, moves between devices."""

from __future__ import annotations

import numpy as np
import pytest

import gpugrad as gg


def val(t):
    return np.asarray(t.detach().cpu().numpy())


def cuda_missing() -> bool:
    return not gg.cuda.is_available()


# ----------------------------------------------------------------------------- device objects


def test_device_parsing():
    d = gg.device("cuda:1")
    assert d.type == "cuda" and d.index == 1
    assert gg.device("cuda").type == "cuda" and gg.device("cuda").index is None
    assert gg.device("cpu").type == "cpu" and gg.device("cpu").index is None
    assert gg.device("cuda", 0).index == 0
    assert gg.device(gg.device("cuda:2")) == gg.device("cuda:2")


def test_device_str_repr_eq():
    assert repr(gg.device("cpu")) == "device(type='cpu')"
    assert repr(gg.device("cuda:1")) == "device(type='cuda', index=1)"
    assert repr(gg.device("cuda")) == "device(type='cuda')"
    assert str(gg.device("cpu")) == "cpu"
    assert str(gg.device("cuda:0")) == "cuda:0"
    assert gg.device("cpu") == gg.device("cpu")
    assert gg.device("cuda:0") != gg.device("cuda:1")
    assert len({gg.device("cpu"), gg.device("cpu")}) == 1


@pytest.mark.parametrize("bad", ["tpu", "cuda:x", "cuda:-1", "", "cpu:cuda"])
def test_bad_device_strings_raise(bad):
    with pytest.raises((RuntimeError, ValueError), match="device"):
        gg.device(bad)


def test_bad_device_in_a_factory_raises():
    with pytest.raises((RuntimeError, ValueError), match="tpu"):
        gg.zeros(2, device="tpu")


def test_cpu_tensor_device():
    x = gg.zeros(2)
    assert x.device == gg.device("cpu")
    assert str(x.device) == "cpu"
    assert not x.is_cuda


# ----------------------------------------------------------------------------- CUDA availability


def test_cuda_is_available_returns_bool():
    assert isinstance(gg.cuda.is_available(), bool)
    assert isinstance(gg.cuda.device_count(), int)
    assert (gg.cuda.device_count() > 0) == gg.cuda.is_available()


def _check_unavailable_message(msg: str):
    low = msg.lower()
    assert "cuda" in low
    assert "cupy" in low or "gpu" in low, msg
    assert "install" in low or "driver" in low or "device='cpu'" in low, msg


@pytest.mark.skipif("not cuda_missing()", reason="CUDA is available here")
@pytest.mark.parametrize(
    "make",
    [
        lambda: gg.zeros(2, device="cuda"),
        lambda: gg.tensor([1.0], device="cuda:0"),
        lambda: gg.tensor([1.0]).cuda(),
        lambda: gg.tensor([1.0]).to("cuda"),
    ],
    ids=["factory", "tensor", "cuda()", "to"],
)
def test_asking_for_cuda_without_it_explains_how_to_fix(make):
    with pytest.raises(RuntimeError) as info:
        make()
    _check_unavailable_message(str(info.value))


# ----------------------------------------------------------------------------- moves


def test_to_dtype_and_device_on_cpu():
    x = gg.tensor([1.0, 2.0])
    assert x.to("cpu") is x
    assert x.cpu() is x
    assert x.to(gg.float32) is x
    y = x.to(gg.float64)
    assert y.dtype == gg.float64 and y is not x
    assert x.to("cpu", gg.float64).dtype == gg.float64
    assert x.to(dtype=gg.int64).dtype == gg.int64
    assert x.to(device="cpu") is x
    other = gg.zeros(1, dtype=gg.float64)
    assert x.to(other).dtype == gg.float64


def test_to_dtype_is_differentiable_and_grads_keep_dtype():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    (x.to(gg.float64) * 3).sum().backward()
    assert x.grad.dtype == gg.float32
    np.testing.assert_allclose(val(x.grad), [3.0, 3.0])


@pytest.mark.cuda
def test_cuda_round_trip(cuda_device):
    x = gg.tensor([1.0, 2.0])
    y = x.cuda()
    assert y.device == gg.device("cuda:0") and y.is_cuda
    assert str(y.device) == "cuda:0"
    assert repr(y) == "tensor([1., 2.], device='cuda:0')"
    z = y.cpu()
    assert z.device == gg.device("cpu")
    np.testing.assert_array_equal(val(z), [1.0, 2.0])
    assert x.to("cuda").device.type == "cuda"
    assert y.to("cuda") is y
    assert gg.zeros(2, device="cuda").device.type == "cuda"


@pytest.mark.cuda
def test_gradient_flows_across_devices(cuda_device):
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x.cuda() * 2
    y.sum().backward()
    assert x.grad.device == gg.device("cpu")
    np.testing.assert_allclose(val(x.grad), [2.0, 2.0])


@pytest.mark.cuda
@pytest.mark.parametrize(
    "op, name",
    [
        (lambda a, b: a + b, "add"),
        (lambda a, b: a * b, "mul"),
        (lambda a, b: gg.matmul(a, b), "matmul"),
        (lambda a, b: gg.cat([a, b]), "cat"),
    ],
    ids=["add", "mul", "matmul", "cat"],
)
def test_mixing_devices_raises_naming_op_and_devices(cuda_device, op, name):
    a = gg.ones(2)
    b = gg.ones(2, device="cuda")
    with pytest.raises(RuntimeError) as info:
        op(a, b)
    msg = str(info.value)
    assert name in msg and "cpu" in msg and "cuda:0" in msg, msg
