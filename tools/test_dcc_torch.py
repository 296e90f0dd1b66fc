"""Tests of tools/dcc_torch.py: the PyTorch rebuild of a dcc run must give dcc's latents.

    DCC_BIN=target/release/dcc pytest -q tools/test_dcc_torch.py -s

The comparison tests train tiny runs with the dcc binary (1 epoch, 48 maps) for the
`small`, `small-same` and `inception` networks and for a custom network that uses every
layer option, run `dcc infer --no-augment --export-latents` on them and compare every
member's latents with the torch module's on the same images. DCC_TORCH_RUN=<run dir>
replaces the tiny `small` run with an existing run. Without the binary those tests skip;
the rest (description errors, weight-name checks, image preprocessing) need only torch.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed: dcc_torch needs it")
safetensors_torch = pytest.importorskip("safetensors.torch", reason="safetensors is not installed")

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent
sys.path.insert(0, str(TOOLS))
import dcc_torch  # noqa: E402

# Latents must agree to this fraction of their scale (the largest |z| of the member):
# the two sides differ only in float32 summation order.
REL_TOL = 1e-4

# Uses every option dcc's TOML has: strided zero-padded conv, explicit pixel padding,
# 'same' with zeros, pooling with stride and padding, an Inception block, the ordered
# bottleneck and a "sets"-wide last layer.
CUSTOM_TOML = """\
name = "custom"

[[layers]]
type = "conv"
channels = 8
kernel = 3
stride = 2
padding = 1
pad_mode = "zeros"

[[layers]]
type = "maxpool"
kernel = 3
stride = 2
padding = 1

[[layers]]
type = "inception"
channels = 16
dropout = 0.05

[[layers]]
type = "conv"
channels = 8
kernel = 5
padding = "same"
pad_mode = "zeros"

[[layers]]
type = "conv"
channels = 8
kernel = 3
padding = 2

[[layers]]
type = "maxpool"
kernel = 2

[[layers]]
type = "flatten"

[[layers]]
type = "linear"
features = 32
dropout = 0.1

[[layers]]
type = "linear"
features = 7

[[layers]]
type = "latent"

[[layers]]
type = "bottleneck"

[[layers]]
type = "linear"
features = "sets"
"""


@pytest.fixture(autouse=True)
def _one_thread():
    # The machine is shared (and dcc runs with --threads 2): keep torch to one core.
    torch.set_num_threads(1)


# ----------------------------------------------------------------------- dcc binary


@pytest.fixture(scope="module")
def dcc_bin():
    path = Path(os.environ.get("DCC_BIN", REPO / "target" / "release" / "dcc"))
    if not path.is_absolute():
        path = REPO / path
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.skip(f"dcc binary {path} not found (build it or set DCC_BIN)")
    return path


def dcc(bin_path, *args):
    # --threads is a global option: it goes before the subcommand.
    cmd = [str(bin_path), "--threads", "2", *map(str, args)]
    print("$", " ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return p


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("dcc_torch")


def simulate(bin_path, out, *extra, sets="cdm,1", per_set=24, seed=3):
    if not (out / "images.npy").exists():
        dcc(bin_path, "simulate", "--out", out, "--sets", sets, "--per-set", per_set,
            "--seed", seed, *extra)
    return out


def unseen(bin_path, train_data, *extra):
    """A second dataset of a set the run never saw, beside `train_data`: infer exports
    only the held-out images of the training data, but every image of another one, and
    the torch side must then map rows of two data directories.

    simulate writes maps whose planes already peak at 1, which would hide a missing
    normalisation; this dataset is rescaled per plane (mass-like 1e12 units, float64 on
    disk) so that only dcc's divide-by-the-plane's-maximum brings it back.
    """
    out = simulate(bin_path, train_data.with_name(train_data.name + "-new"), *extra,
                   sets="0.3", per_set=12, seed=5)
    images = np.load(out / "images.npy")
    if images.dtype == np.float32:
        n, c = images.shape[:2]
        scale = np.geomspace(1e-3, 1e12, n * c).reshape(n, c, 1, 1)
        np.save(out / "images.npy", images.astype(np.float64) * scale)
    return out


def train(bin_path, data, run, *extra):
    if not (run / "config.json").exists():
        dcc(bin_path, "train", "--data", data, "--run", run,
            "--known", "bahamas-cdm,bahamas-1", "--epochs", 1, "--batch", 12,
            "--validation", 0.3, "--device", "cpu", *extra)
    return run


def make_run(kind, bin_path, work):
    """(run directory, data directories to infer on; none: the run's own) of one
    comparison case, trained on first use."""
    if kind == "small":
        if os.environ.get("DCC_TORCH_RUN"):
            run = Path(os.environ["DCC_TORCH_RUN"])
            assert (run / "config.json").is_file(), f"DCC_TORCH_RUN={run} is not a dcc run"
            return run, []
        sim = ("--channels", "mass,xray")
        data = simulate(bin_path, work / "data100", *sim)
        run = train(bin_path, data, work / "run-small", "--ensemble", 2)
        return run, [data, unseen(bin_path, data, *sim)]
    if kind in ("small-same", "inception"):
        sim = ("--channels", "mass,xray", "--shift", "pixels=32")
        data = simulate(bin_path, work / "data32", *sim)
        run = train(bin_path, data, work / f"run-{kind}", "--config", kind, "--ensemble", 1)
        return run, [data, unseen(bin_path, data, *sim)]
    if kind == "custom":
        # Three channels of which the run takes two, reordered: exercises selection.
        sim = ("--channels", "mass,xray,stellar", "--shift", "pixels=32")
        data = simulate(bin_path, work / "data32x3", *sim)
        toml = work / "custom.toml"
        toml.write_text(CUSTOM_TOML)
        run = train(bin_path, data, work / "run-custom", "--config", toml,
                    "--ensemble", 1, "--channels", "2,0")
        return run, [data, unseen(bin_path, data, *sim)]
    raise AssertionError(kind)


def dcc_latents(bin_path, run, out, data_dirs):
    """dcc's latents (members × N × D) of `run` and, per row, (data dir, image index)."""
    out.mkdir(parents=True, exist_ok=True)
    data_args = [a for d in data_dirs for a in ("--data", d)]
    dcc(bin_path, "infer", "--run", run, *data_args, "--no-augment", "--no-report",
        "--json", out / "infer.json", "--export-latents", out, "--device", "cpu")
    z = np.load(out / "latents.npy")
    with open(out / "latents.csv", newline="") as f:
        rows = [(r["data"], int(r["image_index"])) for r in csv.DictReader(f)]
    assert z.shape[1] == len(rows), (z.shape, len(rows))
    return z, rows


def torch_latents(run, k, rows):
    net = dcc_torch.load_member(run, k)
    out = np.empty((len(rows), net.latent_dim), dtype=np.float32)
    # One batch per data directory; rows keep their order in latents.csv.
    for data in dict.fromkeys(d for d, _ in rows):
        where = [r for r, (d, _) in enumerate(rows) if d == data]
        x = dcc_torch.load_images(run, data, [rows[r][1] for r in where])
        with torch.no_grad():
            z, logits = net(torch.from_numpy(x))
        assert logits.shape == (len(where), net.n_classes)
        assert torch.isfinite(logits).all()
        out[where] = z.numpy()
    return out


@pytest.mark.parametrize("kind", ["small", "small-same", "inception", "custom"])
def test_torch_latents_match_dcc(kind, dcc_bin, work):
    run, data_dirs = make_run(kind, dcc_bin, work)
    z_dcc, rows = dcc_latents(dcc_bin, run, work / f"latents-{kind}", data_dirs)
    n_dirs = len(set(d for d, _ in rows))
    members = len(list(run.glob("weights-*.safetensors")))
    assert z_dcc.shape[0] == members
    for k in range(members):
        z = torch_latents(run, k, rows)
        diff = float(np.abs(z - z_dcc[k]).max())
        scale = float(np.abs(z_dcc[k]).max())
        spread = float(z_dcc[k].std(axis=0).max())
        print(f"{kind} ({run}) member {k}: {len(rows)} images of {n_dirs} dir(s), max |z_torch - z_dcc| = "
              f"{diff:.3g}, latent scale {scale:.3g} (relative {diff / max(scale, 1e-30):.3g}), "
              f"largest per-dimension spread {spread:.3g}")
        assert diff <= REL_TOL * scale, f"member {k}: max diff {diff} > {REL_TOL} × {scale}"
        # The match must also resolve how the latent varies between images: after one
        # epoch it varies little (inception: ~1e-4 of its scale), and a latent that
        # hardly depends on the input would agree with any preprocessing.
        assert diff * 10 < spread, f"member {k}: diff {diff} not far below the spread {spread}"


# ----------------------------------------------------------------------- no binary needed


def fake_run(tmp_path, network_toml, input_chw=(2, 16, 16), n_sets=3, channels=None,
             images=None):
    """A run directory with config.json and network.toml only (no training)."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    if images is not None:
        np.save(data / "images.npy", images)
    info = {
        "config": {"data": str(data), "channels": channels},
        "sets": [{"name": f"s{i}", "sigma": 0.1 * i, "known": True} for i in range(n_sets)],
        "class_of": list(range(n_sets)),
        "input": list(input_chw),
    }
    (tmp_path / "config.json").write_text(json.dumps(info))
    (tmp_path / "network.toml").write_text(network_toml)
    return tmp_path


def save_weights(net, path, rename=None, drop=None, extra=None, reshape=None, metadata=None):
    named = {n: p.detach().clone() for n, p in net.dcc_names.items()}
    if drop:
        del named[drop]
    if rename:
        named[rename[1]] = named.pop(rename[0])
    if reshape:
        named[reshape] = named[reshape].reshape(-1)[:-1].clone()
    if extra:
        named[extra] = torch.zeros(1)
    safetensors_torch.save_file(named, str(path), metadata=metadata)


SMALL_TOML = """\
name = "tiny"
[[layers]]
type = "conv"
channels = 4
kernel = 3
[[layers]]
type = "maxpool"
kernel = 2
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
features = 7
[[layers]]
type = "latent"
[[layers]]
type = "bottleneck"
[[layers]]
type = "linear"
features = "sets"
"""


def test_parameter_names_follow_dcc_store_order(tmp_path):
    net = dcc_torch.build_module(fake_run(tmp_path, SMALL_TOML))
    assert list(net.dcc_names) == [
        "conv.0.weight", "conv.0.bias", "linear.2.weight", "linear.2.bias",
        "linear.4.weight", "linear.4.bias",
    ]
    assert net.dcc_names["linear.2.weight"].shape == (7, 4 * 7 * 7)
    assert net.dcc_names["linear.4.weight"].shape == (3, 7)


def test_inception_parameter_names_and_shapes(tmp_path):
    toml = SMALL_TOML.replace('type = "conv"\nchannels = 4\nkernel = 3',
                              'type = "inception"\nchannels = 32')
    net = dcc_torch.build_module(fake_run(tmp_path, toml))
    shapes = {n: tuple(p.shape) for n, p in net.dcc_names.items()}
    assert list(shapes)[:12:2] == [
        "inc.pool.0.weight", "inc.r5.2.weight", "inc.c5.4.weight",
        "inc.r3.6.weight", "inc.c3.8.weight", "inc.c1.10.weight",
    ]
    assert shapes["inc.pool.0.weight"] == (4, 2, 1, 1)
    assert shapes["inc.c5.4.weight"] == (4, 2, 5, 5)
    assert shapes["inc.c3.8.weight"] == (16, 12, 3, 3)
    assert shapes["inc.c1.10.weight"] == (8, 2, 1, 1)
    assert shapes["linear.12.weight"] == (7, 32 * 8 * 8)


@pytest.mark.parametrize("toml, message", [
    ('name = "x"\n[[layers]]\ntype = "flatten"\n[[layers]]\ntype = "deconv"\n',
     "layer 2 (deconv): unknown layer type"),
    ('name = "x"\n[[layers]]\ntype = "conv"\nchanels = 4\nkernel = 3\n',
     "layer 1 (conv): unknown field(s) chanels"),
    ('name = "x"\n[[layers]]\ntype = "conv"\nchannels = 4\nkernel = 2\n',
     "layer 1 (conv): kernel 2 must be odd"),
    ('name = "x"\n[[layers]]\ntype = "conv"\nchannels = 4\nkernel = 3\npad_mode = "reflect"\n',
     "layer 1 (conv): pad_mode 'reflect'"),
    ('name = "x"\n[[layers]]\ntype = "conv"\nchannels = 4\nkernel = 3\npadding = "valid"\n',
     "layer 1 (conv): padding 'valid'"),
    ('name = "x"\n[[layers]]\ntype = "conv"\nchannels = 4\nkernel = 3\n'
     '[[layers]]\ntype = "linear"\nfeatures = 3\n', "layer 2 (linear): linear needs a flat"),
    ('name = "x"\n[[layers]]\ntype = "inception"\nchannels = 24\n',
     "layer 1 (inception): an Inception block needs channels divisible by 16"),
    ('name = "x"\n[[layers]]\ntype = "maxpool"\nkernel = 2\npadding = 2\n',
     "layer 1 (maxpool): kernel 2, stride 2, padding 2"),
    ('name = "x"\n[[layers]]\ntype = "flatten"\n[[layers]]\ntype = "bottleneck"\n',
     "layer 2 (bottleneck): the ordered bottleneck must follow the latent"),
    ('name = "x"\n[[layers]]\ntype = "flatten"\n[[layers]]\ntype = "linear"\nfeatures = "classes"\n',
     "layer 2 (linear): features 'classes'"),
    ('name = "x"\n[[layers]]\ntype = "flatten"\n[[layers]]\ntype = "linear"\nfeatures = 2\n'
     'dropout = 1.5\n', "layer 2 (linear): dropout 1.5"),
    ('name = "x"\n[[layers]]\ntype = "conv"\nchannels = 4\nkernel = 31\n',
     "layer 1 (conv): a 31×31 conv does not fit"),
    ('name = "x"\n[[layers]]\ntype = "flatten"\n[[layers]]\ntype = "linear"\nfeatures = 2\n'
     'dropout = "high"\n', "layer 2 (linear): dropout 'high' is not a number"),
    ('name = "x"\n[[layers]]\ntype = "flatten"\n', "no layer is marked as the latent"),
])
def test_bad_descriptions_name_the_layer(tmp_path, toml, message):
    with pytest.raises(ValueError) as e:
        dcc_torch.build_module(fake_run(tmp_path, toml))
    assert message in str(e.value)


@pytest.mark.parametrize("damage, message", [
    ({"drop": "linear.2.bias"}, "tensor 'linear.2.bias' is missing"),
    ({"extra": "linear.6.weight"}, "unexpected tensor 'linear.6.weight'"),
    ({"rename": ("conv.0.bias", "conv.1.bias")}, "tensor 'conv.0.bias' is missing"),
    ({"reshape": "linear.4.weight"}, "tensor 'linear.4.weight' is torch.float32 [20], expected"),
    ({"metadata": {"format": "dcc-weights/1", "input_chw": "[2, 17, 17]"}},
     "trained for input [2, 17, 17], but the run's config.json says [2, 16, 16]"),
])
def test_weight_files_are_checked_by_name_and_shape(tmp_path, damage, message):
    run = fake_run(tmp_path, SMALL_TOML)
    net = dcc_torch.build_module(run)
    save_weights(net, run / "weights-0.safetensors", **damage)
    with pytest.raises(ValueError) as e:
        dcc_torch.load_member(run, 0)
    assert message in str(e.value)


def test_load_member_loads_every_tensor_and_is_in_eval_mode(tmp_path):
    run = fake_run(tmp_path, SMALL_TOML)
    net = dcc_torch.build_module(run)
    save_weights(net, run / "weights-1.safetensors")
    loaded = dcc_torch.load_member(run, 1)
    assert not loaded.training
    for n, p in net.dcc_names.items():
        assert torch.equal(loaded.dcc_names[n], p), n
    with pytest.raises(FileNotFoundError, match="weights-0.safetensors"):
        dcc_torch.load_member(run, 0)


def test_eval_forward_has_selu_on_latent_and_logits_and_no_bottleneck(tmp_path):
    run = fake_run(tmp_path, SMALL_TOML)
    net = dcc_torch.build_module(run).eval()
    x = torch.rand(5, 2, 16, 16)
    z, logits = net(x)
    h = torch.flatten(torch.nn.functional.max_pool2d(
        torch.nn.functional.elu(net.layers[0].conv(x)), 2), 1)
    lin1, lin2 = net.layers[3].linear, net.layers[6].linear
    want_z = torch.nn.functional.selu(lin1(h))
    torch.testing.assert_close(z, want_z)
    torch.testing.assert_close(logits, torch.nn.functional.selu(lin2(want_z)))
    # In training the bottleneck zeroes the columns from `keep` on, for z and downstream.
    net.train()
    net.layers[5].keep = 3
    z, _ = net(x)
    assert torch.all(z[:, 3:] == 0) and torch.equal(z[:, :3], want_z[:, :3])


def test_load_images_selects_channels_and_normalises_each_plane(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.uniform(0.5, 3.0, size=(4, 3, 6, 6)).astype(np.float64)
    images[1, 2] = 0.0          # a blank plane stays blank
    images[2, 0] *= -1.0        # a plane with no positive peak is left as it is
    run = fake_run(tmp_path, SMALL_TOML, input_chw=(2, 6, 6), channels=[2, 0], images=images)
    x = dcc_torch.load_images(run, indices=[2, 1])
    assert x.dtype == np.float32 and x.shape == (2, 2, 6, 6)
    want = images[[2, 1]][:, [2, 0]].astype(np.float32)
    for i, c in [(0, 0), (1, 1)]:
        want[i, c] /= want[i, c].max()
    np.testing.assert_array_equal(x, want)
    assert x[0, 0].max() == 1.0 and np.all(x[1, 0] == 0) and np.all(x[0, 1] < 0)


def test_a_module_saved_from_torch_seeds_dcc_train_init(dcc_bin, work):
    """PyTorch -> dcc: save_member writes what `dcc train --init` loads, and the run it
    seeds starts from those weights: with a vanishing learning rate its trained weights
    are the torch module's."""
    run, dirs = make_run("small-same", dcc_bin, work)
    net = dcc_torch.load_member(run, 0)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(0.5)  # a change dcc must pick up
    path = work / "tuned.safetensors"
    dcc_torch.save_member(net, path)
    seeded = work / "seeded"
    dcc(dcc_bin, "train", "--data", dirs[0], "--run", str(seeded), "--config", "small-same",
        "--known", "bahamas-cdm,bahamas-1", "--epochs", "1", "--ensemble", "1", "--batch", "12",
        "--validation", "0.3", "--device", "cpu", "--init", str(path), "--lr", "1e-12")
    # With a vanishing learning rate the trained weights are the seeded ones.
    back = dcc_torch.load_member(seeded, 0)
    diff = max((a - b).abs().max().item() for a, b in zip(net.parameters(), back.parameters()))
    print(f"--init round trip: max |w_dcc - w_torch| = {diff:.3g}")
    assert diff < 1e-6
