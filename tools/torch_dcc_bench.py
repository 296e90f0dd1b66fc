#!/usr/bin/env python3
"""PyTorch twin of `dcc bench cclp` and `dcc bench knn`: the same inputs (generated the
same way, so the loss and the distances can be compared number for number), timed the
same way (best of --reps after one untimed run).

    python3 tools/torch_dcc_bench.py cclp --n 120,1024,4096 --d 7 --classes 9 --threads 2
    python3 tools/torch_dcc_bench.py knn --queries 10000 --refs 100000 --d 7 --k 10 --threads 2
    python3 tools/torch_dcc_bench.py knn --device cuda --queries 100000 --refs 1000000

cclp: the paper's loss composed of PyTorch ops (affinity, softmax, masked Markov steps,
Q ⊙ log), forward and backward, f32. knn: torch.cdist + topk(k, largest=False), chunked
over queries so that one chunk's distance matrix stays under --chunk-bytes.
Prints one line per case with the time, peak RSS and a checksum dcc prints too."""
import argparse
import resource
import time

import numpy as np
import torch


def values(n, salt):
    """dcc's testing::seed_values: splitmix-style hash of (i, salt) mapped to [-1, 1)."""
    with np.errstate(over="ignore"):
        rot = np.uint64(((salt << 17) | (salt >> 47)) & ((1 << 64) - 1))
        z = (np.arange(n, dtype=np.uint64) ^ rot) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    v = (z >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24) * np.float32(2.0) - np.float32(1.0)
    return torch.from_numpy(v)


def cclp(z, labels, classes, steps=3, eps=1e-5):
    n = z.shape[0]
    t = eps / n + (1 - eps) * torch.softmax(z @ z.T, dim=1)
    phi = torch.nn.functional.one_hot(labels, classes).to(z.dtype)
    w = phi / (phi.sum(0) + 1e-5)
    q = phi @ w.T
    m = phi @ phi.T
    tp = t * m
    p = t
    total = 0.0
    for s in range(steps):
        if s > 0:
            p = tp @ p
        total = total + (q * torch.log(p)).mean()
    return -total / steps


DEVICE = torch.device("cpu")


def sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def best_of(reps, f):
    f()
    sync()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        f()
        sync()
        best = min(best, time.perf_counter() - t)
    return best


def MEM():
    return "device memory" if DEVICE.type == "cuda" else "RSS"


def rss_gib():
    if DEVICE.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run_cclp(a):
    for n in [int(v) for v in a.n.split(",")]:
        z0 = (values(n * a.d, 1).reshape(n, a.d) * a.spread).to(DEVICE)
        labels = torch.tensor([(i * 5 + i // 3) % a.classes for i in range(n)], device=DEVICE)
        out = {}

        def step():
            z = z0.clone().requires_grad_(True)
            loss = cclp(z, labels, a.classes)
            loss.backward()
            out["loss"], out["grad"] = loss.item(), z.grad

        t = best_of(a.reps, step)
        print(f"torch cclp n={n} d={a.d} classes={a.classes}: {t * 1e3:.3f} ms fwd+bwd, "
              f"loss {out['loss']:.7e}, |dZ|max {out['grad'].abs().max().item():.4e}, "
              f"peak {MEM()} {rss_gib():.2f} GiB", flush=True)


def run_knn(a):
    q = values(a.queries * a.d, 5).reshape(a.queries, a.d).to(DEVICE)
    r = values(a.refs * a.d, 9).reshape(a.refs, a.d).to(DEVICE)
    rows = max(1, int(a.chunk_bytes // (4 * a.refs)))
    out = {}

    def step():
        parts = []
        for s in range(0, a.queries, rows):
            d = torch.cdist(q[s:s + rows], r)
            parts.append(d.topk(a.k, dim=1, largest=False).values)
        out["d"] = torch.cat(parts)

    t = best_of(a.reps, step)
    kth = out["d"][:, -1].double()
    print(f"torch knn {a.queries}x{a.refs} d={a.d} k={a.k} (chunks of {rows} queries): "
          f"{t:.3f} s, sum of k-th distances {kth.sum().item():.6e}, "
          f"peak {MEM()} {rss_gib():.2f} GiB", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    c = sub.add_parser("cclp")
    c.add_argument("--n", default="120,1024,4096")
    c.add_argument("--d", type=int, default=7)
    c.add_argument("--classes", type=int, default=9)
    c.add_argument("--spread", type=float, default=1.5)
    k = sub.add_parser("knn")
    k.add_argument("--queries", type=int, default=10000)
    k.add_argument("--refs", type=int, default=100000)
    k.add_argument("--d", type=int, default=7)
    k.add_argument("--k", type=int, default=10)
    k.add_argument("--chunk-bytes", type=float, default=2**30)
    for s in (c, k):
        s.add_argument("--threads", type=int, default=2)
        s.add_argument("--reps", type=int, default=3)
        s.add_argument("--device", default="cpu", help="cpu or cuda")
    a = p.parse_args()
    global DEVICE
    DEVICE = torch.device(a.device)
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {DEVICE}, {torch.get_num_threads()} threads", flush=True)
    run_cclp(a) if a.what == "cclp" else run_knn(a)


if __name__ == "__main__":
    main()
