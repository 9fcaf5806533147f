"""gpugrad: PyTorch-style automatic differentiation on NumPy (CPU) and CuPy (GPU) arrays.

Example::

    import gpugrad
    x = gpugrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = (x ** 2).sum()
    loss.backward()
    x.grad                       # tensor([2., 4., 6.])
"""

from . import (
    autograd,
    cuda,
    distributed,
    func,
    linalg,
    nn,
    numerical,
    optim,
    utils,
    viz,
)
from . import backend as _B
from .autograd import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .backend import (
    device,
    dtype,
    e,
    float16,
    float32,
    float64,
    get_default_device,
    get_default_dtype,
    inf,
    int8,
    int16,
    int32,
    int64,
    nan,
    pi,
    promote_types,
    set_default_device,
    set_default_dtype,
    uint8,
)
from .core.factories import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    Generator,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_dlpack,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    seed,
    set_default_tensor_type,
    tensor,
    zeros,
    zeros_like,
)
from .core.tensor import Size, Tensor, is_tensor
from .ops import *  # noqa: F403
from .ops import all, any, max, min, sum  # noqa: A004 - torch's names
from .serialization import load, save

bool = _B.bool_  # noqa: A001 - torch's name
half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001

__version__ = "0.1.0"


def is_floating_point(input):
    """True if `input` has a floating-point dtype."""
    return input.dtype.is_floating_point


def numel(input):
    """The number of elements of `input`."""
    return input.numel()
