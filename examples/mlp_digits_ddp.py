"""The digits MLP of mlp_digits.py trained data-parallel: one process per replica.

Each process (rank) wraps the same model in DistributedDataParallel (rank 0's initial
parameters are broadcast to every rank) and reads its own part of every epoch through a
DistributedSampler; backward averages the gradients over the ranks, so every rank takes the
same Adam step and the replicas stay identical. A global batch of --batch-size samples is
split over the ranks (each takes batch-size / N), so N processes follow the same schedule as
one and reach the same accuracy. Only rank 0 prints.

    pip install mpi4py mpich scikit-learn
    mpiexec -n 2 python -m mpi4py examples/mlp_digits_ddp.py [--epochs 30]
    python examples/mlp_digits_ddp.py          # one process: the same script, a world of 1
"""

import argparse
import os
import sys
import time

import numpy as np

import gpugrad
import gpugrad.distributed as dist
from gpugrad import nn
from gpugrad.nn.parallel import DistributedDataParallel
from gpugrad.utils.data import DataLoader, DistributedSampler, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mlp_digits import accuracy, load_data  # noqa: E402 - the same data and metric


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch size")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bucket-cap-mb", type=float, default=25)
    args = parser.parse_args(argv)

    made = not dist.is_initialized()
    if made:
        dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    say = print if rank == 0 else (lambda *a, **k: None)
    if args.batch_size % world:
        raise SystemExit(f"--batch-size {args.batch_size} must be a multiple of the number of "
                         f"processes ({world})")

    gpugrad.manual_seed(args.seed + rank)  # different on purpose: DDP broadcasts rank 0's
    (X_train, y_train), (X_test, y_test) = load_data("cpu", args.seed)
    model = DistributedDataParallel(nn.Sequential(
        nn.Linear(64, args.hidden), nn.ReLU(),
        nn.Linear(args.hidden, args.hidden), nn.ReLU(),
        nn.Linear(args.hidden, 10),
    ), bucket_cap_mb=args.bucket_cap_mb)
    loss_fn = nn.CrossEntropyLoss()
    opt = gpugrad.optim.Adam(model.parameters(), lr=args.lr)
    data = TensorDataset(X_train, y_train)
    sampler = DistributedSampler(data, shuffle=True, seed=args.seed, drop_last=True)
    loader = DataLoader(data, batch_size=args.batch_size // world, sampler=sampler)
    say(f"{world} process(es), {len(y_train)} training digits, {len(sampler)} per rank and "
        f"epoch, batches of {args.batch_size // world} per rank ({args.batch_size} in all)")

    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        total = gpugrad.zeros(())
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total = total + loss.detach() * len(yb)
        dist.all_reduce(total)  # the epoch's loss over every rank's samples
        if epoch % max(1, args.epochs // 10) == 0 or epoch == args.epochs:
            say(f"epoch {epoch:>3}/{args.epochs}  loss {total.item() / (len(sampler) * world):.4f}"
                f"  test accuracy {100 * accuracy(model, X_test, y_test).item():.2f}%")
    elapsed = time.perf_counter() - t0

    # The replicas must be identical: compare every rank's parameters with rank 0's.
    flat = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
    first = gpugrad.tensor(flat.copy())
    dist.broadcast(first, src=0)
    same = gpugrad.tensor([float(np.array_equal(first.numpy(), flat))])
    dist.all_reduce(same, op=dist.ReduceOp.MIN)
    test_acc = accuracy(model, X_test, y_test).item()
    say(f"trained {args.epochs} epochs in {elapsed:.2f} s on {world} process(es)")
    say(f"replicas identical on every rank: {bool(same.item())}")
    say(f"train accuracy {100 * accuracy(model, X_train, y_train).item():.2f}%")
    say(f"test accuracy {100 * test_acc:.2f}% ({round(test_acc * len(y_test))}/{len(y_test)})")
    if made:
        dist.destroy_process_group()
    return test_acc, bool(same.item())


if __name__ == "__main__":
    main()
