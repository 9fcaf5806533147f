"""A small MLP classifies handwritten digits (scikit-learn's bundled 8x8 digits, no download).

The whole training stack: nn.Sequential of Linear and ReLU layers, CrossEntropyLoss, Adam,
a shuffling DataLoader over a TensorDataset on the chosen device, and a checkpoint (model,
optimizer state, epoch and the loader's shuffling state) written with gpugrad.save after every
epoch; --resume picks up from it and ends exactly where an uninterrupted run would. With tqdm
installed a progress bar shows the live loss and accuracy.

    pip install scikit-learn            # (and tqdm for the progress bar)
    python examples/mlp_digits.py [--device auto|cpu|cuda] [--epochs 30]
    python examples/mlp_digits.py --epochs 40 --resume      # 10 more epochs
"""

import argparse
import os
import time

import gpugrad
from gpugrad import nn
from gpugrad.utils.data import DataLoader, Generator, TensorDataset

try:
    from tqdm.auto import tqdm
except ImportError:  # optional: plain prints without it
    tqdm = None


def resolve_device(name):
    if name == "auto":
        return "cuda" if gpugrad.cuda.is_available() else "cpu"
    return name


def load_data(device, seed, test_fraction=0.2):
    """Standardized features and labels, split into train and test sets, on `device`."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("this example needs scikit-learn: pip install scikit-learn") from None
    digits = load_digits()
    X = gpugrad.tensor(digits.data, dtype=gpugrad.float32)
    y = gpugrad.tensor(digits.target, dtype=gpugrad.int64)
    perm = Generator().manual_seed(seed).randperm(len(y))  # the same split on every run
    n_test = int(len(y) * test_fraction)
    test, train = perm[:n_test], perm[n_test:]
    mean, std = X[train].mean(0), X[train].std(0) + 1e-3  # some pixels are always 0
    X = (X - mean) / std
    return (X[train].to(device), y[train].to(device)), (X[test].to(device), y[test].to(device))


def accuracy(model, X, y):
    """The fraction of samples whose arg-max logit is the label (a 0-d tensor, no sync)."""
    model.eval()
    with gpugrad.no_grad():
        correct = (model(X).argmax(1) == y).float().mean()
    model.train()
    return correct


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--epochs", type=int, default=30, help="total number of epochs")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=128, help="width of the hidden layers")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--checkpoint",
        default="mlp_digits.gpugrad",
        help="checkpoint written after every epoch (default %(default)s)",
    )
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    gpugrad.manual_seed(args.seed)
    (X_train, y_train), (X_test, y_test) = load_data(device, args.seed)
    print(
        f"device {device}, {len(y_train)} training and {len(y_test)} test digits, "
        f"{X_train.shape[1]} features"
    )

    model = nn.Sequential(
        nn.Linear(64, args.hidden),
        nn.ReLU(),
        nn.Linear(args.hidden, args.hidden),
        nn.ReLU(),
        nn.Linear(args.hidden, 10),
    ).to(device)
    loss_fn = nn.CrossEntropyLoss()
    opt = gpugrad.optim.Adam(model.parameters(), lr=args.lr)
    shuffle = Generator().manual_seed(args.seed)
    loader = DataLoader(
        TensorDataset(X_train, y_train), batch_size=args.batch_size, shuffle=True, generator=shuffle
    )
    print(model)

    start_epoch = 0
    if args.resume:
        if not os.path.exists(args.checkpoint):
            parser.error(f"--resume: no checkpoint at {args.checkpoint}")
        ckpt = gpugrad.load(args.checkpoint, map_location=device)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        shuffle.set_state(ckpt["shuffle"])
        start_epoch = ckpt["epoch"]
        print(f"resumed from {args.checkpoint} after epoch {start_epoch}")

    bar = None
    if tqdm is not None and not args.no_progress:
        bar = tqdm(total=(args.epochs - start_epoch) * len(loader), unit="batch")
    say = print if bar is None else bar.write

    gpugrad.cuda.synchronize()
    t0 = time.perf_counter()
    for epoch in range(start_epoch + 1, args.epochs + 1):
        total = gpugrad.zeros((), device=device)  # summed on the device: no sync per batch
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total = total + loss.detach() * len(yb)
            if bar is not None:
                bar.update()
        train_loss = (total / len(y_train)).item()
        test_acc = accuracy(model, X_test, y_test).item()
        say(
            f"epoch {epoch:>3}/{args.epochs}  loss {train_loss:.4f}  "
            f"test accuracy {100 * test_acc:.2f}%"
        )
        if bar is not None:
            bar.set_postfix(loss=f"{train_loss:.4f}", acc=f"{100 * test_acc:.1f}%")
        gpugrad.save(
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "shuffle": shuffle.get_state(),
                "epoch": epoch,
            },
            args.checkpoint,
        )
    gpugrad.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    if bar is not None:
        bar.close()

    train_acc = accuracy(model, X_train, y_train).item()
    test_acc = accuracy(model, X_test, y_test).item()
    n_right = round(test_acc * len(y_test))
    print(f"trained epochs {start_epoch + 1}..{args.epochs} in {elapsed:.2f} s")
    print(f"train accuracy {100 * train_acc:.2f}%")
    print(f"test accuracy {100 * test_acc:.2f}% ({n_right}/{len(y_test)})")
    print(f"checkpoint saved to {args.checkpoint}")


if __name__ == "__main__":
    main()
