"""gpugrad.save / gpugrad.load: bit-exact round trips, atomic writes, clear errors."""

import io
import math
import os

import numpy as np
import pytest

import gpugrad
from gpugrad import nn, serialization
from gpugrad.backend import DTYPES


def random_bits(dtype, shape, seed=0):
    """Arbitrary bit patterns of `dtype` (NaN payloads, -0.0, subnormals, infinities...)."""
    np_dt = dtype.np
    raw = np.random.default_rng(seed).integers(
        0, 256, size=(*shape, np_dt.itemsize), dtype=np.uint8
    )
    a = raw.view(np_dt).reshape(shape)
    return a.astype(bool) if np_dt == np.bool_ else a


def same_bits(a, b):
    a, b = a.detach().cpu().numpy(), b.detach().cpu().numpy()
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_every_dtype_round_trips_bit_for_bit(dtype, tmp_path, device):
    tensors = {
        "matrix": gpugrad.from_numpy(random_bits(dtype, (5, 7))).to(device),
        "scalar": gpugrad.from_numpy(random_bits(dtype, ())).to(device),
        "empty": gpugrad.zeros(0, 3, dtype=dtype, device=device),
        "strided": gpugrad.from_numpy(random_bits(dtype, (4, 6), seed=1)).to(device).T[::2],
    }
    path = tmp_path / "t.gpugrad"
    gpugrad.save(tensors, path)
    back = gpugrad.load(path)
    assert list(back) == list(tensors)
    for k, t in tensors.items():
        assert same_bits(back[k], t), k
        assert back[k].device == gpugrad.device(device)
        assert back[k].dtype == dtype and not back[k].requires_grad


def test_nested_containers_and_scalars(tmp_path):
    obj = {
        "w": gpugrad.randn(3, requires_grad=True),
        "p": nn.Parameter(gpugrad.ones(2)),
        1: [1, -(2**70), 2.5, True, None, "text ✓", (0.1, float("inf"), -math.inf)],
        (3, "k"): {"nested": {"empty": [], "t": gpugrad.arange(4)}},
        "nan": float("nan"),
    }
    path = tmp_path / "obj.gpugrad"
    gpugrad.save(obj, path)
    back = gpugrad.load(path)
    assert back["w"].requires_grad and back["w"].is_leaf and same_bits(back["w"], obj["w"])
    assert isinstance(back["p"], nn.Parameter) and back["p"].requires_grad
    assert back[1] == obj[1] and type(back[1][-1]) is tuple and type(back[1][3]) is bool
    assert back[(3, "k")]["nested"]["empty"] == []
    assert back[(3, "k")]["nested"]["t"].tolist() == [0, 1, 2, 3]
    assert math.isnan(back["nan"])
    with open(path, "rb") as f:  # file objects work too
        assert same_bits(gpugrad.load(f)["w"], obj["w"])


def test_single_tensor_and_file_objects():
    buf = io.BytesIO()
    x = gpugrad.linspace(0, 1, 5, dtype=gpugrad.float64)
    gpugrad.save(x, buf)
    buf.seek(0)
    assert same_bits(gpugrad.load(buf), x)


def test_format_has_magic_version_and_json_header(tmp_path):
    path = tmp_path / "x.gpugrad"
    gpugrad.save({"a": gpugrad.ones(2)}, path)
    raw = path.read_bytes()
    assert raw[:8] == b"GPUGRAD\0"
    assert int.from_bytes(raw[8:12], "little") == serialization.VERSION
    hlen = int.from_bytes(raw[12:20], "little")
    assert b'"dtype":"float32"' in raw[20 : 20 + hlen]
    base = -(-(20 + hlen) // 64) * 64  # data starts 64-byte aligned
    assert raw[base : base + 8] == np.ones(2, "<f4").tobytes()


def test_model_and_optimizer_checkpoint(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = gpugrad.optim.Adam(model.parameters(), lr=0.01)
    model(gpugrad.randn(5, 3)).sum().backward()
    opt.step()
    path = tmp_path / "ckpt.gpugrad"
    gpugrad.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 1}, path)
    ckpt = gpugrad.load(path)
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    other.load_state_dict(ckpt["model"])
    for a, b in zip(model.parameters(), other.parameters()):
        assert same_bits(a, b)
    opt2 = gpugrad.optim.Adam(other.parameters())
    opt2.load_state_dict(ckpt["optim"])
    assert ckpt["epoch"] == 1 and opt2.param_groups[0]["lr"] == 0.01
    assert opt2.state[other[0].weight]["step"] == 1


def test_map_location(tmp_path, device):
    path = tmp_path / "x.gpugrad"
    gpugrad.save([gpugrad.ones(2, device=device, requires_grad=True)], path)
    (on_cpu,) = gpugrad.load(path, map_location="cpu")
    assert on_cpu.device == gpugrad.device("cpu") and on_cpu.requires_grad
    (there,) = gpugrad.load(path, map_location=gpugrad.device(device))
    assert there.device == gpugrad.device(device)


def test_crash_mid_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.gpugrad"
    gpugrad.save({"v": gpugrad.ones(3)}, path)
    before = path.read_bytes()

    def crashing_write(out, header, blobs):
        out.write(b"GPUGRAD\0 half a file")
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(serialization, "_write", crashing_write)
    with pytest.raises(KeyboardInterrupt):
        gpugrad.save({"v": gpugrad.zeros(1000)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.gpugrad"]  # no temporary file left behind
    monkeypatch.undo()
    assert gpugrad.load(path)["v"].tolist() == [1.0, 1.0, 1.0]


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.gpugrad"
    gpugrad.save({"w": gpugrad.randn(100)}, path)
    raw = path.read_bytes()
    for cut in (len(raw) - 1, len(raw) // 2, 40, 10):
        path.write_bytes(raw[:cut])
        with pytest.raises(RuntimeError, match=r"ckpt\.gpugrad is truncated"):
            gpugrad.load(path)
    corrupt = bytearray(raw)
    corrupt[-5] ^= 0xFF
    path.write_bytes(bytes(corrupt))
    with pytest.raises(RuntimeError, match="checksum"):
        gpugrad.load(path)


def test_foreign_file_is_a_clear_error(tmp_path):
    for name, content in [
        ("notes.txt", b"hello world, not a checkpoint"),
        ("empty.bin", b""),
        ("model.pt", b"PK\x03\x04" + b"\0" * 100),
    ]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match=rf"{name} is not a gpugrad file"):
            gpugrad.load(path)
    path = tmp_path / "future.gpugrad"
    path.write_bytes(b"GPUGRAD\0" + (99).to_bytes(4, "little") + bytes(8))
    with pytest.raises(ValueError, match="format version 99"):
        gpugrad.load(path)


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"type set at the top level\['a'\]"):
        gpugrad.save({"a": {1, 2}}, tmp_path / "x.gpugrad")
    assert not os.listdir(tmp_path)
