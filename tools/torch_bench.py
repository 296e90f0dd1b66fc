#!/usr/bin/env python3
"""PyTorch twin of `dcc bench train`: the same two networks (SCIENCE.md "Network"),
the same step (forward, cross-entropy on the class logits, backward, AdamW lr 1e-4),
random 100x100 inputs, batch 120, in eager, channels_last and torch.compile modes.

    python3 tools/torch_bench.py --net small --threads 2 --mode all

Prints images/s per mode and the peak RSS, so the comparison with dcc is reproducible
by anyone with PyTorch on the same machine and thread count.

On a GPU (`--device cuda`, what tools/gpu-check.sh runs) the modes are `eager` (fp32,
PyTorch's default TF32 settings, printed), `amp` (bf16 autocast + channels_last) and
`compile` (torch.compile of the fp32 step); `all` runs those three. Each is timed with
torch.cuda.synchronize() around the timed loop after the warm-up steps (default 50
timed, 8 warm-up on a GPU, so torch.compile's recompiles land in the warm-up).

    python3 tools/torch_bench.py --device cuda --net inception --channels 2 --mode all"""
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


def bench(arch, mode, batch, channels, steps, warmup, device="cpu"):
    torch.manual_seed(0)
    net = Net(arch, channels, 4)
    x = [torch.rand(batch, channels, 100, 100) for _ in range(2)]
    y = torch.arange(batch) % 4
    cuda = device != "cpu"
    if cuda:
        # Same seeded values as on the CPU, then moved: never timed on zeros.
        net, x, y = net.to(device), [t.to(device) for t in x], y.to(device)
        torch.cuda.reset_peak_memory_stats(device)
    # torch.compile runs on the default layout: with channels_last its replicate-padding
    # backward fails to compile (torch 2.15, CPU).
    if mode in ("channels_last", "amp"):
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

    def step_amp(xb):
        # bf16 autocast on the forward and the loss (cross-entropy autocasts to fp32);
        # backward and AdamW on the fp32 master weights.
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16):
            _, logits = net(xb)
            loss = F.cross_entropy(logits, y)
        loss.backward()
        opt.step()
        return loss

    run = step_amp if mode == "amp" else step
    if mode == "compile":
        run = torch.compile(step)
    sync = (lambda: torch.cuda.synchronize(device)) if cuda else (lambda: None)
    net.train()
    for i in range(warmup):
        run(x[i % 2])
    sync()
    t = time.perf_counter()
    for i in range(steps):
        loss = run(x[i % 2])
    sync()
    dt = time.perf_counter() - t
    return batch * steps / dt, float(loss)


def cuda_header(device):
    """One line naming the GPU and the precision settings the fp32 modes run under."""
    p = torch.cuda.get_device_properties(device)
    try:
        tf32 = (f"TF32 conv {'on' if torch.backends.cudnn.allow_tf32 else 'off'}, "
                f"matmul {'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'}")
    except Exception as e:  # the flags' API moves between releases
        tf32 = f"TF32 unknown ({type(e).__name__})"
    return (f"{p.name} (sm_{p.major}{p.minor}, {p.total_memory / 2**30:.0f} GiB), CUDA {torch.version.cuda}, "
            f"cuDNN {torch.backends.cudnn.version()}, cudnn.benchmark {torch.backends.cudnn.benchmark}, {tf32}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    ap.add_argument("--net", default="small", choices=["small", "inception"])
    ap.add_argument("--mode", default="all", choices=["eager", "channels_last", "amp", "compile", "all"])
    ap.add_argument("--batch", type=int, default=120)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default 20 on the CPU, 50 on a GPU)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps (default 3 on the CPU, 8 on a GPU)")
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    cuda = a.device != "cpu"
    if cuda and not (a.device == "cuda" or a.device.startswith("cuda:")):
        ap.error(f"--device {a.device}: expected cpu, cuda or cuda:N")
    if cuda and not torch.cuda.is_available():
        ap.error(f"--device {a.device}: torch {torch.__version__} sees no CUDA device")
    steps = a.steps if a.steps is not None else (50 if cuda else 20)
    warmup = a.warmup if a.warmup is not None else (8 if cuda else 3)
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.mode != "all":
        modes = [a.mode]
    elif cuda:
        modes = ["eager", "amp", "compile"]
    else:
        modes = ["eager", "channels_last", "compile"]
    if cuda:
        # Fixed shapes and warm-up steps: let cuDNN pick its fastest algorithms.
        torch.backends.cudnn.benchmark = True
        print(f"torch {torch.__version__}, {cuda_header(a.device)}, net {a.net}, batch {a.batch}, "
              f"{a.channels}x100x100, {steps} steps after {warmup} warm-up", flush=True)
    else:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, net {a.net}, batch {a.batch}")
    for m in modes:
        try:
            ips, loss = bench(a.net, m, a.batch, a.channels, steps, warmup, a.device)
            if cuda:
                peak = torch.cuda.max_memory_allocated(a.device) / 2**30
                print(f"  {m:<14} {ips:8.1f} images/s  (last loss {loss:.4f}, peak GPU memory {peak:.2f} GiB)", flush=True)
            else:
                print(f"  {m:<14} {ips:8.1f} images/s  (last loss {loss:.4f})")
        except Exception as e:  # torch.compile needs a C++ toolchain; report, don't hide
            why = str(e).strip().replace("\n", " | ")[:600] if cuda else str(e)[:200]
            print(f"  {m:<14} failed: {type(e).__name__}: {why}", flush=True)
        if cuda:
            torch.cuda.empty_cache()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"  peak RSS {rss:.2f} GiB (all modes in one process)")


if __name__ == "__main__":
    main()
