"""``Parameter``: a tensor that a ``Module`` registers as one of its learnable weights."""

from __future__ import annotations

from ..core.tensor import Tensor

_new = object.__new__


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and that a ``Module`` lists in ``parameters()``.

    ``Parameter(data)`` shares `data`'s storage (as in PyTorch); ops on it return plain tensors.

    Example::

        >>> w = nn.Parameter(gpugrad.zeros(2))
        >>> w
        Parameter containing:
        tensor([0., 0.], requires_grad=True)
    """

    __slots__ = ()

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = Tensor([])
        elif not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor, got {type(data).__name__}")
        t = _new(cls)
        t._data = data._data
        t._vc = data._vc
        t.grad_fn = None
        t._rg = False
        t.requires_grad_(requires_grad)
        return t

    def __init__(self, data=None, requires_grad=True):  # everything is done in __new__
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = Parameter(self.detach().clone(), self._rg)
        return memo[id(self)]
