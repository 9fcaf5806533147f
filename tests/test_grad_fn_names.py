"""grad_fn names against PyTorch's: every public op and ``nn.functional`` function, composites
included, shows the name PyTorch 2.13 gives its ``grad_fn`` (``type(t.grad_fn).__name__``).

`TORCH_NAMES` is PyTorch's answer for each call, generated once with torch 2.13.0 and pasted
as data (so the check runs without torch); `test_table_matches_live_torch` compares it with the
installed torch. `DIFFERS` lists the calls whose gpugrad name legitimately differs, with why;
`NO_CALL` the public names that are not called under their own name below, with why.
A new public op fails `test_every_public_name_is_covered` until it has a row here.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as gF
from gpugrad.core.node import AccumulateGrad
from gpugrad.ops.registry import PUBLIC

# One row per line reads as a table: keep the formatter out.
# fmt: off

# call (T: torch or gpugrad, F: its nn.functional, inputs from `_inputs`) -> PyTorch 2.13's
# type(grad_fn).__name__ (None: no grad_fn).
TORCH_NAMES = {
    'T.exp(x)': 'ExpBackward0',
    'T.exp2(x)': 'Exp2Backward0',
    'T.expm1(x)': 'Expm1Backward0',
    'T.log(x)': 'LogBackward0',
    'T.log2(x)': 'Log2Backward0',
    'T.log10(x)': 'Log10Backward0',
    'T.log1p(x)': 'Log1PBackward0',
    'T.sqrt(x)': 'SqrtBackward0',
    'T.rsqrt(x)': 'RsqrtBackward0',
    'T.sin(x)': 'SinBackward0',
    'T.cos(x)': 'CosBackward0',
    'T.tan(x)': 'TanBackward0',
    'T.asin(x)': 'AsinBackward0',
    'T.arcsin(x)': 'AsinBackward0',
    'T.acos(x)': 'AcosBackward0',
    'T.arccos(x)': 'AcosBackward0',
    'T.atan(x)': 'AtanBackward0',
    'T.arctan(x)': 'AtanBackward0',
    'T.sinh(x)': 'SinhBackward0',
    'T.cosh(x)': 'CoshBackward0',
    'T.tanh(x)': 'TanhBackward0',
    'T.asinh(x)': 'AsinhBackward0',
    'T.arcsinh(x)': 'AsinhBackward0',
    'T.acosh(x + 1)': 'AcoshBackward0',
    'T.arccosh(x + 1)': 'AcoshBackward0',
    'T.atanh(x)': 'AtanhBackward0',
    'T.arctanh(x)': 'AtanhBackward0',
    'T.reciprocal(x)': 'ReciprocalBackward0',
    'T.sigmoid(x)': 'SigmoidBackward0',
    'T.relu(x)': 'ReluBackward0',
    'T.abs(x)': 'AbsBackward0',
    'T.absolute(x)': 'AbsBackward0',
    'T.sign(x)': 'SignBackward0',
    'T.floor(x)': 'FloorBackward0',
    'T.ceil(x)': 'CeilBackward0',
    'T.trunc(x)': 'TruncBackward0',
    'T.fix(x)': 'TruncBackward0',
    'T.frac(x)': 'FracBackward0',
    'T.round(x)': 'RoundBackward0',
    'F.softplus(x)': 'SoftplusBackward0',
    'T.neg(x)': 'NegBackward0',
    'T.negative(x)': 'NegBackward0',
    '-x': 'NegBackward0',
    'T.add(x, y)': 'AddBackward0',
    'x + y': 'AddBackward0',
    'x + 1.0': 'AddBackward0',
    'T.sub(x, y)': 'SubBackward0',
    'T.subtract(x, y)': 'SubBackward0',
    'x - 1.0': 'SubBackward0',
    '1.0 - x': 'RsubBackward1',
    'T.mul(x, y)': 'MulBackward0',
    'T.multiply(x, y)': 'MulBackward0',
    'x * 2.0': 'MulBackward0',
    'T.div(x, y)': 'DivBackward0',
    'T.divide(x, y)': 'DivBackward0',
    'T.true_divide(x, y)': 'DivBackward0',
    'x / 2.0': 'DivBackward0',
    '2.0 / x': 'MulBackward0',
    "T.div(x, y, rounding_mode='floor')": 'DivBackward2',
    "T.div(x, y, rounding_mode='trunc')": 'DivBackward2',
    'T.pow(x, y)': 'PowBackward1',
    'T.pow(x, 2.0)': 'PowBackward0',
    'x ** 2': 'PowBackward0',
    '2.0 ** x': 'PowBackward2',
    'T.floor_divide(x, y)': 'NotImplemented',
    'x // 2.0': 'NotImplemented',
    'T.remainder(x, y)': 'RemainderBackward1',
    'T.remainder(x, 0.3)': 'RemainderBackward0',
    'T.fmod(x, y)': 'FmodBackward1',
    'T.fmod(x, 0.3)': 'FmodBackward0',
    'T.atan2(x, y)': 'Atan2Backward0',
    'T.arctan2(x, y)': 'Atan2Backward0',
    'T.hypot(x, y)': 'HypotBackward0',
    'T.logaddexp(x, y)': 'LogaddexpBackward0',
    'T.xlogy(x, y)': 'XlogyBackward0',
    'T.maximum(x, y)': 'MaximumBackward0',
    'T.minimum(x, y)': 'MinimumBackward0',
    'T.where(mask, x, y)': 'WhereBackward0',
    'T.clamp(x, 0.3, 0.6)': 'ClampBackward1',
    'T.clip(x, 0.3, 0.6)': 'ClampBackward1',
    'T.clamp(x, min=0.3)': 'ClampBackward1',
    'x.to(T.float32)': 'ToCopyBackward0',
    'T.eq(x, y)': None,
    'T.ne(x, y)': None,
    'T.not_equal(x, y)': None,
    'T.lt(x, y)': None,
    'T.less(x, y)': None,
    'T.le(x, y)': None,
    'T.less_equal(x, y)': None,
    'T.gt(x, y)': None,
    'T.greater(x, y)': None,
    'T.ge(x, y)': None,
    'T.greater_equal(x, y)': None,
    'T.logical_and(x, y)': None,
    'T.logical_or(x, y)': None,
    'T.logical_xor(x, y)': None,
    'T.logical_not(x)': None,
    'T.isnan(x)': None,
    'T.isinf(x)': None,
    'T.isfinite(x)': None,
    'T.bitwise_and(mask, mask)': None,
    'T.bitwise_or(mask, mask)': None,
    'T.bitwise_xor(mask, mask)': None,
    'T.reshape(x, (4, 3))': 'ViewBackward0',
    'x.view(2, 6)': 'ViewBackward0',
    'T.flatten(x)': 'ViewBackward0',
    'T.squeeze(x[None])': 'SqueezeBackward0',
    'T.unsqueeze(x, 0)': 'UnsqueezeBackward0',
    'T.permute(x, (1, 0))': 'PermuteBackward0',
    'T.transpose(x, 0, 1)': 'TransposeBackward0',
    'T.swapaxes(x, 0, 1)': 'TransposeBackward0',
    'T.t(x)': 'TBackward0',
    'x.T': 'PermuteBackward0',
    'T.movedim(x, 0, 1)': 'PermuteBackward0',
    'x[:1].expand(3, 4)': 'ExpandBackward0',
    'T.broadcast_to(v, (3, 4))': 'ExpandBackward0',
    'v.reshape_as(x[:1])': 'ViewBackward0',
    'x.view_as(y)': 'ViewBackward0',
    'v.expand_as(x)': 'ExpandBackward0',
    'T.broadcast_tensors(x, v)[1]': 'ExpandBackward0',
    'T.cat([x, y])': 'CatBackward0',
    'T.concat([x, y])': 'CatBackward0',
    'T.concatenate([x, y])': 'CatBackward0',
    'T.stack([x, y])': 'StackBackward0',
    'T.hstack([x, y])': 'CatBackward0',
    'T.vstack([x, y])': 'CatBackward0',
    'T.narrow(x, 1, 1, 2)': 'SliceBackward0',
    'T.split(x, 2, 1)[0]': 'SplitBackward0',
    'T.chunk(x, 2, 1)[1]': 'SplitBackward0',
    'T.unbind(x)[0]': 'UnbindBackward0',
    'T.select(x, 0, 1)': 'SelectBackward0',
    'T.flip(x, (0,))': 'FlipBackward0',
    'x.repeat(2, 1)': 'RepeatBackward0',
    'T.tile(x, (2, 1))': 'RepeatBackward0',
    'x[0]': 'SelectBackward0',
    'x[:, 1:]': 'SliceBackward0',
    'x[idx]': 'IndexBackward0',
    'x[mask]': 'IndexBackward0',
    'x[0, 1]': 'SelectBackward0',
    'x.index_put((idx,), y[:2])': 'IndexPutBackward0',
    'T.index_put(x, (idx,), y[:2])': 'IndexPutBackward0',
    'T.gather(x, 1, ix)': 'GatherBackward0',
    'T.take_along_dim(x, ix, 1)': 'GatherBackward0',
    'T.scatter_add(x, 1, ix, y[:, :2])': 'ScatterAddBackward0',
    'T.clone(x)': 'CloneBackward0',
    'T.sum(x)': 'SumBackward0',
    'x.sum(0)': 'SumBackward1',
    'x.sum((0, 1))': 'SumBackward1',
    'x.sum(1, keepdim=True)': 'SumBackward1',
    'T.prod(x)': 'ProdBackward0',
    'x.prod(1)': 'ProdBackward1',
    'T.amax(x)': 'AmaxBackward0',
    'x.amax(1)': 'AmaxBackward0',
    'T.amin(x)': 'AminBackward0',
    'x.amin(1)': 'AminBackward0',
    'T.norm(x)': 'LinalgVectorNormBackward0',
    'x.norm(dim=1)': 'LinalgVectorNormBackward0',
    'x.norm(p=1)': 'LinalgVectorNormBackward0',
    'T.norm(x, p=3)': 'LinalgVectorNormBackward0',
    'T.argmax(x)': None,
    'T.argmin(x, 1)': None,
    'T.all(x)': None,
    'T.any(x)': None,
    'T.mean(x)': 'MeanBackward0',
    'x.mean(0)': 'MeanBackward1',
    'x.mean((0, 1))': 'MeanBackward1',
    'T.var(x)': 'VarBackward0',
    'x.var(1)': 'VarBackward0',
    'T.std(x)': 'StdBackward0',
    'x.std(0)': 'StdBackward0',
    'T.logsumexp(x, 1)': 'LogsumexpBackward0',
    'T.logsumexp(x, (0, 1))': 'LogsumexpBackward0',
    'T.max(x)': 'MaxBackward1',
    'x.max(1)[0]': 'MaxBackward0',
    'T.max(x, y)': 'MaximumBackward0',
    'T.min(x)': 'MinBackward1',
    'x.min(0).values': 'MinBackward0',
    'T.min(x, y)': 'MinimumBackward0',
    'T.log_softmax(x, 1)': 'LogSoftmaxBackward0',
    'T.softmax(x, 0)': 'SoftmaxBackward0',
    'x.softmax(1)': 'SoftmaxBackward0',
    'x.log_softmax(-1)': 'LogSoftmaxBackward0',
    'T.lerp(x, y, 0.3)': 'LerpBackward0',
    'T.lerp(x, y, y)': 'LerpBackward1',
    'T.addcmul(x, y, y, value=0.5)': 'AddcmulBackward0',
    'T.addcdiv(x, y, x)': 'AddcdivBackward0',
    '(x * 1).lerp_(y, 0.7)': 'LerpBackward0',
    '(x * 1).addcmul_(y, x, value=2)': 'AddcmulBackward0',
    'T.square(x)': 'PowBackward0',
    'T.addmm(y[:, :2], x, m)': 'AddmmBackward0',
    'T.matmul(x, m)': 'MmBackward0',
    'x @ m': 'MmBackward0',
    'x @ v': 'MvBackward0',
    'T.matmul(b3, m)': 'UnsafeViewBackward0',
    'T.mm(x, m)': 'MmBackward0',
    'T.mv(x, v)': 'MvBackward0',
    'T.bmm(b3, b3.transpose(1, 2))': 'BmmBackward0',
    'T.dot(v, v)': 'DotBackward0',
    'T.vdot(v, v)': 'VdotBackward0',
    'T.inner(v, v)': 'ViewBackward0',
    'T.outer(v, v)': 'MulBackward0',
    'T.ger(v, v)': 'MulBackward0',
    '(x * 1).fill_(2.0)': 'FillBackward2',
    '(x * 1).zero_()': 'ZeroBackward0',
    '(x * 1).copy_(y)': 'CopyBackwards',
    '(x * 1).exp_()': 'ExpBackward0',
    '(x * 1).add_(y)': 'AddBackward0',
    'F.relu(x)': 'ReluBackward0',
    'F.sigmoid(x)': 'SigmoidBackward0',
    'F.tanh(x)': 'TanhBackward0',
    'F.softmax(x, 1)': 'SoftmaxBackward0',
    'F.log_softmax(x, 1)': 'LogSoftmaxBackward0',
    'F.mse_loss(x, y)': 'MseLossBackward0',
    "F.mse_loss(x, y, reduction='sum')": 'MseLossBackward0',
    "F.mse_loss(x, y, reduction='none')": 'MseLossBackward0',
    'F.l1_loss(x, y)': 'MeanBackward0',
    "F.l1_loss(x, y, reduction='sum')": 'SumBackward0',
    "F.l1_loss(x, y, reduction='none')": 'AbsBackward0',
    'F.linear(x, w, bias)': 'AddmmBackward0',
    'F.linear(x, w)': 'MmBackward0',
    'F.linear(b3, w, bias)': 'ViewBackward0',
    'F.linear(v, w, bias)': 'ViewBackward0',
    'F.cross_entropy(x, tgt)': 'NllLossBackward0',
    "F.cross_entropy(x, tgt, reduction='sum')": 'NllLossBackward0',
    "F.cross_entropy(x, tgt, reduction='none')": 'NllLossBackward0',
    'F.cross_entropy(x, prob)': 'DivBackward1',
    "F.cross_entropy(x, prob, reduction='none')": 'NegBackward0',
    'F.cross_entropy(v, tgt[0])': 'NllLossBackward0',
    'F.cross_entropy(b3.transpose(1, 2), tgt2)': 'NllLoss2DBackward0',
    'F.nll_loss(b3.transpose(1, 2), tgt2)': 'NllLoss2DBackward0',
    'x[0, :]': 'SelectBackward0',
    'x[:, 0]': 'SelectBackward0',
    'x[None, 0]': 'SelectBackward0',
    'x[0, None]': 'UnsqueezeBackward0',
    'x[...]': 'AliasBackward0',
    'x[..., 1:]': 'SliceBackward0',
    'x[:]': 'SliceBackward0',
    'x[:, [0, 1]]': 'IndexBackward0',
    'T.narrow(x, 0, 0, 3)': 'SliceBackward0',
    'T.split(x, [1, 3], 1)[1]': 'SplitWithSizesBackward0',
    'T.stack([x])': 'StackBackward0',
    'T.cat([x])': 'CatBackward0',
    'x.squeeze(0)': 'SqueezeBackward1',
    'x[None].squeeze((0,))': 'SqueezeBackward2',
    'x.mT': 'TransposeBackward0',
    'T.matmul(v, x.t())': 'SqueezeBackward4',
    'x.max(1, keepdim=True)[0]': 'MaxBackward0',
    'T.norm(x, p=float("inf"))': 'LinalgVectorNormBackward0',
    'T.std(x, unbiased=False)': 'StdBackward0',
    'x.var(correction=0)': 'VarBackward0',
    'F.nll_loss(x, tgt)': 'NllLossBackward0',
    "F.nll_loss(x, tgt, reduction='sum')": 'NllLossBackward0',
    "F.nll_loss(x, tgt, reduction='none')": 'NllLossBackward0',
    'F.binary_cross_entropy_with_logits(x, prob)': 'BinaryCrossEntropyWithLogitsBackward0',
    "F.binary_cross_entropy_with_logits(x, prob, reduction='none')":
        'BinaryCrossEntropyWithLogitsBackward0',
    'F.binary_cross_entropy_with_logits(x, prob, pos_weight=pw)':
        'BinaryCrossEntropyWithLogitsBackward0',
    'F.dropout(x, 0.5)': 'MulBackward0',
    'T.cumsum(x, 1)': 'CumsumBackward0',
    'x.cumprod(0)': 'CumprodBackward0',
    'x.argsort(1)': None,
    'T.sort(x, 1).values': 'SortBackward0',
    'x.sort(descending=True)[0]': 'SortBackward0',
    'T.topk(x, 2).values': 'TopkBackward0',
    'x.kthvalue(2, 1).values': 'KthvalueBackward0',
    'T.median(x)': 'MedianBackward0',
    'x.median(1).values': 'MedianBackward1',
    'T.mode(x, 1).values': 'ModeBackward0',
    'T.unique(x)': 'Unique2Backward0',
    'T.unique(x, dim=0)': 'UniqueDimBackward0',
    'T.bincount(idx, v[:2])': 'NotImplemented',
    'T.histc(x, 4)': None,
    'T.tril(x)': 'TrilBackward0',
    'x.triu(1)': 'TriuBackward0',
    'T.diagonal(x)': 'DiagonalBackward0',
    'T.diag_embed(v)': 'DiagEmbedBackward0',
    'T.diag(v)': 'DiagEmbedBackward0',
    'x.diag()': 'DiagonalBackward0_copy',
    'T.trace(x)': 'TraceBackward0',
    "T.einsum('ij,jk->ik', x, m)": 'ViewBackward0',
    'T.inverse(x[:, :3])': 'LinalgInvExBackward0',
    'T.det(x[:, :3])': 'LinalgDetBackward0',
    'x[:, :3].slogdet()[1]': 'LinalgSlogdetBackward0',
    'T.logdet(x[:, :3])': 'WhereBackward0',
    'T.normal(x, y)': 'NormalBackward3',
    'T.normal(x, 2.0)': 'NormalBackward1',
    'T.normal(0.5, y)': 'NormalBackward2',
    'T.normal(0.0, 1.0, (2,))': None,
    'T.bernoulli(x)': 'BernoulliBackward0',
    'T.bernoulli(x, 0.5)': 'NotImplemented',
    'T.poisson(x)': 'PoissonBackward0',
    'T.multinomial(x, 2)': None,
    '(x * 1).normal_()': 'NormalBackward0',
    '(x * 1).uniform_(0, 1)': 'UniformBackward0',
    '(x * 1).bernoulli_(0.5)': 'BernoulliBackward2',
    '(x * 1).bernoulli_(prob)': 'BernoulliBackward1',
    '(x * 1).exponential_()': 'ExponentialBackward0',
    '(x * 1).random_(0, 5)': 'RandomBackward0',
    '(x * 1).random_(5)': 'RandomBackward1',
    '(x * 1).random_()': 'RandomBackward2',
    '(x * 1).geometric_(0.5)': 'GeometricBackward0',
    '(x * 1).cauchy_()': 'CauchyBackward0',
    '(x * 1).log_normal_()': 'LogNormalBackward0',
    'T.isclose(x, y)': None,
    'F.binary_cross_entropy(x, prob)': 'BinaryCrossEntropyBackward0',
    "F.binary_cross_entropy(x, prob, reduction='none')": 'BinaryCrossEntropyBackward0',
    'F.binary_cross_entropy(x, prob, weight=pw)': 'BinaryCrossEntropyBackward0',
    'F.smooth_l1_loss(x, y)': 'SmoothL1LossBackward0',
    "F.smooth_l1_loss(x, y, reduction='none')": 'SmoothL1LossBackward0',
    'F.huber_loss(x, y)': 'HuberLossBackward0',
    "F.huber_loss(x, y, reduction='sum')": 'HuberLossBackward0',
    "F.kl_div(x, prob, reduction='batchmean')": 'DivBackward0',
    "F.kl_div(x, prob, reduction='sum')": 'SumBackward0',
    'F.gaussian_nll_loss(x, y, prob)': 'MeanBackward0',
    'F.poisson_nll_loss(x, y)': 'MeanBackward0',
    'F.cosine_embedding_loss(x, y, T.ones(3))': 'MeanBackward0',
    'F.margin_ranking_loss(x, y, T.ones(3, 4))': 'MeanBackward0',
    'F.soft_margin_loss(x, prob)': 'SoftMarginLossBackward0',
    "F.soft_margin_loss(x, prob, reduction='none')": 'SoftMarginLossBackward0',
    'F.hinge_embedding_loss(x, y)': 'MeanBackward0',
    'F.multilabel_soft_margin_loss(x, prob)': 'MeanBackward0',
    'F.triplet_margin_loss(x, y, prob)': 'MeanBackward0',
    'F.nll_loss(x, tgt, weight=pw)': 'NllLossBackward0',
    'F.cross_entropy(x, tgt, weight=pw)': 'NllLossBackward0',
    'F.cross_entropy(x, tgt, label_smoothing=0.1)': 'AddBackward0',
    'F.cross_entropy(x, T.tensor([0, -100, 1]))': 'NllLossBackward0',
    'F.l1_loss(x, y, weight=prob)': 'DivBackward0',
    'F.mse_loss(x, y, weight=prob)': 'DivBackward0',
    'F.conv1d(b3, b3[:, :, :2])': 'ConvolutionBackward0',
    'F.conv2d(b3[None], b3[None, :, :, :2])': 'ConvolutionBackward0',
    'F.conv2d(b3[None], b3[None, :, :, :2], bias[:1])': 'ConvolutionBackward0',
    'F.conv3d(b3[None, None], b3[None, None, :, :2, :2])': 'ConvolutionBackward0',
    'F.max_pool1d(b3, 2)': 'SqueezeBackward1',
    'F.max_pool2d(b3[None], 2)': 'MaxPool2DWithIndicesBackward0',
    'F.avg_pool1d(b3, 2)': 'SqueezeBackward1',
    'F.avg_pool2d(b3[None], 2)': 'AvgPool2DBackward0',
    'F.adaptive_avg_pool1d(b3, 3)': 'SqueezeBackward1',
    'F.adaptive_avg_pool2d(b3[None], 2)': 'AdaptiveAvgPool2DBackward0',
    'F.embedding(idx, x)': 'EmbeddingBackward0',
    'F.layer_norm(x, (4,))': 'NativeLayerNormBackward0',
    'F.batch_norm(x, None, None, training=True)': 'NativeBatchNormBackward0',
    'F.gelu(x)': 'GeluBackward0',
    "F.gelu(x, approximate='tanh')": 'GeluBackward0',
    'F.silu(x)': 'SiluBackward0',
    'F.mish(x)': 'MishBackward0',
    'F.leaky_relu(x)': 'LeakyReluBackward0',
    'F.elu(x)': 'EluBackward0',
    'F.relu6(x)': 'HardtanhBackward0',
    'F.hardtanh(x)': 'HardtanhBackward0',
    'F.softsign(x)': 'DivBackward0',
    'F.logsigmoid(x)': 'LogSigmoidBackward0',
    'F.multi_margin_loss(x, tgt)': 'MultiMarginLossBackward0',
    'F.triplet_margin_with_distance_loss(x, y, prob)': 'MeanBackward0',
    'F.multilabel_margin_loss(x, ix.repeat(1, 2))': 'MultilabelMarginLossBackward0',
}

# call -> (gpugrad's name, why it differs from PyTorch's)
DIFFERS = {
    "T.einsum('ij,jk->ik', x, m)": ("EinsumBackward0", "one node; PyTorch: views around bmm"),
    "2.0 / x": ("DivBackward0", "PyTorch computes reciprocal(x) * 2 (MulBackward0)"),
    "T.matmul(b3, m)": ("MatmulBackward0", "one node; PyTorch: views around mm (UnsafeView)"),
    "T.matmul(v, x.t())": ("MatmulBackward0", "one node; PyTorch: mm of unsqueezed operands"),
    "T.inner(v, v)": ("DotBackward0", "inner is dot here; PyTorch: a view of its tensordot"),
    "F.linear(b3, w, bias)": ("AddmmBackward0", "one node; PyTorch: a view of addmm"),
    "F.linear(v, w, bias)": ("AddmmBackward0", "one node; PyTorch: a view of addmm"),
    "F.cross_entropy(x, prob)": ("MeanBackward0",
                                 "PyTorch divides the sum by N (DivBackward1); here the mean"),
    "F.max_pool1d(b3, 2)": ("MaxPool1DWithIndicesBackward0",
                            "PyTorch: a squeeze of its 2-D pooling; here one 1-D pooling"),
    "F.avg_pool1d(b3, 2)": ("AvgPool1DBackward0",
                            "PyTorch: a squeeze of its 2-D pooling; here one 1-D pooling"),
    "F.adaptive_avg_pool1d(b3, 3)": ("AdaptiveAvgPool1DBackward0",
                                     "PyTorch: a squeeze of its 2-D pooling; here one 1-D pooling"),
}

# public names not called under their own name in TORCH_NAMES -> why
NO_CALL = {
    "to_dtype": "PyTorch has no to_dtype; x.to(dtype) is the call above",
    "getitem": "PyTorch has no getitem function; the x[...] calls above",
    "linear_mse_loss": "gpugrad's fused linear-regression loss, no PyTorch counterpart",
    "allclose": "returns a Python bool (no grad_fn to name)",
    "equal": "returns a Python bool (no grad_fn to name)",
}

# fmt: on


def _inputs(T, F):
    rng = np.random.default_rng(0)

    def f(*shape):
        return T.tensor(rng.uniform(0.2, 0.8, shape), requires_grad=True)

    return dict(T=T, F=F, x=f(3, 4), y=f(3, 4), v=f(4), m=f(4, 2), b3=f(2, 3, 4), w=f(2, 4),
                bias=f(2), mask=T.tensor(rng.random((3, 4)) < 0.5), idx=T.tensor([0, 2]),
                ix=T.tensor([[0, 1], [2, 3], [1, 1]]), tgt=T.tensor([0, 3, 1]),
                tgt2=T.tensor([[0, 3, 1], [1, 1, 2]]), prob=T.tensor(rng.uniform(0.1, 0.9, (3, 4))),
                pw=T.tensor(rng.uniform(0.5, 2.0, (4,))))


def _run(call, T, F):
    env = _inputs(T, F)
    with warnings.catch_warnings():
        # (atanh(x) and the like may warn on NumPy's side: only names are read here)
        warnings.simplefilter("ignore", RuntimeWarning)
        return eval(call, env), env


def _expected(call):
    return DIFFERS[call][0] if call in DIFFERS else TORCH_NAMES[call]


def test_every_public_name_is_covered():
    names = set(PUBLIC) | set(gF.__all__)
    called = {m for call in TORCH_NAMES for m in re.findall(r"\.(\w+)\(", call)}
    missing = sorted(n for n in names if n not in called and n not in NO_CALL)
    assert not missing, f"public names with no call in TORCH_NAMES (or NO_CALL): {missing}"
    assert set(DIFFERS) <= set(TORCH_NAMES)
    assert not set(NO_CALL) & called, "a name in NO_CALL is called: drop it from NO_CALL"


@pytest.mark.parametrize("call", sorted(TORCH_NAMES))
def test_grad_fn_name_matches_pytorch(call):
    out, _ = _run(call, gg, gF)
    want = _expected(call)
    if want is None:
        assert out.grad_fn is None
        return
    node = out.grad_fn
    assert node.name() == want
    assert repr(node).startswith(f"<{want} object at ")
    assert f"grad_fn=<{want}>" in repr(out)


@pytest.mark.parametrize("call", sorted(c for c, n in TORCH_NAMES.items() if n is not None))
def test_named_graph_reaches_the_inputs(call):
    """A labelled node is still the graph: next_functions leads from it to the inputs that
    require grad, and every node on the way has a name."""
    out, env = _run(call, gg, gF)
    if out.grad_fn is None:
        return
    leaves, seen, todo = set(), set(), [out.grad_fn]
    while todo:
        n = todo.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        assert isinstance(n.name(), str) and n.name()
        if isinstance(n, AccumulateGrad):
            leaves.add(id(n.variable))
        todo.extend(e for e, _ in n.next_functions if e is not None)
    inputs = {id(t) for t in env.values() if isinstance(t, gg.Tensor) and t.requires_grad}
    assert leaves and leaves <= inputs


def test_label_leaves_inputs_and_old_nodes_alone():
    x = gg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x.exp()
    assert y.flatten(1, 1).grad_fn is y.grad_fn  # a no-op returns its input: not relabelled
    assert y.squeeze().grad_fn.name() == "SqueezeBackward0"  # a view: a new tensor and node
    assert y.grad_fn.name() == "ExpBackward0"
    z = y.mean()
    assert z.grad_fn.name() == "MeanBackward0" and y.grad_fn.name() == "ExpBackward0"
    assert z.grad_fn.next_functions[0][0].name() == "SumBackward0"  # the composite's inner node
    w = x * 1
    with gg.no_grad():
        w.fill_(2.0)  # nothing recorded: w keeps its node and its name
        w.remainder_(gg.tensor(3.0))
    assert w.grad_fn.name() == "MulBackward0"
    assert (x * 1).fill_(2.0).grad_fn.name() == "FillBackward2"


def test_labelled_composites_differentiate_twice():
    """Only the name changes: double backward through labelled composites is unchanged."""
    x = gg.tensor([[0.3, -1.2, 2.0], [0.5, 0.1, -0.7]], dtype=gg.float64, requires_grad=True)
    y = gg.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], dtype=gg.float64)
    loss = gF.mse_loss(x, y)
    assert loss.grad_fn.name() == "MseLossBackward0"
    (g,) = gg.autograd.grad(loss, [x], create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 2 * (x.detach().numpy() - y.numpy()) / 6)
    (h,) = gg.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(h.numpy(), np.full((2, 3), 2 / 6))
    s = x.softmax(1)
    (g,) = gg.autograd.grad((s * y).sum(), [x], create_graph=True)
    (h,) = gg.autograd.grad((g * g).sum(), [x])
    a = x.detach().numpy()
    e = np.exp(a - a.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    gy = p * (y.numpy() - (p * y.numpy()).sum(1, keepdims=True))
    np.testing.assert_allclose(g.detach().numpy(), gy, rtol=1e-12)
    assert np.isfinite(h.numpy()).all()


def test_table_matches_live_torch():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as tF

    got = {}
    for call in TORCH_NAMES:
        out, _ = _run(call, torch, tF)
        got[call] = None if out.grad_fn is None else type(out.grad_fn).__name__
    diff = {c: (TORCH_NAMES[c], got[c]) for c in TORCH_NAMES if got[c] != TORCH_NAMES[c]}
    assert not diff, f"PyTorch {torch.__version__} names differ from the table: {diff}"
