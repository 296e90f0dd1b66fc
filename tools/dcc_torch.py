"""Load a trained dcc run's ensemble member into PyTorch.

Usage (from a notebook, with tools/ on sys.path):

    import dcc_torch, torch
    net = dcc_torch.load_member("runs/demo", k=0)              # eval mode, weights loaded
    x = dcc_torch.load_images("runs/demo", indices=range(16))  # N×C×H×W, as dcc feeds it
    with torch.no_grad():
        z, logits = net(torch.from_numpy(x))                   # latent N×D, logits N×classes
    dcc_torch.save_member(net, "tuned.safetensors")            # for dcc train --init

The network is rebuilt from the run's own description (network.toml, or the network in
config.json for runs written before network.toml existed), following dcc's Rust builder
(src/nn/config.rs, src/nn/network.rs) layer for layer:

- conv: Conv2d (padding "none" = 0, "same" = kernel // 2, or N pixels; pad_mode
  replicate (default) or zeros) -> ELU -> Dropout2d.
- maxpool: kernel, stride (default: the kernel), padding counted as -inf, floored size.
- inception: four branches concatenated in the order [3×3 max-pool (stride 1, pad 1) ->
  1×1 (C/8); 1×1 (C/16) -> 5×5 (C/8); 1×1 (3C/8) -> 3×3 (C/2); 1×1 (C/4)], every conv a
  'same' replicate-padded conv unit (conv -> ELU -> Dropout2d) whatever the file says.
- linear: Linear -> SELU -> Dropout. Every linear layer has the SELU, including the one
  that makes the latent and the last one (the logits are SELU outputs).
- latent: no operation of its own; the activation at that point (already through SELU)
  is the latent z returned by forward.
- bottleneck: the ordered bottleneck only acts in training (zeroing latent columns
  >= keep); in eval mode it is the identity.

Numerical notes: dcc divides every input channel plane by its own maximum (when that
maximum is positive and finite) before the network; load_images does the same, so feed
the network what load_images returns, not raw images.npy planes.
"""

from __future__ import annotations

import json
import math
import tomllib
import warnings
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from torch import nn

__all__ = [
    "DccNet",
    "build_module",
    "build_from_description",
    "load_member",
    "load_images",
    "read_run",
    "weights_metadata",
]

# Keys dcc's serde structs accept per layer type; anything else is refused, as dcc does
# (deny_unknown_fields), so a typo cannot silently change the architecture.
_LAYER_KEYS = {
    "conv": {"channels", "kernel", "stride", "padding", "pad_mode", "dropout"},
    "maxpool": {"kernel", "stride", "padding"},
    "inception": {"channels", "dropout"},
    "flatten": set(),
    "linear": {"features", "dropout"},
    "latent": set(),
    "bottleneck": set(),
}


# --------------------------------------------------------------------------- run files


def read_run(run) -> tuple[dict, dict]:
    """(network description, config.json) of a run directory.

    network.toml is preferred because it is exactly what the run was built from; older
    runs only have the same description inside config.json.
    """
    run = Path(run)
    cfg_path = run / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{run}: no config.json (not a dcc run directory)")
    info = json.loads(cfg_path.read_text())
    toml_path = run / "network.toml"
    if toml_path.is_file():
        with open(toml_path, "rb") as f:
            network = tomllib.load(f)
    else:
        network = info.get("config", {}).get("network")
        if network is None:
            raise ValueError(f"{run}: neither network.toml nor config.json's config.network")
    return network, info


def _class_count(info: dict) -> int:
    # RunInfo::class_count: a set's class is class_of[i], or i when class_of is short.
    sets = info.get("sets") or []
    class_of = info.get("class_of") or []
    if not sets:
        raise ValueError("config.json lists no sets, so the logit count is unknown")
    return max((class_of[i] if i < len(class_of) else i) for i in range(len(sets))) + 1


def _input_shape(info: dict, run: Path) -> tuple[int, int, int]:
    shape = info.get("input")
    if shape is None:
        # Runs always record it; fall back to the data in case a hand-made config lacks it.
        images = np.load(_images_path(Path(info["config"]["data"])), mmap_mode="r")
        chans = info["config"].get("channels")
        shape = [len(chans) if chans else images.shape[1], images.shape[2], images.shape[3]]
    if len(shape) != 3:
        raise ValueError(f"{run}: config.json input {shape} is not C×H×W")
    return tuple(int(s) for s in shape)


def weights_metadata(path) -> dict:
    """The __metadata__ header of a dcc weights file, JSON values decoded (may be empty:
    files written before dcc stored metadata have none)."""
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
    for key in ("input_chw", "channels", "classes", "sets", "label_map"):
        if key in meta:
            try:
                meta[key] = json.loads(meta[key])
            except json.JSONDecodeError:
                pass
    return meta


# --------------------------------------------------------------------------- layers


class ConvUnit(nn.Module):
    """conv -> ELU -> Dropout2d, dcc's ConvUnit."""

    def __init__(self, cin, cout, kernel, stride, padding, pad_mode, dropout):
        super().__init__()
        self.conv = nn.Conv2d(
            cin,
            cout,
            kernel,
            stride=stride,
            padding=padding,
            padding_mode="replicate" if pad_mode == "replicate" else "zeros",
        )
        self.drop = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x):
        return self.drop(F.elu(self.conv(x)))


class Inception(nn.Module):
    """dcc's InceptionBlock; the branch and concatenation order matter for the weights."""

    def __init__(self, cin, out, dropout):
        super().__init__()

        def unit(i, o, k):
            return ConvUnit(i, o, k, 1, k // 2, "replicate", dropout)

        self.pool_proj = unit(cin, out // 8, 1)
        self.reduce5 = unit(cin, out // 16, 1)
        self.conv5 = unit(out // 16, out // 8, 5)
        self.reduce3 = unit(cin, 3 * out // 8, 1)
        self.conv3 = unit(3 * out // 8, out // 2, 3)
        self.conv1 = unit(cin, out // 4, 1)

    def forward(self, x):
        a = self.pool_proj(F.max_pool2d(x, 3, 1, 1))
        b = self.conv5(self.reduce5(x))
        c = self.conv3(self.reduce3(x))
        d = self.conv1(x)
        return torch.cat([a, b, c, d], dim=1)


class LinearUnit(nn.Module):
    """Linear -> SELU -> Dropout, dcc's Linear layer (the SELU is never omitted)."""

    def __init__(self, fin, fout, dropout):
        super().__init__()
        self.linear = nn.Linear(fin, fout)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x):
        return self.drop(F.selu(self.linear(x)))


class MaxPool(nn.Module):
    def __init__(self, kernel, stride, padding):
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x):
        return F.max_pool2d(x, self.kernel, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel={self.kernel}, stride={self.stride}, padding={self.padding}"


class Flatten(nn.Module):
    def forward(self, x):
        return torch.flatten(x, 1)


class Latent(nn.Module):
    """Marker: the activation passing here is the latent z."""

    def forward(self, x):
        return x


class Bottleneck(nn.Module):
    """Ordered bottleneck. dcc's trainer draws `keep` per step; here it is an attribute a
    user may set for experiments. In eval mode (and with keep None) it is the identity,
    which is all inference ever uses."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        self.keep: Optional[int] = None

    def forward(self, x):
        if self.training and self.keep is not None and self.keep < self.dim:
            mask = torch.zeros(self.dim, dtype=x.dtype, device=x.device)
            mask[: self.keep] = 1
            return x * mask
        return x


class DccNet(nn.Module):
    """A dcc network: forward(x) -> (latent, logits).

    `dcc_names` maps each dcc tensor name (as in weights-<k>.safetensors) to the
    parameter it fills, in dcc's creation order.
    """

    def __init__(self, name, input_chw, n_classes):
        super().__init__()
        self.name = name
        self.input_chw = tuple(input_chw)
        self.n_classes = n_classes
        self.layers = nn.ModuleList()
        self.dcc_names: dict[str, nn.Parameter] = {}
        self.latent_dim: Optional[int] = None

    def forward(self, x):
        latent = None
        for layer in self.layers:
            x = layer(x)
            # After the bottleneck the (possibly masked) activation is the latent, as in
            # dcc's forward: the marker comes first, the bottleneck right after it.
            if isinstance(layer, (Latent, Bottleneck)):
                latent = x
        return latent, x


def _spec_error(net_name, i, kind, msg):
    return ValueError(f"{net_name}: layer {i + 1} ({kind}): {msg}")


def build_module(run) -> DccNet:
    """Builds (untrained) the network of run directory `run` for its input C×H×W and
    class count. Raises ValueError naming the layer for anything dcc would refuse."""
    run = Path(run)
    network, info = read_run(run)
    input_chw = _input_shape(info, run)
    return build_from_description(network, input_chw, _class_count(info))


def build_from_description(network: dict, input_chw: Sequence[int], n_classes: int) -> DccNet:
    """build_module's core: a parsed network description, input C×H×W and class count."""
    name = network.get("name", "<unnamed>")
    layers = network.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ValueError(f"{name}: the network description has no layers")
    net = DccNet(name, input_chw, n_classes)
    shape = list(input_chw)  # C×H×W while spatial, [D] once flat
    count = 0  # dcc names parameters by their index in its store

    def register(prefix, module):
        # Weight and bias share the index of the weight: "conv.0.weight", "conv.0.bias",
        # then "conv.2.weight" (NetworkBuilder reads the store's length once per unit).
        nonlocal count
        net.dcc_names[f"{prefix}.{count}.weight"] = module.weight
        net.dcc_names[f"{prefix}.{count}.bias"] = module.bias
        count += 2

    for i, spec in enumerate(layers):
        if not isinstance(spec, dict) or "type" not in spec:
            raise _spec_error(name, i, "?", "a layer needs a 'type'")
        kind = spec["type"]
        err = lambda msg: _spec_error(name, i, kind, msg)  # noqa: E731
        if kind not in _LAYER_KEYS:
            raise err(
                f"unknown layer type '{kind}'; expected one of {', '.join(_LAYER_KEYS)}"
            )
        unknown = set(spec) - _LAYER_KEYS[kind] - {"type"}
        if unknown:
            raise err(f"unknown field(s) {', '.join(sorted(unknown))}")
        try:
            dropout = float(spec.get("dropout", 0.0) or 0.0)
        except (TypeError, ValueError):
            raise err(f"dropout {spec['dropout']!r} is not a number") from None
        if not 0.0 <= dropout < 1.0:
            raise err(f"dropout {dropout} must be in [0, 1)")

        def spatial():
            if len(shape) != 3:
                raise err(f"needs a C×H×W activation, found {shape}")
            return shape

        if kind == "conv":
            c, h, w = spatial()
            out, k = _int(spec, "channels", err), _int(spec, "kernel", err)
            stride = _int(spec, "stride", err, default=1)
            if k % 2 == 0 or stride <= 0 or out <= 0:
                raise err(f"kernel {k} must be odd, stride {stride} and channels {out} positive")
            pad_mode = spec.get("pad_mode", "replicate")
            if pad_mode not in ("replicate", "zeros"):
                raise err(f"pad_mode '{pad_mode}': expected replicate or zeros")
            padding = spec.get("padding", "none")
            if padding == "none":
                pad = 0
            elif padding == "same":
                pad = k // 2
            elif isinstance(padding, int) and not isinstance(padding, bool) and padding >= 0:
                pad = padding
            else:
                raise err(f"padding '{padding}': expected none, same or a number")
            ho = (h + 2 * pad - k) // stride + 1
            wo = (w + 2 * pad - k) // stride + 1
            if h + 2 * pad < k or w + 2 * pad < k:
                raise err(f"a {k}×{k} conv does not fit a {c}×{h}×{w} input")
            unit = ConvUnit(c, out, k, stride, pad, pad_mode, dropout)
            register("conv", unit.conv)
            net.layers.append(unit)
            shape[:] = [out, ho, wo]
        elif kind == "maxpool":
            c, h, w = spatial()
            k = _int(spec, "kernel", err)
            s = spec.get("stride")
            s = k if s is None else _int(spec, "stride", err)
            pad = _int(spec, "padding", err, default=0)
            if k <= 0 or s <= 0 or 2 * pad > k:
                raise err(
                    f"kernel {k}, stride {s}, padding {pad}: need positive sizes and padding ≤ kernel/2"
                )
            if h + 2 * pad < k or w + 2 * pad < k:
                raise err(f"a {k}×{k} pool does not fit {c}×{h}×{w}")
            net.layers.append(MaxPool(k, s, pad))
            shape[:] = [c, (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1]
        elif kind == "inception":
            c, h, w = spatial()
            out = _int(spec, "channels", err)
            if out <= 0 or out % 16:
                raise err(f"an Inception block needs channels divisible by 16, found {out}")
            block = Inception(c, out, dropout)
            # dcc creates the branch parameters in this order, each weight then bias.
            for prefix, unit in (
                ("inc.pool", block.pool_proj),
                ("inc.r5", block.reduce5),
                ("inc.c5", block.conv5),
                ("inc.r3", block.reduce3),
                ("inc.c3", block.conv3),
                ("inc.c1", block.conv1),
            ):
                register(prefix, unit.conv)
            net.layers.append(block)
            shape[:] = [out, h, w]
        elif kind == "flatten":
            spatial()
            net.layers.append(Flatten())
            shape[:] = [math.prod(shape)]
        elif kind == "linear":
            if len(shape) != 1:
                raise err(f"linear needs a flat activation, found {shape} (add flatten)")
            features = spec.get("features")
            if features == "sets":
                n = n_classes
            elif isinstance(features, int) and not isinstance(features, bool) and features > 0:
                n = features
            else:
                raise err(f"features {features!r}: expected a positive number or \"sets\"")
            unit = LinearUnit(shape[0], n, dropout)
            register("linear", unit.linear)
            net.layers.append(unit)
            shape[:] = [n]
        elif kind == "latent":
            if len(shape) != 1:
                raise err(f"the latent must be a flat activation, found {shape}")
            net.latent_dim = shape[0]
            net.layers.append(Latent())
        elif kind == "bottleneck":
            if not net.layers or not isinstance(net.layers[-1], Latent):
                raise err("the ordered bottleneck must follow the latent marker")
            net.layers.append(Bottleneck(net.latent_dim))

    if net.latent_dim is None:
        raise ValueError(f"{name}: no layer is marked as the latent")
    if len(shape) != 1:
        raise ValueError(f"{name}: the network must end flat (class logits), found {shape}")
    return net


def _int(spec, key, err, default=None):
    v = spec.get(key, default)
    if v is None:
        raise err(f"'{key}' is required")
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise err(f"'{key}' = {v!r}: expected a non-negative integer")
    return v


# --------------------------------------------------------------------------- weights


def load_member(run, k: int = 0, device="cpu") -> DccNet:
    """Ensemble member `k` of run directory `run`, in eval mode, weights from
    run/weights-<k>.safetensors. Every dcc tensor must fill exactly one parameter with
    the same shape; anything missing, extra or misshapen is a ValueError naming it."""
    run = Path(run)
    net = build_module(run)
    path = run / f"weights-{k}.safetensors"
    if not path.is_file():
        have = sorted(p.name for p in run.glob("weights-*.safetensors"))
        raise FileNotFoundError(f"{path}: no such member (the run has {', '.join(have) or 'none'})")
    with safe_open(str(path), framework="pt") as f:
        # Files from dcc versions that store metadata say what input they were trained
        # for; a file copied from another run would otherwise load whenever shapes agree.
        meta_chw = (f.metadata() or {}).get("input_chw")
        if meta_chw is not None and tuple(json.loads(meta_chw)) != net.input_chw:
            raise ValueError(f"{path}: trained for input {json.loads(meta_chw)}, but the run's "
                             f"config.json says {list(net.input_chw)}")
        names = set(f.keys())
        missing = [n for n in net.dcc_names if n not in names]
        if missing:
            raise ValueError(f"{path}: tensor '{missing[0]}' is missing ({len(missing)} missing in all)")
        extra = sorted(names - set(net.dcc_names))
        if extra:
            raise ValueError(f"{path}: unexpected tensor '{extra[0]}' ({len(extra)} unexpected in all); "
                             f"the weights do not belong to network '{net.name}'")
        with torch.no_grad():
            for n, param in net.dcc_names.items():
                t = f.get_tensor(n)
                if t.dtype != torch.float32 or tuple(t.shape) != tuple(param.shape):
                    raise ValueError(f"{path}: tensor '{n}' is {t.dtype} {list(t.shape)}, "
                                     f"expected torch.float32 {list(param.shape)}")
                param.copy_(t)
    return net.to(device).eval()


def save_member(net: DccNet, path, metadata: Optional[dict] = None) -> None:
    """Writes `net`'s parameters under dcc's tensor names to a safetensors file that
    `dcc train --init FILE` starts every member from (e.g. after fine-tuning in PyTorch).
    `metadata`: optional string-valued header entries."""
    from safetensors.torch import save_file

    tensors = {n: p.detach().to("cpu", torch.float32).contiguous() for n, p in net.dcc_names.items()}
    meta = {"format": "dcc-weights/1", "input_chw": json.dumps(list(net.input_chw))}
    meta.update({str(k): str(v) for k, v in (metadata or {}).items()})
    save_file(tensors, str(path), metadata=meta)


# --------------------------------------------------------------------------- images


def _images_path(data_dir: Path) -> Path:
    p = Path(data_dir) / "images.npy"
    if not p.is_file():
        raise FileNotFoundError(f"{data_dir}: no images.npy")
    return p


def load_images(run, data_dir=None, indices: Optional[Iterable[int]] = None) -> np.ndarray:
    """Images of `data_dir` (default: the run's training data) as the run's network sees
    them: N×C×H×W float32, the run's channels selected in its order, each channel plane
    divided by its maximum when that is positive and finite (dcc's read_batch). No
    augmentation: this is `dcc infer --no-augment`'s input. `indices` (default: every
    image) are rows of images.npy, e.g. latents.csv's image_index column."""
    run = Path(run)
    _, info = read_run(run)
    cfg = info.get("config", {})
    data_dir = Path(data_dir if data_dir is not None else cfg["data"])
    images = np.load(_images_path(data_dir), mmap_mode="r")
    if images.ndim != 4:
        raise ValueError(f"{data_dir}/images.npy has shape {images.shape}, expected N×C×H×W")
    channels = cfg.get("channels")
    channels = list(range(images.shape[1])) if channels is None else list(channels)
    bad = [c for c in channels if c >= images.shape[1]]
    if bad:
        raise ValueError(f"{data_dir}: channel {bad[0]} requested but the images have {images.shape[1]}")
    idx = np.arange(images.shape[0]) if indices is None else np.asarray(list(indices), dtype=np.int64)
    # Only the requested images are read from the memory map; like dcc's npy reader,
    # other dtypes (float16/64, integers, bool, either byte order) become float32.
    x = np.array(images[idx][:, channels], dtype=np.float32)
    c, h, w = _input_shape(info, run)
    if x.shape[1:] != (c, h, w):
        raise ValueError(f"{data_dir}: images are {x.shape[1:]} after channel selection; "
                         f"the network takes {(c, h, w)}")
    # dcc folds f32::max from -inf, which skips NaNs; nanmax does too (an all-NaN plane
    # gives NaN, which like dcc's -inf is left unnormalised, hence the silenced warning).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        peak = np.nanmax(x.reshape(x.shape[0], x.shape[1], -1), axis=2)
    ok = np.isfinite(peak) & (peak > 0)
    scale = np.where(ok, peak, np.float32(1)).astype(np.float32)
    x /= scale[:, :, None, None]
    return x

