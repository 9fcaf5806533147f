"""``Module``: the base class of layers and models, as ``torch.nn.Module``."""

from __future__ import annotations

from collections import OrderedDict, namedtuple

from .. import backend as B
from ..autograd.grad_mode import no_grad
from ..autograd.reverse import zero_grads
from ..core.tensor import Tensor, parse_to
from .parameter import Parameter

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _addindent(s, n):
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


class Module:
    """Base class of every layer and model: holds parameters, buffers and submodules.

    Assigning a ``Parameter``, a ``Module`` or (through ``register_buffer``) a tensor to an
    attribute registers it; ``parameters()``, ``state_dict()``, ``to()`` and friends then see it.

    Example::

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)

            def forward(self, x):
                return self.fc(x).relu()

        net = Net()
        y = net(gpugrad.randn(3, 4))
    """

    training: bool

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ attributes

    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(
                "cannot assign to a Module before Module.__init__() is called; "
                "call super().__init__() first"
            )
        params, modules, buffers = d["_parameters"], d["_modules"], d["_buffers"]
        if isinstance(value, Parameter):
            self._drop(name)
            params[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                    "(nn.Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            self._drop(name)
            modules[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module "
                    f"'{name}' (nn.Module or None expected)"
                )
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                    "(Tensor or None expected)"
                )
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _drop(self, name):
        for k in ("_parameters", "_modules", "_buffers"):
            self.__dict__[k].pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for k in ("_parameters", "_buffers", "_modules"):
            if k in d and name in d[k]:
                return d[k][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for k in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[k]:
                del self.__dict__[k][name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(
            set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules)
        )

    def register_parameter(self, name, param):
        """Add a parameter (or None) under `name`."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: cannot assign '{type(param).__name__}' as "
                f"parameter '{name}' (nn.Parameter or None expected)"
            )
        self._drop(name)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add a tensor that is state but not a parameter (e.g. running statistics).

        Buffers move with ``to()`` and, if persistent, appear in ``state_dict()``.

        Example::

            self.register_buffer("running_mean", gpugrad.zeros(4))
        """
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer: invalid buffer name {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"register_buffer: cannot assign '{type(tensor).__name__}' as buffer "
                f"'{name}' (Tensor or None expected)"
            )
        self._drop(name)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        """Add a submodule (or None) under `name`."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass")
        self._drop(name)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        """The submodule at dotted path `target` ("" is self)."""
        mod = self
        for part in target.split(".") if target else ():
            if part not in mod._modules:
                raise AttributeError(f"{type(mod).__name__} has no submodule '{part}'")
            mod = mod._modules[part]
        return mod

    # ------------------------------------------------------------------ iteration

    def named_modules(self, memo=None, prefix=""):
        """(dotted name, module) for self and every submodule, each once."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, prefix + ("." if prefix else "") + name)

    def modules(self):
        """Self and every submodule, each once."""
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """(name, module) for the direct submodules."""
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        """The direct submodules."""
        for _, m in self.named_children():
            yield m

    def _named_members(self, kind, prefix, recurse):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for name, v in m.__dict__[kind].items():
                if v is None or id(v) in seen:
                    continue
                seen.add(id(v))
                yield mprefix + ("." if mprefix else "") + name, v

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, parameter) pairs, each parameter once.

        Example::

            >>> [n for n, _ in nn.Linear(2, 3).named_parameters()]
            ['weight', 'bias']
        """
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        """The parameters of self and (by default) every submodule, each once."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        """(dotted name, buffer) pairs."""
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        """The buffers of self and (by default) every submodule."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Call ``fn(module)`` on every submodule (children first) and on self; returns self.

        Example::

            model.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
        """
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and grads

    def train(self, mode=True):
        """Set training mode (affects Dropout) on self and every submodule; returns self."""
        if not isinstance(mode, bool):
            raise ValueError("train: mode is expected to be a bool")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        """Set evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` of every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of every parameter: to None (default) or to zeros."""
        zero_grads(self.parameters(), set_to_none)

    # ------------------------------------------------------------------ devices and dtypes

    def _apply_arrays(self, dev, dt):
        """Move/convert parameters (in place: optimizers keep working), grads and buffers."""

        def conv(t):
            return t.to(device=dev, dtype=dt if t.dtype.is_floating_point else None)

        with no_grad():
            for m in self.modules():
                for p in m._parameters.values():
                    if p is None:
                        continue
                    p.data = conv(p.detach())
                    if p.grad is not None:
                        p.grad = conv(p.grad.detach())
                for k, b in m._buffers.items():
                    if b is not None:
                        m._buffers[k] = conv(b)
        return self

    def to(self, *args, **kwargs):
        """Move parameters and buffers to a device and/or cast floating ones to a dtype, in place.

        Example::

            model.to("cuda")
            model.to(gpugrad.float64)
        """
        dev, dt = parse_to("to", args, dict(kwargs))
        if dt is not None and not dt.is_floating_point:
            raise TypeError(f"to: Module.to only accepts floating-point dtypes, got {dt}")
        return self._apply_arrays(dev, dt)

    def cpu(self):
        """Move everything to the CPU; returns self."""
        return self._apply_arrays(B.CPU, None)

    def cuda(self, device=None):
        """Move everything to a CUDA device (``cuda:0`` by default); returns self."""
        if device is None or isinstance(device, int):
            device = B.device("cuda", device)
        return self._apply_arrays(B.as_device(device), None)

    def float(self):
        return self._apply_arrays(None, B.float32)

    def double(self):
        return self._apply_arrays(None, B.float64)

    def half(self):
        return self._apply_arrays(None, B.float16)

    # ------------------------------------------------------------------ state dicts

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An ordered dict of every parameter and persistent buffer by dotted name.

        As in PyTorch: own parameters, then own buffers, then each child's entries under its
        name (a module shared by two parents appears under both names). The tensors share
        storage with the module's (detached unless ``keep_vars=True``).

        Example::

            >>> list(nn.Linear(2, 3).state_dict())
            ['weight', 'bias']
        """
        out = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                out[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy parameters and buffers from `state_dict` into this module (in place).

        Values are copied onto each parameter's device and dtype. With ``strict=True``
        (default) missing and unexpected keys are errors; a shape mismatch always is. One
        ``RuntimeError`` lists every problem. Returns ``(missing_keys, unexpected_keys)``.

        Example::

            model.load_state_dict(gpugrad.load("model.gpugrad"))
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict:
            if unexpected:
                errors.append(
                    "Unexpected key(s) in state_dict: "
                    + ", ".join(f'"{k}"' for k in unexpected)
                    + "."
                )
            if missing:
                errors.append(
                    "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + "."
                )
        for k, t in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            if not isinstance(v, Tensor):
                errors.append(
                    f'While copying the parameter named "{k}", expected a Tensor, got '
                    f"{type(v).__name__}."
                )
            elif tuple(v.shape) != tuple(t.shape):
                errors.append(
                    f"size mismatch for {k}: copying a param with shape "
                    f"{tuple(v.shape)} from checkpoint, the shape in current model is "
                    f"{tuple(t.shape)}."
                )
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        with no_grad():
            for k, t in own.items():
                if k in state_dict:
                    t.copy_(state_dict[k])
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing

    def extra_repr(self):
        """The text inside this module's parentheses in its repr (override in subclasses)."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({k}): " + _addindent(repr(m), 2) for k, m in self._modules.items()]
        lines = extra_lines + child_lines
        s = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                s += extra_lines[0]
            else:
                s += "\n  " + "\n  ".join(lines) + "\n"
        return s + ")"
