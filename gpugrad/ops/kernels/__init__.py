"""Device kernels: faster forwards for single registry entries on one device, declared on the
entry (``defop(..., kernels={"cuda": fn})``) and tested against the portable forward they
replace (tests/test_kernels.py). CuPy is imported only when a kernel first runs.

Every module here declares the CUDA C it compiles as ``CUDA_SOURCES``, a tuple of
`CudaSource`: tests/test_cuda_static.py compiles each for every dtype it is built for and every
architecture in `ARCHS`, with NVRTC and no GPU, on every CPU run; a new module is picked up
without touching the test.
"""

from __future__ import annotations

from dataclasses import dataclass

# The GPU architectures the CUDA sources are checked for (A100, H100/H200).
ARCHS = ("sm_80", "sm_90")

_CTYPES = {"float32": "float", "float64": "double"}


@dataclass(frozen=True)
class CudaSource:
    """CUDA C written for an element type ``T``, compiled once per dtype in `dtypes`; its
    ``extern "C"`` kernels are `kernels`."""

    code: str
    kernels: tuple[str, ...]
    dtypes: tuple[str, ...] = ("float32", "float64")

    def render(self, dtype: str) -> str:
        """The source for `dtype` (a NumPy dtype name), as it is compiled."""
        if dtype not in self.dtypes:
            raise ValueError(f"CudaSource{self.kernels}: not built for {dtype} "
                             f"(built for {', '.join(self.dtypes)})")
        return f"typedef {_CTYPES[dtype]} T;\n{self.code}"
