#!/usr/bin/env python3
"""PyTorch twin of `dcc bench train`: the same two networks (SCIENCE.md "Network"),
the same step (forward, cross-entropy on the class logits, backward, AdamW lr 1e-4),
random 100x100 inputs, batch 120, in eager, channels_last and torch.compile modes.

    python3 tools/torch_bench.py --net small --threads 2 --mode all

Prints images/s per mode and the peak RSS, so the comparison with dcc is reproducible
by anyone with PyTorch on the same machine and thread count."""
import argparse
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvUnit(nn.Sequential):
    def __init__(self, cin, cout, k, same, p):
        pad = k // 2 if same else 0
        super().__init__(
            nn.Conv2d(cin, cout, k, padding=pad, padding_mode="replicate" if same and pad else "zeros"),
            nn.ELU(),
            nn.Dropout2d(p),
        )


class Inception(nn.Module):
    def __init__(self, cin, c, p):
        super().__init__()
        self.pool = nn.Sequential(nn.MaxPool2d(3, 1, 1), ConvUnit(cin, c // 8, 1, True, p))
        self.b5 = nn.Sequential(ConvUnit(cin, c // 16, 1, True, p), ConvUnit(c // 16, c // 8, 5, True, p))
        self.b3 = nn.Sequential(ConvUnit(cin, 3 * c // 8, 1, True, p), ConvUnit(3 * c // 8, c // 2, 3, True, p))
        self.b1 = ConvUnit(cin, c // 4, 1, True, p)

    def forward(self, x):
        return torch.cat([self.pool(x), self.b5(x), self.b3(x), self.b1(x)], 1)


class Bottleneck(nn.Module):
    """Ordered bottleneck: keep the first k latent dims, k ~ U{2..7} once per batch."""

    def forward(self, z):
        if not self.training:
            return z
        k = int(torch.randint(2, z.shape[1] + 1, ()))
        mask = torch.zeros(z.shape[1], dtype=z.dtype, device=z.device)
        mask[:k] = 1
        return z * mask


def lin(i, o, p=0.0):
    layers = [nn.Linear(i, o), nn.SELU()]
    if p:
        layers.append(nn.Dropout(p))
    return layers


class Net(nn.Module):
    def __init__(self, arch, cin, n_sets):
        super().__init__()
        if arch == "small":
            convs, c = [], cin
            for i, o in enumerate([8, 16, 32, 64, 128]):
                convs.append(ConvUnit(c, o, 3, False, 0.1))
                if i < 4:
                    convs.append(nn.MaxPool2d(2))
                c = o
            self.encoder = nn.Sequential(*convs, nn.Flatten(), *lin(512, 256, 0.1), *lin(256, 7))
            self.head = nn.Sequential(*lin(7, 64, 0.1), *lin(64, n_sets))
        else:
            p = 0.05
            blocks = [Inception(cin, 64, p), nn.MaxPool2d(2), Inception(64, 128, p), nn.MaxPool2d(2),
                      Inception(128, 256, p), Inception(256, 256, p), nn.MaxPool2d(2),
                      Inception(256, 256, p), Inception(256, 256, p), nn.MaxPool2d(2),
                      Inception(256, 256, p), Inception(256, 256, p)]
            self.encoder = nn.Sequential(*blocks, nn.Flatten(), *lin(9216, 256), *lin(256, 7), Bottleneck())
            self.head = nn.Sequential(*lin(7, 64), *lin(64, n_sets))

    def forward(self, x):
        z = self.encoder(x)
        return z, self.head(z)


def bench(arch, mode, batch, channels, steps, warmup):
    torch.manual_seed(0)
    net = Net(arch, channels, 4)
    x = [torch.rand(batch, channels, 100, 100) for _ in range(2)]
    y = torch.arange(batch) % 4
    # torch.compile runs on the default layout: with channels_last its replicate-padding
    # backward fails to compile (torch 2.15, CPU).
    if mode == "channels_last":
        net = net.to(memory_format=torch.channels_last)
        x = [t.contiguous(memory_format=torch.channels_last) for t in x]
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)

    def step(xb):
        opt.zero_grad(set_to_none=True)
        _, logits = net(xb)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        opt.step()
        return loss

    if mode == "compile":
        step = torch.compile(step)
    net.train()
    for i in range(warmup):
        step(x[i % 2])
    t = time.perf_counter()
    for i in range(steps):
        loss = step(x[i % 2])
    dt = time.perf_counter() - t
    return batch * steps / dt, float(loss)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", default="small", choices=["small", "inception"])
    ap.add_argument("--mode", default="all", choices=["eager", "channels_last", "compile", "all"])
    ap.add_argument("--batch", type=int, default=120)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    modes = ["eager", "channels_last", "compile"] if a.mode == "all" else [a.mode]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, net {a.net}, batch {a.batch}")
    for m in modes:
        try:
            ips, loss = bench(a.net, m, a.batch, a.channels, a.steps, a.warmup)
            print(f"  {m:<14} {ips:8.1f} images/s  (last loss {loss:.4f})")
        except Exception as e:  # torch.compile needs a C++ toolchain; report, don't hide
            print(f"  {m:<14} failed: {type(e).__name__}: {str(e)[:200]}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"  peak RSS {rss:.2f} GiB (all modes in one process)")


if __name__ == "__main__":
    main()
