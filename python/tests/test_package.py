"""The installed dcc Python package: the dcc command, simulate/train/infer, Run.encode.

    pip install . && pytest -q python/tests

Runs against the installed package (not the source tree), as a user's notebook would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import dcc

# Three channels of which the run keeps two (reordered), 32×32 maps: a run in seconds.
SIM = dict(sets="cdm,1", per_set=24, seed=3, channels="mass,xray,stellar", shift="pixels=32")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("dcc_package")


@pytest.fixture(scope="module")
def data(work):
    return dcc.simulate(work / "data", **SIM)


@pytest.fixture(scope="module")
def run(work, data):
    return dcc.train(data, work / "run", known=["bahamas-cdm", "bahamas-1"], config="small-same",
                     channels=[2, 0], epochs=1, batch=12, validation=0.3, ensemble=2, device="cpu")


def console():
    path = shutil.which("dcc", path=str(Path(sys.executable).parent))
    assert path, f"pip did not install the dcc command beside {sys.executable}"
    return path


def test_the_dcc_command_is_installed_and_reports_errors_like_the_binary(tmp_path):
    p = subprocess.run([console(), "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == f"dcc {dcc.__version__}"
    p = subprocess.run([console(), "infer", "--run", str(tmp_path / "nope")], capture_output=True, text=True)
    assert p.returncode == 1
    assert p.stderr.startswith("error: ") and "not a dcc run directory (no config.json)" in p.stderr
    p = subprocess.run([console(), "train", "--bogus"], capture_output=True, text=True)
    assert p.returncode == 2 and "unexpected argument '--bogus'" in p.stderr


def test_simulate_and_open_dataset(data):
    ds = dcc.open_dataset(data)
    assert ds.images.shape == (48, 3, 32, 32) and ds.images.dtype == np.float32
    assert list(ds.sets) == ["bahamas-cdm", "bahamas-1"]
    assert ds.sets["bahamas-1"][0] == 1.0 and len(ds.sets["bahamas-cdm"][1]) == 24
    assert ds.kept.tolist() == list(range(48))
    assert ds.catalog["set"][0] == "bahamas-cdm"


def test_bad_input_raises_dcc_error_with_dccs_message(tmp_path):
    with pytest.raises(dcc.DccError, match="not a dcc run directory"):
        dcc.Run(tmp_path)
    (tmp_path / "images.npy").write_bytes(b"not numpy")
    (tmp_path / "catalog.csv").write_text("set,sigma\n")
    with pytest.raises(dcc.DccError, match="images.npy"):
        dcc.open_dataset(tmp_path)
    with pytest.raises(dcc.DccError, match="images.npy"):
        dcc.train(tmp_path, tmp_path / "run", known="a")
    assert not (tmp_path / "run").exists()  # nothing half-made
    with pytest.raises(ValueError, match="unexpected argument '--bogus'"):
        dcc.command("train", bogus=1)


def test_run_describes_itself(run):
    assert run.members == 2 and run.input_shape == (2, 32, 32) and run.channels == [2, 0]
    assert run.config["config"]["ensemble"] == 2
    assert "members=2" in repr(run)


def test_encode_equals_dccs_own_latents(run, data):
    z, rows = run.latents(data, no_augment=True)
    assert z.shape[0] == 2 and z.shape[1] == len(rows) > 0
    idx = [int(r["image_index"]) for r in rows]
    images = np.load(Path(data) / "images.npy")[idx]
    mine = run.encode(images)  # the data's three channels: the run's two are picked
    assert mine.shape == z.shape and mine.dtype == np.float32
    scale = np.abs(z).max()
    assert scale > 0
    assert np.abs(mine - z).max() <= 1e-5 * scale
    # Already-selected channels, float64, unnormalised: the same latents.
    picked = images[:, [2, 0]].astype(np.float64) * 1e12
    np.testing.assert_allclose(run.encode(picked, members=[1]), z[1:], atol=1e-5 * scale, rtol=0)
    one = run.encode(images[0])
    assert one.shape == (2, 1, z.shape[2])


def test_encode_refuses_shapes_and_members_it_cannot_use(run):
    with pytest.raises(ValueError, match=r"the run takes N×2×32×32 \(or N×C×32×32 holding data channels \[2, 0\]\)"):
        run.encode(np.zeros((2, 3, 16, 16), np.float32))
    with pytest.raises(ValueError, match=r"member 5 does not exist; the run has 2 \(0..1\)"):
        run.encode(np.zeros((1, 2, 32, 32), np.float32), members=[5])
    with pytest.raises(ValueError, match="N×C×H×W"):
        run.encode(np.zeros((32, 32)))


def test_infer_returns_infer_json_and_leaves_the_runs_file_alone(run, data, work):
    before = (run.path / "infer.json").read_bytes() if (run.path / "infer.json").exists() else None
    result = run.infer(data, knn_k=3)
    assert result["schema"].startswith("dcc-infer/")
    names = [s["name"] for s in result["sets"]]
    assert "bahamas-cdm" in names and "bahamas-1" in names
    after = (run.path / "infer.json").read_bytes() if (run.path / "infer.json").exists() else None
    assert after == before
    # json= writes where it is told, and the module-level function is the same call.
    out = work / "elsewhere.json"
    same = dcc.infer(run.path, data, knn_k=3, json=out)
    assert json.loads(out.read_text()) == same
    assert [s["name"] for s in same["sets"]] == names


def test_dcc_releases_the_gil_while_it_works(run):
    images = np.random.default_rng(0).random((512, 2, 32, 32)).astype(np.float32)
    done = threading.Event()

    def work():
        for _ in range(3):
            run.encode(images)
        done.set()

    t = threading.Thread(target=work)
    ticks = 0
    start = time.perf_counter()
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0)
    t.join()
    elapsed = time.perf_counter() - start
    # While dcc encodes, this thread keeps running Python: with the GIL held it would
    # stall for the whole call.
    assert elapsed > 0.05, "encode finished too fast to tell"
    assert ticks > 1000, f"only {ticks} Python iterations in {elapsed:.2f} s of encoding"


def test_threads_are_sized_once(tmp_path):
    n = dcc.threads()
    dcc.set_threads(n)  # the same size again is fine
    with pytest.raises(dcc.DccError, match="already runs"):
        dcc.set_threads(n + 1)
    assert os.cpu_count() >= 1


def test_nearest_and_kernel_sums_match_numpy():
    rng = np.random.default_rng(4)
    q = rng.normal(size=(37, 7)).astype(np.float32)
    r = rng.normal(size=(1500, 7)).astype(np.float32)
    dist, idx = dcc.nearest(q, r, 5)
    full = np.sqrt(((q[:, None, :].astype(np.float64) - r[None, :, :]) ** 2).sum(-1))
    want = np.sort(full, axis=1)[:, :5]
    assert dist.shape == (37, 5) and idx.dtype == np.uint32
    np.testing.assert_allclose(dist, want, rtol=1e-6)
    np.testing.assert_allclose(full[np.arange(37)[:, None], idx], want, rtol=1e-6)
    s = dcc.kernel_sums(q, r, 0.7)
    np.testing.assert_allclose(s, np.exp(-full ** 2 / (2 * 0.7 ** 2)).sum(1), rtol=1e-5)
    with pytest.raises(dcc.DccError, match="reference latents"):
        dcc.nearest(q, r[:3], 5)
    with pytest.raises(ValueError, match="columns"):
        dcc.nearest(q, r[:, :3], 2)
