"""A small CNN classifies handwritten digits (scikit-learn's bundled 8x8 digits, no download).

Two convolution blocks (Conv2d, BatchNorm2d, ReLU, MaxPool2d), then a linear classifier;
CrossEntropyLoss, Adam and a shuffling DataLoader, as a first CNN is written in PyTorch.
The convolutions run on NumPy (CPU) or CuPy (GPU) arrays alike.

    pip install scikit-learn
    python examples/cnn_digits.py [--device auto|cpu|cuda] [--epochs 8]
"""

import argparse
import time

import gpugrad
from gpugrad import nn
from gpugrad.utils.data import DataLoader, Generator, TensorDataset


def resolve_device(name):
    if name == "auto":
        return "cuda" if gpugrad.cuda.is_available() else "cpu"
    return name


def load_data(device, seed, test_fraction=0.2):
    """Images (N, 1, 8, 8) scaled to [0, 1] and labels, split into train and test sets."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("this example needs scikit-learn: pip install scikit-learn") from None
    digits = load_digits()
    X = gpugrad.tensor(digits.images / 16.0, dtype=gpugrad.float32).unsqueeze(1)
    y = gpugrad.tensor(digits.target, dtype=gpugrad.int64)
    perm = Generator().manual_seed(seed).randperm(len(y))  # the same split on every run
    n_test = int(len(y) * test_fraction)
    test, train = perm[:n_test], perm[n_test:]
    return (X[train].to(device), y[train].to(device)), (X[test].to(device), y[test].to(device))


def make_model(width=16):
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),  # 8x8
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),  # 4x4
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.BatchNorm2d(2 * width),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),  # 2x2
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(2 * width * 4, 10),
    )


def accuracy(model, X, y):
    """The fraction of samples whose arg-max logit is the label (eval mode: running stats)."""
    model.eval()
    with gpugrad.no_grad():
        correct = (model(X).argmax(1) == y).float().mean()
    model.train()
    return correct


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--width", type=int, default=16, help="channels of the first conv")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    gpugrad.manual_seed(args.seed)
    (X_train, y_train), (X_test, y_test) = load_data(device, args.seed)
    print(f"device {device}, {len(y_train)} training and {len(y_test)} test digits, "
          f"images {tuple(X_train.shape[1:])}")
    model = make_model(args.width).to(device)
    print(model)
    loss_fn = nn.CrossEntropyLoss()
    opt = gpugrad.optim.Adam(model.parameters(), lr=args.lr)
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=args.batch_size,
                        shuffle=True, generator=Generator().manual_seed(args.seed))

    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        total = gpugrad.zeros((), device=device)
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total = total + loss.detach() * len(yb)
        print(f"epoch {epoch:>3}/{args.epochs}  loss {(total / len(y_train)).item():.4f}  "
              f"test accuracy {100 * accuracy(model, X_test, y_test).item():.2f}%")
    gpugrad.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    acc = accuracy(model, X_test, y_test).item()
    print(f"trained {args.epochs} epochs in {elapsed:.1f} s")
    print(f"test accuracy {100 * acc:.2f}% ({round(acc * len(y_test))}/{len(y_test)})")
    return acc


if __name__ == "__main__":
    main()
