"""gpugrad.nn: Module bookkeeping, Parameter, layers, state dicts, init and losses."""

import math

import numpy as np
import pytest

import gpugrad
from gpugrad import nn
from gpugrad.nn import functional as F


def as_np(t):
    return t.detach().cpu().numpy()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(4, 2, bias=False)
        self.register_buffer("scale", gpugrad.ones(2))
        self.register_buffer("cache", gpugrad.zeros(1), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


# ----------------------------------------------------------------------------- Parameter


def test_parameter_is_a_leaf_tensor_that_requires_grad():
    data = gpugrad.zeros(2)
    p = nn.Parameter(data)
    assert isinstance(p, gpugrad.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p) == "Parameter containing:\ntensor([0., 0.], requires_grad=True)"
    data[0] = 5.0  # shares storage, as in PyTorch
    assert p[0].item() == 5.0
    y = p * 2 + 1  # ops work through isinstance and return plain tensors
    assert type(y) is gpugrad.Tensor and y.requires_grad
    y.sum().backward()
    assert p.grad.tolist() == [2.0, 2.0]
    frozen = nn.Parameter(gpugrad.arange(3), requires_grad=False)
    assert not frozen.requires_grad and frozen.dtype == gpugrad.int64
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.Parameter([1.0])


def test_parameter_under_no_grad_updates_in_place():
    p = nn.Parameter(gpugrad.ones(3))
    with gpugrad.no_grad():
        p.mul_(2).add_(1)
    assert isinstance(p, nn.Parameter) and p.tolist() == [3.0, 3.0, 3.0]


# ----------------------------------------------------------------------------- Module


def test_module_registers_parameters_buffers_and_children():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "fc2"]
    assert [type(m).__name__ for m in net.modules()] == ["Net", "Linear", "ReLU", "Linear"]
    assert list(net.children())[0] is net.fc1
    assert [n for n, _ in net.named_buffers()] == ["scale", "cache"]
    # as in PyTorch: own parameters and buffers first, then the children's
    assert list(net.state_dict()) == ["scale", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert net.fc2.bias is None
    assert len(list(net.parameters(recurse=False))) == 0
    with pytest.raises(TypeError, match="nn.Parameter or None expected"):
        net.fc1.weight = gpugrad.zeros(4, 3)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        net.nope  # noqa: B018


def test_shared_parameters_are_listed_once():
    fc = nn.Linear(2, 2)
    seq = nn.Sequential(fc, nn.ReLU(), fc)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_module_repr_matches_torch():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    assert repr(seq) == (
        "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): ReLU()\n)"
    )
    nested = nn.Sequential(nn.Sequential(nn.Identity()), nn.Dropout(0.25), nn.Flatten())
    assert repr(nested) == (
        "Sequential(\n  (0): Sequential(\n    (0): Identity()\n  )\n"
        "  (1): Dropout(p=0.25)\n  (2): Flatten(start_dim=1, end_dim=-1)\n)"
    )
    assert repr(nn.Linear(1, 1, bias=False)) == "Linear(in_features=1, out_features=1, bias=False)"


def test_forward_is_call_and_matches_functional():
    gpugrad.manual_seed(1)
    net = Net()
    x = gpugrad.randn(5, 3)
    expected = F.linear(F.relu(F.linear(x, net.fc1.weight, net.fc1.bias)), net.fc2.weight)
    np.testing.assert_allclose(as_np(net(x)), as_np(expected), rtol=1e-6)
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(x)


def test_linear_default_init_is_torchs():
    gpugrad.manual_seed(0)
    fc = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = as_np(fc.weight), as_np(fc.bias)
    assert fc.weight.shape == (300, 400) and fc.bias.shape == (300,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.95 * bound  # uniform over the whole interval
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert isinstance(fc.weight, nn.Parameter) and fc.weight.is_leaf


def test_linear_on_device(device):
    fc = nn.Linear(3, 2, device=device, dtype=gpugrad.float64)
    assert fc.weight.device == gpugrad.device(device) and fc.weight.dtype == gpugrad.float64
    y = fc(gpugrad.ones(4, 3, dtype=gpugrad.float64, device=device)).sum()
    y.backward()
    assert fc.weight.grad.device == gpugrad.device(device)
    np.testing.assert_allclose(as_np(fc.bias.grad), [4.0, 4.0])


def test_to_moves_and_casts_in_place(device):
    net = Net()
    params = list(net.parameters())
    net.fc1.weight.grad = gpugrad.ones(4, 3)
    assert net.to(device, gpugrad.float64) is net
    assert [p is q for p, q in zip(net.parameters(), params)] == [True] * 3  # optimizers still work
    for t in list(net.parameters()) + list(net.buffers()):
        assert t.dtype == gpugrad.float64 and t.device == gpugrad.device(device)
    assert net.fc1.weight.grad.dtype == gpugrad.float64
    assert net.fc1.weight.requires_grad and isinstance(net.fc1.weight, nn.Parameter)
    net.cpu().float()
    assert net.fc1.weight.device == gpugrad.device("cpu")
    assert net.fc1.weight.dtype == gpugrad.float32
    with pytest.raises(TypeError, match="floating-point"):
        net.to(gpugrad.int64)


def test_train_eval_apply_zero_grad_requires_grad():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout()))
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Dropout", "Sequential", "Sequential"]
    net(gpugrad.ones(1, 2)).sum().backward()
    net.zero_grad(set_to_none=False)
    assert net[0].weight.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    net.zero_grad()
    assert net[0].weight.grad is None
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_containers():
    layers = nn.ModuleList(nn.Linear(2, 2) for _ in range(3))
    layers.append(nn.ReLU())
    layers.insert(0, nn.Identity())
    assert len(layers) == 5 and isinstance(layers[0], nn.Identity)
    assert isinstance(layers[-1], nn.ReLU) and len(layers[1:3]) == 2
    parent = nn.Module()
    parent.layers = layers
    assert len(list(parent.parameters())) == 6
    assert [n for n, _ in parent.named_parameters()][0] == "layers.1.weight"
    seq = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    assert isinstance(seq[-1], nn.Linear) and len(seq[:2]) == 2 and len(seq) == 3
    with pytest.raises(IndexError):
        seq[3]


# ----------------------------------------------------------------------------- state dicts


def test_state_dict_round_trip(tmp_path):
    gpugrad.manual_seed(0)
    a, b = Net(), Net()
    with gpugrad.no_grad():
        a.scale.fill_(3.0)
    sd = a.state_dict()
    assert not any(t.requires_grad for t in sd.values())
    x = gpugrad.randn(4, 3)
    assert not np.allclose(as_np(a(x)), as_np(b(x)))
    missing, unexpected = b.load_state_dict(sd)
    assert missing == [] and unexpected == []
    np.testing.assert_array_equal(as_np(a(x)), as_np(b(x)))
    sd["fc1.bias"].fill_(7.0)  # b got copies, not views of a's tensors
    assert b.fc1.bias.tolist() != a.fc1.bias.tolist()
    gpugrad.save(a.state_dict(), tmp_path / "net.gpugrad")
    c = Net()
    c.load_state_dict(gpugrad.load(tmp_path / "net.gpugrad"))
    np.testing.assert_array_equal(as_np(a(x)), as_np(c(x)))


def test_load_state_dict_reports_every_problem():
    net = Net()
    sd = net.state_dict()
    del sd["fc1.bias"]
    sd["extra.weight"] = gpugrad.zeros(1)
    sd["fc2.weight"] = gpugrad.zeros(3, 3)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    msg = str(info.value)
    assert "Error(s) in loading state_dict for Net" in msg
    assert 'Missing key(s) in state_dict: "fc1.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    assert "size mismatch for fc2.weight: copying a param with shape (3, 3)" in msg
    assert "(2, 4)" in msg
    sd["fc2.weight"] = gpugrad.zeros(2, 4)
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert missing == ["fc1.bias"] and unexpected == ["extra.weight"]
    assert net.fc2.weight.tolist() == [[0.0] * 4] * 2


def test_load_state_dict_casts_and_moves(device):
    src = nn.Linear(2, 2, dtype=gpugrad.float64)
    dst = nn.Linear(2, 2, device=device)
    dst.load_state_dict(src.state_dict())
    assert dst.weight.dtype == gpugrad.float32 and dst.weight.device == gpugrad.device(device)
    np.testing.assert_allclose(as_np(dst.weight), as_np(src.weight), rtol=1e-6)


# ----------------------------------------------------------------------------- init


def test_init_functions_fill_parameters_in_place():
    gpugrad.manual_seed(0)
    w = nn.Parameter(gpugrad.empty(200, 100))
    assert nn.init.xavier_uniform_(w) is w and w.requires_grad and w.grad_fn is None
    bound = math.sqrt(6 / 300)
    assert np.abs(as_np(w)).max() <= bound and np.abs(as_np(w)).max() > 0.95 * bound
    nn.init.kaiming_uniform_(w, a=math.sqrt(5))
    assert np.abs(as_np(w)).max() <= 1 / math.sqrt(100)
    nn.init.normal_(w, mean=2.0, std=0.5)
    assert abs(as_np(w).mean() - 2.0) < 0.02 and abs(as_np(w).std() - 0.5) < 0.02
    nn.init.uniform_(w, -3.0, -2.0)
    assert as_np(w).min() >= -3.0 and as_np(w).max() < -2.0
    assert nn.init.zeros_(w).sum().item() == 0 and nn.init.ones_(w).sum().item() == 20000
    assert nn.init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    with pytest.raises(ValueError, match="fan in"):
        nn.init.xavier_uniform_(gpugrad.zeros(3))


# ----------------------------------------------------------------------------- dropout


def test_dropout(device):
    x = gpugrad.ones(10000, device=device)
    gpugrad.manual_seed(5)
    y = F.dropout(x, p=0.3)
    kept = as_np(y) != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(as_np(y)[kept], 1 / 0.7, rtol=1e-6)
    assert y.device == gpugrad.device(device)
    gpugrad.manual_seed(5)  # gpugrad's generator drives the mask
    np.testing.assert_array_equal(as_np(F.dropout(x, p=0.3)), as_np(y))
    drop = nn.Dropout(0.3).eval()
    assert drop(x) is x
    assert F.dropout(x, 0.0) is x and as_np(F.dropout(x, 1.0)).sum() == 0
    xr = gpugrad.ones(5, requires_grad=True)
    F.dropout(xr, 0.5).sum().backward()
    assert set(xr.grad.tolist()) <= {0.0, 2.0}
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


# ----------------------------------------------------------------------------- losses


def log_softmax_np(x):
    m = x.max(1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(1, keepdims=True))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses_match_numpy(reduction, device):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    x = gpugrad.tensor(a, device=device, requires_grad=True)
    y = gpugrad.tensor(b, device=device)
    red = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]
    np.testing.assert_allclose(as_np(nn.MSELoss(reduction=reduction)(x, y)), red((a - b) ** 2))
    np.testing.assert_allclose(as_np(nn.L1Loss(reduction=reduction)(x, y)), red(np.abs(a - b)))
    nn.MSELoss()(x, y).backward()
    np.testing.assert_allclose(as_np(x.grad), 2 * (a - b) / a.size)
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(TypeError, match="size_average"):  # PyTorch's signature: size_average first
        nn.MSELoss("sum")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_numpy(reduction, device):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((5, 4))
    t = np.array([0, 3, 1, 1, 2])
    x = gpugrad.tensor(a, device=device, requires_grad=True)
    loss = nn.CrossEntropyLoss(reduction=reduction)(x, gpugrad.tensor(t, device=device))
    nll = -log_softmax_np(a)[np.arange(5), t]
    red = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]
    np.testing.assert_allclose(as_np(loss), red(nll), rtol=1e-12)
    loss.sum().backward()
    onehot = np.eye(4)[t]
    scale = 1 / 5 if reduction == "mean" else 1.0
    np.testing.assert_allclose(
        as_np(x.grad), scale * (np.exp(log_softmax_np(a)) - onehot), rtol=1e-10, atol=1e-15
    )


def test_cross_entropy_shapes_and_probability_targets():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2, 3, 4))  # (N, C, d)
    t = np.array([[0, 1, 2, 0], [2, 2, 1, 0]])
    loss = F.cross_entropy(gpugrad.tensor(a), gpugrad.tensor(t), reduction="none")
    lsm = a - np.log(np.exp(a).sum(1, keepdims=True))
    ref = -np.take_along_axis(lsm, t[:, None], 1)[:, 0]
    np.testing.assert_allclose(as_np(loss), ref, rtol=1e-12)
    one = F.cross_entropy(gpugrad.tensor(a[0, :, 0]), gpugrad.tensor(0))  # unbatched
    np.testing.assert_allclose(one.item(), ref[0, 0], rtol=1e-12)
    probs = np.full((2, 3), 1 / 3)
    soft = F.cross_entropy(gpugrad.tensor(a[:, :, 0]), gpugrad.tensor(probs))
    np.testing.assert_allclose(soft.item(), -(log_softmax_np(a[:, :, 0]) * probs).sum(1).mean())
    with pytest.raises(RuntimeError, match="target of shape"):
        F.cross_entropy(gpugrad.zeros(2, 3), gpugrad.tensor([[0], [1]]))


@pytest.mark.parametrize("dtype", [gpugrad.float32, gpugrad.float64])
def test_cross_entropy_extreme_logits_are_finite(dtype, device):
    x = gpugrad.tensor(
        [[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=dtype, device=device, requires_grad=True
    )
    t = gpugrad.tensor([1, 0], device=device)
    loss = F.cross_entropy(x, t, reduction="sum")
    assert loss.item() == pytest.approx(2e4 + (2e4 + math.log(2)), rel=1e-6)
    loss.backward()
    g = as_np(x.grad)
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g, [[1, -1, 0], [-1, 0.5, 0.5]], atol=1e-6)
    ok = F.cross_entropy(x, gpugrad.tensor([0, 2], device=device))
    # float32 holds 1e4 + log(2) to about 1e-3
    tol = 1e-3 if dtype == gpugrad.float32 else 1e-12
    assert ok.item() == pytest.approx(math.log(2) / 2, abs=tol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_matches_numpy(reduction, device):
    rng = np.random.default_rng(3)
    a = np.concatenate([rng.standard_normal(6) * 5, [0.0, 1e4, -1e4, 1e4, -1e4, 40.0]])
    y = np.concatenate([rng.random(6), [1.0, 1.0, 0.0, 0.0, 1.0, 1.0]])
    x = gpugrad.tensor(a, device=device, requires_grad=True)
    loss = nn.BCEWithLogitsLoss(reduction=reduction)(x, gpugrad.tensor(y, device=device))
    ref = np.maximum(a, 0) - a * y + np.log1p(np.exp(-np.abs(a)))
    red = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]
    np.testing.assert_allclose(as_np(loss), red(ref), rtol=1e-12)
    loss.sum().backward()
    sig = 1 / (1 + np.exp(-np.clip(a, -500, 500)))
    scale = 1 / a.size if reduction == "mean" else 1.0
    np.testing.assert_allclose(as_np(x.grad), scale * (sig - y), rtol=1e-12, atol=1e-15)
    assert as_np(x.grad)[6] == pytest.approx(scale * -0.5)  # exact at 0, where |x| has a kink


def test_bce_with_logits_pos_weight_and_float32_extremes():
    a = np.array([-3.0, 0.5, 2.0])
    y = np.array([1.0, 0.0, 1.0])
    pw = gpugrad.tensor([2.0, 2.0, 2.0], dtype=gpugrad.float64)
    loss = F.binary_cross_entropy_with_logits(
        gpugrad.tensor(a), gpugrad.tensor(y), reduction="none", pos_weight=pw
    )
    ref = -(2.0 * y * np.log(1 / (1 + np.exp(-a))) + (1 - y) * np.log(1 - 1 / (1 + np.exp(-a))))
    np.testing.assert_allclose(as_np(loss), ref, rtol=1e-12)
    x = gpugrad.tensor([1e4, -1e4], requires_grad=True)
    out = nn.BCEWithLogitsLoss()(x, gpugrad.tensor([0.0, 1.0]))
    assert out.item() == pytest.approx(1e4)
    out.backward()
    assert np.isfinite(as_np(x.grad)).all()
    np.testing.assert_allclose(as_np(x.grad), [0.5, -0.5])


def test_deepcopy_gives_independent_parameters():
    import copy

    fc = nn.Linear(2, 2)
    twin = copy.deepcopy(fc)
    assert isinstance(twin.weight, nn.Parameter) and twin.weight.requires_grad
    with gpugrad.no_grad():
        twin.weight.fill_(0.0)
    assert fc.weight.abs().sum().item() > 0
