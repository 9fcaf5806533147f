"""Files that cannot lie (issue 15): every bit of a small file's header flipped, every
truncation, every data bit flipped, and hand-made headers that pass the checksum but lie
(negative shapes, misaligned or overlapping offsets, unknown dtypes, deep nesting): each load
raises an error naming ``gpugrad.load`` and the file, and none returns wrong values."""

from __future__ import annotations

import io
import json
import os
import re
import struct
import subprocess
import sys
import zlib

import pytest

import gpugrad as gg
from gpugrad import serialization as S

NAME = "fuzz.gpugrad"


def small_file():
    """A small checkpoint: tensors of several dtypes, nested containers, scalars."""
    obj = {
        "w": gg.arange(6.0).reshape(2, 3),
        "b": gg.tensor([1.5, -2.0], dtype=gg.float64, requires_grad=True),
        "i": gg.tensor([7], dtype=gg.int8),
        "opt": {"lr": 0.1, "weight_decay": 0.0, "betas": (0.9, 0.999), "step": 3},
        "tags": ["a", None, True, float("inf")],
    }
    buf = io.BytesIO()
    gg.save(obj, buf)
    return obj, buf.getvalue()


def load_bytes(raw):
    f = io.BytesIO(raw)
    f.name = NAME
    return gg.load(f)


def assert_refused(raw):
    with pytest.raises((ValueError, RuntimeError)) as info:
        load_bytes(raw)
    msg = str(info.value)
    assert msg.startswith("gpugrad.load: ") and NAME in msg, msg
    return msg


def data_start(raw):
    hlen = struct.unpack_from("<Q", raw, 12)[0]
    n = S._PRELUDE.size + hlen
    return n + S._pad(n)


def test_small_file_round_trips():
    obj, raw = small_file()
    back = load_bytes(raw)
    assert back["w"].tolist() == obj["w"].tolist() and back["b"].requires_grad
    assert back["opt"] == obj["opt"] and back["tags"] == obj["tags"]


def test_every_header_bit_flip_is_refused():
    _, raw = small_file()
    end = data_start(raw)
    flipped = 0
    for i in range(end):
        for bit in range(8):
            bad = bytearray(raw)
            bad[i] ^= 1 << bit
            assert_refused(bytes(bad))
            flipped += 1
    assert flipped == end * 8 >= 4000  # the README's number: every bit before the data


def test_every_data_bit_flip_is_refused():
    _, raw = small_file()
    start = data_start(raw)
    assert len(raw) - start >= 128
    for i in range(start, len(raw)):
        for bit in range(8):
            bad = bytearray(raw)
            bad[i] ^= 1 << bit
            assert "checksum" in assert_refused(bytes(bad))


def test_every_truncation_and_extension_is_refused(tmp_path):
    _, raw = small_file()
    for n in range(len(raw)):
        assert_refused(raw[:n])
    path = tmp_path / NAME  # a file (not a stream, which may go on) must end with its data
    for extra in (b"\0", b"x" * 100):
        path.write_bytes(raw + extra)
        with pytest.raises(ValueError, match=f"gpugrad.load: .*{NAME} is corrupt: it has "
                                             f"{len(extra)} bytes after its data"):
            gg.load(path)


# ----------------------------------------------------------------------------- lying headers


def build(header, data=b"", version=S.VERSION):
    """A file with this header (a dict) and data, its checksums correct: only validation can
    catch what the header says."""
    header = {"format": "gpugrad", "version": version, "data_nbytes": len(data),
              "crc32": zlib.crc32(data), **header}
    h = json.dumps(header).encode()
    if version >= 2:
        head = S._PRELUDE.pack(S.MAGIC, version, len(h), S._header_crc(version, h)) + h
    else:
        head = S._PRELUDE_V1.pack(S.MAGIC, version, len(h)) + h
    return head + b"\0" * S._pad(len(head)) + data


def T(shape=(2,), dtype="float32", offset=0, nbytes=None, **kw):
    n = 4 * (shape[0] if shape else 1) if nbytes is None else nbytes
    return {"tensor": {"dtype": dtype, "shape": list(shape), "offset": offset, "nbytes": n,
                       "requires_grad": False, "device": "cpu", **kw}}


DATA = bytes(range(128))

LIES = {
    "negative-shape": ({"root": T((-1,), nbytes=-4)}, DATA, "shape"),
    "shape-nbytes-mismatch": ({"root": T((3,), nbytes=8)}, DATA, "claims"),
    "bool-shape": ({"root": T((True,), nbytes=4)}, DATA, "shape"),
    "float-shape": ({"root": T((2.0,), nbytes=8)}, DATA, "shape"),
    "misaligned-offset": ({"root": T(offset=4)}, DATA, "offset"),
    "negative-offset": ({"root": T(offset=-64)}, DATA, "offset"),
    "offset-out-of-bounds": ({"root": T(offset=128)}, DATA, "outside"),
    "overlap": ({"root": {"list": [T((16,)), T((2,), offset=0)]}}, DATA, "overlaps"),
    "overlap-partial": ({"root": {"list": [T((32,)), T((2,), offset=64)]}}, DATA, "overlaps"),
    "unknown-dtype": ({"root": T(dtype="complex64")}, DATA, "dtype"),
    "alias-dtype": ({"root": T(dtype="float")}, DATA, "dtype"),
    "int-requires-grad": ({"root": T(dtype="int32", requires_grad=True)}, DATA, "requires_grad"),
    "bad-device": ({"root": T(device="tpu")}, DATA, "device"),
    "extra-tensor-field": ({"root": T(evil=1)}, DATA, "fields"),
    "missing-tensor-field": ({"root": {"tensor": {"dtype": "float32"}}}, DATA, "fields"),
    "unknown-kind": ({"root": {"pickle": "cos\nsystem"}}, b"", "unknown entry"),
    "two-kinds": ({"root": {"list": [], "tuple": []}}, b"", "unexpected entry"),
    "bad-float": ({"root": {"float": "1e5"}}, b"", "unknown entry"),
    "dict-not-pairs": ({"root": {"dict": [[1, 2, 3]]}}, b"", "pair"),
    "unhashable-key": ({"root": {"dict": [[{"list": []}, 1]]}}, b"", "hashable"),
    "deep-nesting": ({"root": json.loads('{"list": [' * 100 + "]}" * 100)}, b"", "nested"),
    "data-size-lies": ({"root": T()}, DATA, "data_nbytes 128 does not match"),
    "data-not-aligned": ({"root": None}, b"abc", "data_nbytes"),
    "no-crc": ({"root": None, "crc32": None}, b"", "crc32"),
    "extra-top-field": ({"root": None, "x": 1}, b"", "fields"),
    "wrong-format": ({"root": None, "format": "torch"}, b"", "format"),
}


@pytest.mark.parametrize("name", LIES)
def test_headers_that_lie_are_refused(name):
    header, data, pattern = LIES[name]
    msg = assert_refused(build(header, data))
    assert re.search(pattern, msg), msg


def test_version_1_files_still_load_but_need_their_checksum():
    data = struct.pack("<2f", 1.5, 2.5) + bytes(56)
    assert load_bytes(build({"root": T()}, data, version=1)).tolist() == [1.5, 2.5]
    assert_refused(build({"root": T(), "crc32": None}, data, version=1))


def test_reader_checks_magic_and_sizes_before_reading_more(tmp_path):
    class Counting(io.BytesIO):
        read_total = 0
        name = NAME

        def read(self, n=-1):
            assert n is not None and n >= 0, "read() without a size"
            b = super().read(n)
            Counting.read_total += len(b)
            return b

    foreign = Counting(b"PK\x03\x04" + bytes(10_000_000))
    with pytest.raises(ValueError, match="not a gpugrad file"):
        gg.load(foreign)
    assert Counting.read_total <= 8
    Counting.read_total = 0
    huge_header = Counting(S.MAGIC + struct.pack("<IQI", S.VERSION, 1 << 62, 0) + bytes(1000))
    with pytest.raises(ValueError, match="header length"):
        gg.load(huge_header)
    assert Counting.read_total <= S._PRELUDE.size
    if os.path.exists("/dev/zero"):
        with pytest.raises(ValueError, match="/dev/zero is not a gpugrad file"):
            gg.load("/dev/zero")
    _, raw = small_file()
    Counting.read_total = 0
    assert load_bytes(raw)  # a file object: reads exactly the file
    f = Counting(raw + b"trailing records of the caller")
    gg.load(f)
    assert Counting.read_total == len(raw)


def test_killed_saves_leave_nothing_that_a_later_save_or_load_keeps(tmp_path):
    path = tmp_path / "ckpt.gpugrad"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    for op in ("save", "load"):
        gg.save({"x": gg.ones(2)}, path)
        stale = tmp_path / f"{S._tmp_prefix(str(path))}{dead}.abc.tmp"
        stale.write_bytes(b"GPUGRAD\0 half a file")
        live = tmp_path / f"{S._tmp_prefix(str(path))}{os.getppid()}.def.tmp"
        live.write_bytes(b"a save running now elsewhere")
        if op == "save":
            gg.save({"x": gg.ones(2)}, path)
        else:
            gg.load(path)
        assert not stale.exists() and live.exists()
        live.unlink()
    assert sorted(os.listdir(tmp_path)) == ["ckpt.gpugrad"]


def test_save_refuses_trees_load_would_refuse(tmp_path):
    deep: list = []
    for _ in range(S.MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(ValueError, match="nested more than"):
        gg.save(deep, tmp_path / "deep.gpugrad")
    assert not os.listdir(tmp_path)
