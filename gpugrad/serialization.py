"""``save`` and ``load``: tensors and nested containers in a safe, self-describing file format.

No pickle: a file is

    magic  b"GPUGRAD\\0"  (8 bytes)
    version                (uint32, little-endian)
    header length H        (uint64, little-endian)
    header                 (H bytes of UTF-8 JSON: the object tree, tensor metadata, a CRC-32)
    padding                (zeros up to a multiple of 64 bytes)
    data                   (each tensor's raw little-endian bytes, 64-byte aligned)

The tree holds JSON scalars (None, bool, int, float, str) as themselves and tags the rest:
``{"list": [...]}``, ``{"tuple": [...]}``, ``{"dict": [[key, value], ...]}`` (keys keep their
type), ``{"tensor": {"dtype", "shape", "offset", "nbytes", "requires_grad", "device"}}``.
Writes go to a temporary file in the target's directory, are fsync'ed and then renamed over
the target, so a crash never leaves a half-written file in its place.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
import zlib

from . import backend as B
from .autograd.grad_mode import no_grad
from .core.factories import from_numpy
from .core.tensor import Tensor
from .nn.parameter import Parameter

MAGIC = b"GPUGRAD\0"
VERSION = 1
_PRELUDE = struct.Struct("<8sIQ")
_ALIGN = 64


def _pad(n):
    return -n % _ALIGN


# ----------------------------------------------------------------------------- encoding


def _encode(obj, blobs, path, offset):
    """(JSON tree, new data offset) for `obj`; host arrays to write are appended to `blobs`."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj, offset
    if isinstance(obj, int):
        return int(obj), offset
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return {"float": repr(obj)}, offset  # inf, -inf, nan: not in strict JSON
        return float(obj), offset
    if isinstance(obj, Tensor):
        a = B.to_numpy(obj.detach()._data)
        a = a.astype(a.dtype.newbyteorder("<"), order="C", copy=False)
        meta = {
            "dtype": obj.dtype.name,
            "shape": list(a.shape),
            "offset": offset,
            "nbytes": a.nbytes,
            "requires_grad": obj.requires_grad,
            "device": str(obj.device),
        }
        if isinstance(obj, Parameter):
            meta["parameter"] = True
        blobs.append(a.reshape(-1).view(B.numpy.uint8))  # a flat byte view, no copy
        return {"tensor": meta}, offset + a.nbytes + _pad(a.nbytes)
    if isinstance(obj, (list, tuple)):
        items = []
        for i, v in enumerate(obj):
            e, offset = _encode(v, blobs, f"{path}[{i}]", offset)
            items.append(e)
        return {"tuple" if isinstance(obj, tuple) else "list": items}, offset
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            ek, offset = _encode(k, blobs, f"{path} key {k!r}", offset)
            ev, offset = _encode(v, blobs, f"{path}[{k!r}]", offset)
            items.append([ek, ev])
        return {"dict": items}, offset
    if isinstance(obj, B.numpy.generic):
        return _encode(obj.item(), blobs, path, offset)
    raise TypeError(
        f"gpugrad.save: can't save an object of type {type(obj).__name__} at {path}; "
        "supported are tensors, dicts, lists, tuples, str, int, float, bool and None"
    )


def save(obj, f):
    """Save `obj` (a tensor, or nested dicts/lists/tuples of tensors and Python scalars,
    strings and None, such as state dicts) to the path or binary file object `f`.

    The write to a path is atomic: a crash leaves the previous file intact. Tensors keep their
    dtype bit for bit, their ``requires_grad`` and (unless ``load`` is told otherwise) device.

    Example::

        gpugrad.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3},
                     "checkpoint.gpugrad")
    """
    blobs: list = []
    tree, total = _encode(obj, blobs, "the top level", 0)
    crc = 0
    for a in blobs:
        crc = zlib.crc32(b"\0" * _pad(a.nbytes), zlib.crc32(a, crc))  # as written
    header = json.dumps(
        {"format": "gpugrad", "version": VERSION, "data_nbytes": total, "crc32": crc, "root": tree},
        separators=(",", ":"),
    ).encode()
    if hasattr(f, "write"):
        _write(f, header, blobs)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(
        prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(fd, "wb") as out:
            _write(out, header, blobs)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def _write(out, header, blobs):
    """Write the prelude, the header and the arrays' bytes to the open binary file `out`."""
    head = _PRELUDE.pack(MAGIC, VERSION, len(header)) + header
    out.write(head + b"\0" * _pad(len(head)))
    for a in blobs:
        out.write(a)
        out.write(b"\0" * _pad(a.nbytes))


def _fsync_dir(directory):
    """Make the rename durable (POSIX); a no-op where directories can't be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- decoding


def _read(f):
    if hasattr(f, "read"):
        return f.read(), getattr(f, "name", "<file object>")
    with open(f, "rb") as fh:
        return fh.read(), os.fspath(f)


def load(f, map_location=None):
    """Load what ``save`` wrote to path or binary file object `f`.

    `map_location` puts every tensor on one device ("cpu", "cuda", "cuda:1", a
    ``gpugrad.device``); by default each goes back to the device it was saved from.

    Example::

        ckpt = gpugrad.load("checkpoint.gpugrad", map_location="cpu")
        model.load_state_dict(ckpt["model"])
    """
    raw, name = _read(f)
    buf = memoryview(raw)
    if bytes(buf[: len(MAGIC)]) != MAGIC[: len(buf)] or not len(buf):
        what = "is empty" if not len(buf) else "does not start with the gpugrad magic bytes"
        raise ValueError(
            f"gpugrad.load: {name} is not a gpugrad file: it {what} (files written "
            "by gpugrad.save start with b'GPUGRAD\\x00')"
        )
    if len(buf) < _PRELUDE.size:
        raise RuntimeError(f"gpugrad.load: {name} is truncated: it has only {len(buf)} bytes")
    _, version, hlen = _PRELUDE.unpack_from(buf)
    if version > VERSION:
        raise ValueError(
            f"gpugrad.load: {name} has format version {version}; this gpugrad reads "
            f"version {VERSION} and older: upgrade gpugrad"
        )
    start = _PRELUDE.size + hlen
    if len(buf) < start:
        raise RuntimeError(
            f"gpugrad.load: {name} is truncated: the header needs {start} bytes "
            f"but the file has {len(buf)}"
        )
    try:
        header = json.loads(bytes(buf[_PRELUDE.size : start]))
        tree, need = header["root"], header["data_nbytes"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"gpugrad.load: {name} has a corrupt header ({exc})") from None
    base = start + _pad(start)
    have = len(buf) - base
    if have < need:
        raise RuntimeError(
            f"gpugrad.load: {name} is truncated: its tensor data should be {need} "
            f"bytes but only {max(have, 0)} are there (was the write interrupted, "
            "or the file cut short in a copy?)"
        )
    data = buf[base : base + need]
    crc = header.get("crc32")
    if crc is not None and zlib.crc32(data) != crc:
        raise RuntimeError(
            f"gpugrad.load: {name} is corrupt: the checksum of its tensor data does not match"
        )
    dev = None if map_location is None else B.as_device(map_location)
    with no_grad():
        return _decode(tree, data, dev, name)


def _decode(node, data, dev, name):
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if not isinstance(node, dict) or len(node) != 1:
        raise ValueError(f"gpugrad.load: {name} has a corrupt header (unexpected entry {node!r})")
    ((kind, v),) = node.items()
    if kind == "list":
        return [_decode(x, data, dev, name) for x in v]
    if kind == "tuple":
        return tuple(_decode(x, data, dev, name) for x in v)
    if kind == "dict":
        return {_decode(k, data, dev, name): _decode(x, data, dev, name) for k, x in v}
    if kind == "float":
        return float(v)
    if kind == "tensor":
        return _tensor(v, data, dev, name)
    raise ValueError(f"gpugrad.load: {name} has a corrupt header (unknown entry kind {kind!r})")


def _tensor(meta, data, dev, name):
    dt = B.to_dtype(meta["dtype"])
    off, nbytes, shape = meta["offset"], meta["nbytes"], tuple(meta["shape"])
    count = math.prod(shape)
    if off < 0 or off + nbytes > len(data) or count * dt.itemsize != nbytes:
        raise RuntimeError(
            f"gpugrad.load: {name} is corrupt: a tensor of shape {shape} and dtype "
            f"{dt.name} lies outside the file's data"
        )
    a = B.numpy.frombuffer(data, dtype=dt.np.newbyteorder("<"), count=count, offset=off)
    t = from_numpy(a.astype(dt.np).reshape(shape))  # astype copies: the tensor owns its memory
    target = dev if dev is not None else B.as_device(meta["device"])
    if target.type == "cuda" and dev is None and not B.cuda_is_available():
        raise RuntimeError(
            f"gpugrad.load: {name} holds a tensor saved on {target}, but no CUDA "
            "device is available; pass map_location='cpu'"
        )
    t = t.to(target)
    if meta.get("parameter"):
        return Parameter(t, meta["requires_grad"])
    return t.requires_grad_(meta["requires_grad"])


__all__ = ["save", "load"]
