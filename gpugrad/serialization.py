"""``save`` and ``load``: tensors and nested containers in a safe, self-describing file format.

No pickle: a file (format version 2) is

    magic  b"GPUGRAD\\0"  (8 bytes)
    version                (uint32, little-endian)
    header length H        (uint64, little-endian)
    header CRC-32          (uint32, little-endian: of the version, H and the header bytes)
    header                 (H bytes of UTF-8 JSON: the object tree, tensor metadata, the data's
                            size and CRC-32)
    padding                (zeros up to a multiple of 64 bytes)
    data                   (each tensor's raw little-endian bytes, 64-byte aligned)

The tree holds JSON scalars (None, bool, int, float, str) as themselves and tags the rest:
``{"list": [...]}``, ``{"tuple": [...]}``, ``{"dict": [[key, value], ...]}`` (keys keep their
type), ``{"tensor": {"dtype", "shape", "offset", "nbytes", "requires_grad", "device"}}``.
Writes go to a temporary file in the target's directory, are fsync'ed and then renamed over
the target, so a crash never leaves a half-written file in its place.
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import struct
import tempfile
import zlib

from . import backend as B
from .autograd.grad_mode import no_grad
from .core.factories import from_numpy
from .core.tensor import Tensor
from .nn.parameter import Parameter

MAGIC = b"GPUGRAD\0"
VERSION = 2
_PRELUDE = struct.Struct("<8sIQI")  # magic, version, header length, header CRC-32
_PRELUDE_V1 = struct.Struct("<8sIQ")
_ALIGN = 64
MAX_HEADER = 256 << 20  # a header longer than this is corrupt, whatever the file's size
MAX_DEPTH = 64  # nesting of lists, tuples and dicts
_TENSOR_KEYS = {"dtype", "shape", "offset", "nbytes", "requires_grad", "device"}
_DTYPE_NAMES = {d.name: d for d in B.DTYPES}


def _pad(n):
    return -n % _ALIGN


# ----------------------------------------------------------------------------- encoding


def _encode(obj, blobs, path, offset, depth=0):
    """(JSON tree, new data offset) for `obj`; host arrays to write are appended to `blobs`."""
    if depth > MAX_DEPTH:
        raise ValueError(f"gpugrad.save: {path} is nested more than {MAX_DEPTH} levels deep")
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
            e, offset = _encode(v, blobs, f"{path}[{i}]", offset, depth + 1)
            items.append(e)
        return {"tuple" if isinstance(obj, tuple) else "list": items}, offset
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            ek, offset = _encode(k, blobs, f"{path} key {k!r}", offset, depth + 1)
            ev, offset = _encode(v, blobs, f"{path}[{k!r}]", offset, depth + 1)
            items.append([ek, ev])
        return {"dict": items}, offset
    if isinstance(obj, B.numpy.generic):
        return _encode(obj.item(), blobs, path, offset, depth)
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
    if os.path.isdir(path):
        raise IsADirectoryError(f"gpugrad.save: {path} is a directory; give a file path")
    directory = os.path.dirname(os.path.abspath(path))
    _clean_stale(path)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path) + f"{os.getpid()}.", suffix=".tmp",
                               dir=directory)
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


def _tmp_prefix(path):
    return "." + os.path.basename(path) + ".gpugrad-tmp."


def _clean_stale(path):
    """Remove the temporary files that saves to `path` killed mid-write left behind (those
    whose process is gone; a save running now in another process keeps its file)."""
    directory = os.path.dirname(os.path.abspath(path))
    prefix = _tmp_prefix(path)
    try:
        names = [n for n in os.listdir(directory) if n.startswith(prefix) and n.endswith(".tmp")]
    except OSError:
        return
    for n in names:
        pid = n[len(prefix):].partition(".")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            try:
                os.unlink(os.path.join(directory, n))
            except OSError:
                pass


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _header_crc(version, header):
    return zlib.crc32(header, zlib.crc32(struct.pack("<IQ", version, len(header))))


def _write(out, header, blobs):
    """Write the prelude, the header and the arrays' bytes to the open binary file `out`."""
    head = _PRELUDE.pack(MAGIC, VERSION, len(header), _header_crc(VERSION, header)) + header
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


class _Reader:
    """Reads exact byte counts from a path or a binary file object; knows the size when it can."""

    def __init__(self, f):
        if hasattr(f, "read"):
            self.fh, self.own = f, False
            self.name = str(getattr(f, "name", "<file object>"))
        else:
            self.name = os.fspath(f)
            self.fh, self.own = open(f, "rb"), True  # noqa: SIM115 - closed in close()
        self.size = None
        try:
            st = os.fstat(self.fh.fileno())
            if stat.S_ISREG(st.st_mode):
                self.size = st.st_size - self.fh.tell()
        except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
            pass
        self.pos = 0

    def read(self, n, what):
        """Exactly `n` bytes (`what` says what they are), else a 'truncated' error."""
        if self.size is not None and self.pos + n > self.size:
            raise _truncated(self.name, f"{what} needs {self.pos + n} bytes but the file has "
                                        f"{self.size}")
        b = self.fh.read(n) if n else b""
        self.pos += len(b)
        if len(b) != n:
            raise _truncated(self.name, f"{what} needs {self.pos - len(b) + n} bytes but the file "
                                        f"ends after {self.pos}")
        return b

    def close(self):
        if self.own:
            self.fh.close()


def _truncated(name, detail):
    return RuntimeError(f"gpugrad.load: {name} is truncated: {detail} (was the write "
                        "interrupted, or the file cut short in a copy?)")


def _corrupt(name, detail):
    return ValueError(f"gpugrad.load: {name} is corrupt: {detail}")


def load(f, map_location=None):
    """Load what ``save`` wrote to path or binary file object `f`.

    `map_location` puts every tensor on one device ("cpu", "cuda", "cuda:1", a
    ``gpugrad.device``); by default each goes back to the device it was saved from.
    Every byte is checked (CRC-32s of the header and of the data) and every field validated
    before any tensor is made: a damaged or foreign file raises an error naming
    ``gpugrad.load`` and the file, never loads wrong values.

    Example::

        ckpt = gpugrad.load("checkpoint.gpugrad", map_location="cpu")
        model.load_state_dict(ckpt["model"])
    """
    if not hasattr(f, "read"):
        _clean_stale(os.fspath(f))
    r = _Reader(f)
    try:
        tree, data = _read_file(r)
        dev = None if map_location is None else B.as_device(map_location)
        with no_grad():
            return _decode(tree, data, dev, r.name, 0)
    finally:
        r.close()


def _read_file(r):
    """(validated object tree, data bytes) of the file behind reader `r`."""
    name = r.name
    magic = r.fh.read(len(MAGIC))
    r.pos += len(magic)
    if magic != MAGIC[: len(magic)] or not magic:
        what = "is empty" if not magic else "does not start with the gpugrad magic bytes"
        raise ValueError(f"gpugrad.load: {name} is not a gpugrad file: it {what} (files written "
                         "by gpugrad.save start with b'GPUGRAD\\x00')")
    if len(magic) < len(MAGIC):
        raise _truncated(name, f"it has only {len(magic)} bytes")
    (version,) = struct.unpack("<I", r.read(4, "the format version"))
    if version > VERSION or version < 1:
        raise ValueError(f"gpugrad.load: {name} has format version {version}; this gpugrad "
                         f"reads versions 1 to {VERSION}: "
                         f"{'upgrade gpugrad' if version > VERSION else 'the file is corrupt'}")
    (hlen,) = struct.unpack("<Q", r.read(8, "the header length"))
    hcrc = struct.unpack("<I", r.read(4, "the header checksum"))[0] if version >= 2 else None
    if hlen > MAX_HEADER:
        raise _corrupt(name, f"its header length {hlen} is more than any header's "
                             f"({MAX_HEADER} bytes)")
    header = r.read(hlen, "the header")
    if hcrc is not None and _header_crc(version, header) != hcrc:
        raise RuntimeError(f"gpugrad.load: {name} is corrupt: the checksum of its header does "
                           "not match")
    try:
        h = json.loads(header)
    except (ValueError, RecursionError) as exc:
        raise _corrupt(name, f"its header is not valid JSON ({type(exc).__name__})") from None
    need, crc, tree = _check_top(h, version, name)
    pad = r.read(_pad(r.pos), "the padding after the header")
    if pad.strip(b"\0"):
        raise _corrupt(name, "the padding after its header is not zeros")
    spans: list = []
    _check_tree(tree, name, 0, spans)
    _check_spans(spans, need, name)
    data = r.read(need, "its tensor data")
    if zlib.crc32(data) != crc:
        raise RuntimeError(f"gpugrad.load: {name} is corrupt: the checksum of its tensor data "
                           "does not match")
    if r.size is not None and r.pos != r.size:
        raise _corrupt(name, f"it has {r.size - r.pos} bytes after its data")
    return tree, memoryview(data)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check_top(h, version, name):
    keys = {"format", "version", "data_nbytes", "crc32", "root"}
    if not isinstance(h, dict) or set(h) != keys:
        got = sorted(h) if isinstance(h, dict) else type(h).__name__
        raise _corrupt(name, f"its header has the fields {got}, expected {sorted(keys)}")
    if h["format"] != "gpugrad" or h["version"] != version:
        raise _corrupt(name, f"its header says format {h['format']!r} version {h['version']!r} "
                             f"(expected 'gpugrad' version {version})")
    need, crc = h["data_nbytes"], h["crc32"]
    if not (_is_int(need) and need >= 0 and need % _ALIGN == 0):
        raise _corrupt(name, f"data_nbytes {need!r} is not a non-negative multiple of {_ALIGN}")
    if not (_is_int(crc) and 0 <= crc < 2**32):
        raise _corrupt(name, f"crc32 {crc!r} is not a 32-bit unsigned int")
    return need, crc, h["root"]


def _check_tree(node, name, depth, spans):
    """Validate every entry of the object tree; collect each tensor's (offset, end, meta)."""
    if depth > MAX_DEPTH:
        raise _corrupt(name, f"its object tree is nested more than {MAX_DEPTH} levels deep")
    if node is None or isinstance(node, (bool, int, float, str)):
        return
    if not isinstance(node, dict) or len(node) != 1:
        raise _corrupt(name, f"unexpected entry {_short(node)} in its object tree")
    ((kind, v),) = node.items()
    if kind in ("list", "tuple") and isinstance(v, list):
        for x in v:
            _check_tree(x, name, depth + 1, spans)
    elif kind == "dict" and isinstance(v, list):
        for kv in v:
            if not (isinstance(kv, list) and len(kv) == 2):
                raise _corrupt(name, f"a dict item {_short(kv)} is not a [key, value] pair")
            if isinstance(kv[0], dict) and next(iter(kv[0])) not in ("tuple", "float"):
                raise _corrupt(name, f"a dict key {_short(kv[0])} is not hashable")
            _check_tree(kv[0], name, depth + 1, spans)
            _check_tree(kv[1], name, depth + 1, spans)
    elif kind == "float" and v in ("inf", "-inf", "nan"):
        pass
    elif kind == "tensor" and isinstance(v, dict):
        spans.append(_check_meta(v, name))
    else:
        raise _corrupt(name, f"unknown entry {_short(node)} in its object tree")


def _short(v):
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


def _check_meta(meta, name):
    keys = set(meta)
    if not (_TENSOR_KEYS <= keys <= _TENSOR_KEYS | {"parameter"}):
        raise _corrupt(name, f"a tensor entry has the fields {sorted(keys)}")
    dt = _DTYPE_NAMES.get(meta["dtype"]) if isinstance(meta["dtype"], str) else None
    shape, off, nbytes = meta["shape"], meta["offset"], meta["nbytes"]
    if dt is None:
        raise _corrupt(name, f"a tensor has the unknown dtype {_short(meta['dtype'])}")
    if not (isinstance(shape, list) and len(shape) <= MAX_DEPTH
            and all(_is_int(s) and s >= 0 for s in shape)):
        raise _corrupt(name, f"a tensor has the invalid shape {_short(shape)}")
    if not (_is_int(off) and off >= 0 and off % _ALIGN == 0):
        raise _corrupt(name, f"a tensor's offset {off!r} is not a non-negative multiple of "
                             f"{_ALIGN}")
    if not (_is_int(nbytes) and nbytes == math.prod(shape) * dt.itemsize):
        raise _corrupt(name, f"a tensor of shape {shape} and dtype {dt.name} claims "
                             f"{nbytes!r} bytes")
    rg = meta["requires_grad"]
    if not isinstance(rg, bool) or rg and not dt.is_floating_point:
        raise _corrupt(name, f"a tensor of dtype {dt.name} has requires_grad {rg!r}")
    if meta.get("parameter", True) is not True:
        raise _corrupt(name, f"a tensor has parameter {meta['parameter']!r}")
    try:
        if not isinstance(meta["device"], str):
            raise TypeError
        B.as_device(meta["device"])
    except (TypeError, ValueError):
        raise _corrupt(name, f"a tensor has the invalid device {_short(meta['device'])}") from None
    return off, off + nbytes


def _check_spans(spans, need, name):
    """Tensors lie inside the data, one after another, none overlapping another."""
    end = 0
    for off, stop in sorted(spans):
        if off < end:
            raise _corrupt(name, f"a tensor at offset {off} overlaps the one before it "
                                 f"(which ends at {end})")
        if stop > need:
            raise _corrupt(name, f"a tensor at offset {off} with {stop - off} bytes lies outside "
                                 f"the data ({need} bytes)")
        end = stop
    if need != end + _pad(end):
        raise _corrupt(name, f"data_nbytes {need} does not match its tensors (which end at "
                             f"{end})")


def _decode(node, data, dev, name, depth):
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    ((kind, v),) = node.items()
    if kind == "list":
        return [_decode(x, data, dev, name, depth + 1) for x in v]
    if kind == "tuple":
        return tuple(_decode(x, data, dev, name, depth + 1) for x in v)
    if kind == "dict":
        out = {}
        for k, x in v:
            key = _decode(k, data, dev, name, depth + 1)
            try:
                hash(key)
            except TypeError:
                raise _corrupt(name, f"the dict key {_short(key)} is not hashable") from None
            out[key] = _decode(x, data, dev, name, depth + 1)
        return out
    if kind == "float":
        return float(v)
    return _tensor(v, data, dev, name)


def _tensor(meta, data, dev, name):
    dt = _DTYPE_NAMES[meta["dtype"]]
    off, shape = meta["offset"], tuple(meta["shape"])
    a = B.numpy.frombuffer(data, dtype=dt.np.newbyteorder("<"), count=math.prod(shape),
                           offset=off)
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
