"""dcc from Python: Deep Compact Clustering for galaxy-cluster maps.

    import dcc, numpy as np
    dcc.simulate("data", sets="cdm,0.1,1", per_set=200, channels="mass,xray")
    run = dcc.train("data", "runs/a", known=["bahamas-cdm", "bahamas-1"],
                    unknown="bahamas-0.1", epochs=20, ensemble=2)
    result = run.infer("data")                     # the infer.json content, as a dict
    ds = dcc.open_dataset("data")                  # images (memory-mapped) and catalog
    z = run.encode(ds.images[:64])                 # members × 64 × D latents (numpy)
    dist, idx = dcc.nearest(z[0], z[0], k=10)      # tiled exact kNN (device="cuda" too)

Every function runs dcc's own code in this process (the same as the `dcc` command, which
this package installs too) and releases the GIL while it works, on dcc's own thread
pool (`set_threads`). Keyword arguments are the command's flags: `per_set=200` is
`--per-set 200`, `True` passes a switch, `None`/`False` leave it out, a list repeats
`--known`/`--unknown`/`--sets` and is comma-joined elsewhere. What the command prints
goes to the process's stdout/stderr. Errors raise `DccError` with dcc's message.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from . import _dcc
from ._dcc import DccError, __version__

__all__ = [
    "DccError",
    "Dataset",
    "Run",
    "command",
    "infer",
    "kernel_sums",
    "nearest",
    "open_dataset",
    "set_threads",
    "simulate",
    "threads",
    "train",
]

_REPEATABLE = {"train": {"known", "unknown"}, "infer": {"sets"}, "report": {"sets"}}


def _flags(cmd: str, flags: dict) -> list[str]:
    argv: list[str] = []
    for key, value in flags.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            if key in _REPEATABLE.get(cmd, ()):
                for v in value:
                    argv += [flag, str(v)]
            else:
                argv += [flag, ",".join(str(v) for v in value)]
        else:
            argv += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return argv


def command(cmd: str, *args: str, **flags) -> int:
    """Runs `dcc CMD ARGS --flags...` in this process; returns the exit status (0, or 3
    when a science check or a --check target failed); raises DccError on an error."""
    return _dcc.run(["dcc", cmd, *map(str, args), *_flags(cmd, flags)])


def set_threads(n: int) -> None:
    """Sizes dcc's worker pool; once per process (a later call must ask for the same n)."""
    _dcc.set_threads(int(n))


def threads() -> int:
    """Worker threads dcc uses."""
    return _dcc.threads()


def simulate(out, **flags) -> Path:
    """Writes a synthetic dataset (`dcc simulate --out OUT ...`); returns its directory."""
    command("simulate", out=Path(out), **flags)
    return Path(out)


def train(data, run, **flags) -> "Run":
    """Trains an ensemble (`dcc train --data DATA --run RUN ...`); returns the Run."""
    command("train", data=Path(data), run=Path(run), **flags)
    return Run(run)


def infer(run, *data, **flags) -> dict:
    """`dcc infer --run RUN --data DATA...`; returns what it writes to infer.json (written
    to a temporary file, so RUN/infer.json is left alone unless json= names it)."""
    return Run(run).infer(*data, **flags)


@dataclass
class Dataset:
    """A dataset directory opened by dcc's reader (its checks passed)."""

    path: Path
    images: np.ndarray
    """N×C×H×W, memory-mapped as stored (read-only)."""
    catalog: dict
    """Column name -> list of cells as written (strings; '' = empty)."""
    kept: np.ndarray
    """Indices of the images dcc uses (all, unless skip_bad dropped some)."""

    @property
    def sets(self) -> dict:
        """Set name -> (sigma or None, image indices), in order of first appearance."""
        out: dict = {}
        for i, (name, sigma) in enumerate(zip(self.catalog["set"], self.catalog["sigma"])):
            entry = out.setdefault(name, (float(sigma) if sigma.strip() else None, []))
            entry[1].append(i)
        return out


def open_dataset(path, skip_bad: bool = False) -> Dataset:
    """Opens a dataset directory with dcc's checks (raises DccError naming the problem)."""
    path = Path(path)
    dims, columns, rows, kept = _dcc.open_dataset(path, skip_bad)
    images = np.load(path / "images.npy", mmap_mode="r")
    if tuple(images.shape) != tuple(dims):
        raise DccError(f"{path / 'images.npy'}: numpy reads {images.shape}, dcc read {tuple(dims)}")
    catalog = {c: [r[i] for r in rows] for i, c in enumerate(columns)}
    return Dataset(path, images, catalog, np.asarray(kept, dtype=np.int64))


class Run:
    """A trained run directory: its description, members and inference."""

    def __init__(self, path):
        self._run = _dcc.Run(Path(path))

    def __repr__(self) -> str:
        c, h, w = self.input_shape
        return f"dcc.Run({str(self.path)!r}, members={self.members}, input={c}x{h}x{w})"

    @property
    def path(self) -> Path:
        return Path(self._run.path)

    @property
    def members(self) -> int:
        """Ensemble members."""
        return self._run.members

    @property
    def input_shape(self) -> tuple:
        """The network's input (C, H, W)."""
        return tuple(self._run.input_shape)

    @property
    def channels(self) -> Optional[list]:
        """The data channels the run trained on (None: all)."""
        return self._run.channels

    @property
    def config(self) -> dict:
        """The run description (config.json)."""
        return json.loads(self._run.config_json())

    def encode(self, images, members: Optional[Sequence[int]] = None, device: str = "cpu") -> np.ndarray:
        """Latents, members × N × D (float32), of images N×C×H×W: either the network's C
        channels, or the data's channels of which the run's are picked. Each plane is
        divided by its maximum as in training; no augmentation (dcc infer --no-augment).
        A single C×H×W image gives members × 1 × D."""
        x = np.asarray(images)
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4:
            raise ValueError(f"images must be N×C×H×W (or one C×H×W), got shape {x.shape}")
        if x.dtype.kind not in "biuf":
            raise ValueError(f"images must be numbers, got dtype {x.dtype}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        return self._run.encode(x, None if members is None else [int(k) for k in members], device)

    def infer(self, *data, **flags) -> dict:
        """`dcc infer` on this run (data: dataset directories; default the training data);
        returns the infer.json content. With json=PATH it is also written there."""
        target = flags.pop("json", None)
        with tempfile.TemporaryDirectory(prefix="dcc-infer-") as tmp:
            out = Path(target) if target else Path(tmp) / "infer.json"
            flags.setdefault("no_report", True)
            args = ["--run", str(self.path)]
            if data:
                args += ["--data", *map(str, data)]
            command("infer", *args, json=out, **flags)
            return json.loads(out.read_text())

    def latents(self, *data, **flags):
        """`dcc infer --export-latents`: (latents members × N × D, rows) where rows lists,
        per image, its set, sigma, data directory, image index, role and catalog cells."""
        with tempfile.TemporaryDirectory(prefix="dcc-latents-") as tmp:
            self.infer(*data, export_latents=tmp, json=Path(tmp) / "infer.json", **flags)
            z = np.load(Path(tmp) / "latents.npy")
            with open(Path(tmp) / "latents.csv", newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
            return z, rows


def _latent_rows(x, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (rows × dimensions), got shape {a.shape}")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be numbers, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float32)


def nearest(queries, refs, k: int, device: str = "cpu"):
    """The k nearest rows of `refs` for every row of `queries` (N×D and M×D, e.g. latents
    from Run.encode or Run.latents): (distances N×k float32 ascending, indices N×k uint32).
    Exact f32 distances computed tile by tile (no N×M matrix in memory), the kernel behind
    the trust test's kNN score; device "cuda" runs it on a GPU (D ≤ 16, k ≤ 64)."""
    return _dcc.nearest(_latent_rows(queries, "queries"), _latent_rows(refs, "refs"), int(k), device)


def kernel_sums(queries, refs, bandwidth: float, device: str = "cpu") -> np.ndarray:
    """For every row q of `queries`, sum_j exp(-|q - r_j|^2 / (2 h^2)) over the rows r_j of
    `refs` (float64, unnormalised: divide by M (2 pi h^2)^(D/2) for a density), tile by tile."""
    return _dcc.kernel_sums(_latent_rows(queries, "queries"), _latent_rows(refs, "refs"),
                            float(bandwidth), device)


def _console() -> None:
    """The `dcc` command installed by pip."""
    sys.exit(_dcc.run(["dcc", *sys.argv[1:]], print_errors=True))
