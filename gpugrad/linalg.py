"""``torch.linalg``: norms, inverses, determinants, solvers and factorizations, with their
gradients (reverse and forward mode). Errors on singular or non-positive-definite input are
`LinAlgError` (a RuntimeError) with PyTorch's messages.

Example::

    A = gpugrad.tensor([[3., 1.], [1., 2.]], requires_grad=True)
    x = gpugrad.linalg.solve(A, gpugrad.tensor([9., 8.]))   # tensor([2., 3.])
"""

from __future__ import annotations

from .ops import linalg as _L
from .ops.registry import LinAlgError

__all__ = ["LinAlgError", "cholesky", "det", "inv", "lstsq", "matrix_norm", "norm", "slogdet",
           "solve", "vector_norm"]


def inv(A):
    """The inverse of a square (batched) matrix; `LinAlgError` when it is singular.

    Example: ``gpugrad.linalg.inv(gpugrad.tensor([[2., 0.], [0., 4.]]))`` ->
    tensor([[0.5, 0.], [0., 0.25]])
    """
    return _L.inv(A)


def det(A):
    """The determinant of a square (batched) matrix.

    Example: ``gpugrad.linalg.det(gpugrad.tensor([[2., 1.], [1., 3.]]))`` -> tensor(5.)
    """
    return _L.det(A)


def slogdet(A):
    """``(sign, logabsdet)`` of the determinant (a ``linalg_slogdet`` named tuple).

    Example: ``gpugrad.linalg.slogdet(gpugrad.eye(2) * -2).logabsdet`` -> tensor(1.3863)
    """
    return _L.slogdet_of(A, "linalg.slogdet", "linalg_slogdet")


def solve(A, B, *, left=True):
    """The solution X of ``A X = B`` (``X A = B`` with ``left=False``); B may be a vector
    (or a batch of them) or a matrix, batch dims broadcast. `LinAlgError` for a singular A.

    Example: ``gpugrad.linalg.solve(gpugrad.tensor([[3., 1.], [1., 2.]]),
    gpugrad.tensor([9., 8.]))`` -> tensor([2., 3.])
    """
    return _L.solve(A, B, left=left)


def cholesky(A, *, upper=False):
    """The Cholesky factor L (lower triangular, ``A = L L^T``) of a symmetric positive-definite
    matrix, or ``L^T`` with ``upper=True``. Only the lower triangle of A is read.
    `LinAlgError` naming the first leading minor that is not positive-definite.

    Example: ``gpugrad.linalg.cholesky(gpugrad.tensor([[4., 2.], [2., 2.]]))`` ->
    tensor([[2., 0.], [1., 1.]])
    """
    return _L.cholesky(A, upper=upper)


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution of ``A X = B`` (the minimum-norm one where A is wide): a
    ``(solution, residuals, rank, singular_values)`` named tuple, as PyTorch fills it for the
    `driver` (default ``"gelsy"``: no residuals, no singular values). The solution has a
    gradient (for A of full rank). It is the closed-form linear regression:
    ``w = lstsq(X, y).solution`` minimises ``||X w - y||``.

    Example: ``gpugrad.linalg.lstsq(gpugrad.tensor([[1., 0.], [1., 1.], [1., 2.]]),
    gpugrad.tensor([1., 2., 3.])).solution`` -> tensor([1., 1.])
    """
    return _L.lstsq(A, B, rcond, driver=driver)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The `ord`-norm of `x` as a vector (over `dim`, all dims when None): any number, inf,
    -inf, 0 (the count of nonzeros).

    Example: ``gpugrad.linalg.vector_norm(gpugrad.tensor([3., 4.]))`` -> tensor(5.)
    """
    return _L.vector_norm(x, ord, dim, keepdim, dtype=dtype)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """The matrix norm over dims `dim`: ``"fro"``, 1 / -1 (largest / smallest column sum of
    abs), inf / -inf (rows). ``"nuc"``, 2 and -2 (singular values) raise NotImplementedError.

    Example: ``gpugrad.linalg.matrix_norm(gpugrad.tensor([[1., -2.], [3., 4.]]), 1)`` ->
    tensor(6.)
    """
    return _L.matrix_norm(A, ord, dim, keepdim, dtype=dtype)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """A vector norm (1-D input or one dim) or a matrix norm (2-D input or two dims), as
    ``torch.linalg.norm``; with ord and dim None, the 2-norm of the flattened input.

    Example: ``gpugrad.linalg.norm(gpugrad.tensor([[3., 0.], [0., 4.]]))`` -> tensor(5.)
    """
    return _L.linalg_norm(A, ord, dim, keepdim, dtype=dtype)
