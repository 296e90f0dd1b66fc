"""Tests for tools/to_dcc.py on HDF5, FITS and pickle files it writes itself.

    DCC_BIN=target/release/dcc pytest -q tools/test_to_dcc.py

Each conversion is read back with numpy and, where the dcc binary exists, opened by
`dcc inspect`, so the output is checked by dcc's own reader. HDF5 and FITS tests skip
without h5py / astropy (CI installs both).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import to_dcc  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def run(*args):
    """to_dcc's exit status and output, as a user sees them."""
    return to_dcc.main([str(a) for a in args])


def read_catalog(path):
    """The catalog's header and rows (dcc's quoting rule inverted)."""
    import csv

    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def dcc_inspect(out):
    """dcc's own reader on the converted directory (skipped where no binary was built)."""
    path = Path(os.environ.get("DCC_BIN", REPO / "target" / "release" / "dcc"))
    if not path.is_file():
        assert "DCC_BIN" not in os.environ, f"DCC_BIN={path} does not exist"
        return None
    p = subprocess.run([str(path), "inspect", str(out), "--out", str(out / "inspect.png")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def maps(n, c=2, h=12, w=10, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w)) + 0.1


def test_hdf5_group_catalog_round_trips_and_dcc_reads_it(tmp_path, capsys):
    h5py = pytest.importorskip("h5py")
    x = maps(6)
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f["images"] = x.astype(">f8")  # big-endian float64, as some writers make them
        g = f.create_group("catalog")
        g["set"] = np.array([b"CDM", b"CDM", b"CDM", b"SIDM 0.1, hot", b"SIDM 0.1, hot", b"SIDM 0.1, hot"])
        g["sigma"] = np.array([0.0, 0, 0, 0.1, 0.1, 0.1])
        g["m200"] = np.arange(6) * 1e14
        g["per_image_pair"] = np.zeros((6, 2))  # not one value per image: dropped
    out = tmp_path / "ds"
    assert run("--out", out, tmp_path / "in.h5") == 0
    got = np.load(out / "images.npy")
    assert got.dtype == np.float32 and got.shape == (6, 2, 12, 10)
    np.testing.assert_array_equal(got, x.astype(np.float32))
    header, rows = read_catalog(out / "catalog.csv")
    assert header == ["set", "sigma", "m200"]
    assert [r[0] for r in rows] == ["CDM"] * 3 + ["SIDM 0.1, hot"] * 3
    assert [float(r[1]) for r in rows] == [0, 0, 0, 0.1, 0.1, 0.1]
    assert float(rows[5][2]) == 5e14
    assert "dropped per_image_pair" in capsys.readouterr().out
    shown = dcc_inspect(out)
    if shown is not None:
        assert "SIDM 0.1, hot" in shown and "CDM" in shown


def test_hdf5_channels_last_with_the_papers_column_names(tmp_path, capsys):
    h5py = pytest.importorskip("h5py")
    x = maps(5, c=3)
    with h5py.File(tmp_path / "paper.hdf5", "w") as f:
        f["maps"] = np.moveaxis(x, 1, 3)  # N×H×W×C
        f["sim"] = np.array(["CDM+baryons"] * 2 + ["SIDM1+baryons"] * 3, dtype=h5py.string_dtype())
        f["label"] = np.array([0, 0, 1, 1, 1.0])
        f["clusterID"] = np.arange(5, dtype=np.int64)
    out = tmp_path / "ds"
    assert run("--out", out, "--channels", "0,1", "--channel-names", "mass,xray", tmp_path / "paper.hdf5") == 0
    text = capsys.readouterr().out
    assert "read as nhwc" in text and "set names from column 'sim'" in text
    got = np.load(out / "images.npy")
    np.testing.assert_array_equal(got, x[:, :2].astype(np.float32))
    header, rows = read_catalog(out / "catalog.csv")
    assert header == ["set", "sigma", "clusterID", "norm_mass", "norm_xray"]
    assert rows[2][:3] == ["SIDM1+baryons", "1.0", "2"]
    assert float(rows[4][3]) == pytest.approx(got[4, 0].max())
    shown = dcc_inspect(out)
    if shown is not None:
        assert "mass" in shown and "xray" in shown


def test_fits_cube_with_a_table_and_single_maps_with_header_keywords(tmp_path):
    fits = pytest.importorskip("astropy.io.fits")
    from astropy.table import Table

    x = maps(4, c=1, h=9, w=11)
    table = Table({"set": ["A", "A", "B", "B"], "sigma": [0.3, 0.3, np.nan, np.nan]})
    fits.HDUList([fits.PrimaryHDU(x[:, 0]), fits.BinTableHDU(table)]).writeto(tmp_path / "cube.fits")
    single = maps(1, c=1, h=9, w=11, seed=5)[0, 0]
    hdu = fits.PrimaryHDU(single)
    hdu.header["SET"] = "C"
    hdu.header["SIGMA"] = 1.0
    hdu.writeto(tmp_path / "one.fits")
    out = tmp_path / "ds"
    assert run("--out", out, tmp_path / "cube.fits", tmp_path / "one.fits") == 0
    got = np.load(out / "images.npy")
    assert got.shape == (5, 1, 9, 11)
    np.testing.assert_array_equal(got[:4, 0], x[:, 0].astype(np.float32))
    np.testing.assert_array_equal(got[4, 0], single.astype(np.float32))
    header, rows = read_catalog(out / "catalog.csv")
    assert [(r[0], r[1]) for r in rows] == [("A", "0.3"), ("A", "0.3"), ("B", ""), ("B", ""), ("C", "1.0")]
    shown = dcc_inspect(out)
    if shown is not None:
        assert "unknown" in shown  # set B, whose sigma is NaN in the table


def paper_pickle(path, layout, n=6, with_sim=True):
    x = maps(n, c=3)
    labels = {
        "label": np.array([0.0] * (n // 2) + [0.1] * (n - n // 2)),
        "clusterID": np.arange(n),
        "mass": np.linspace(1, 2, n),
        "galaxy_catalogues": [np.zeros((k + 1, 3)) for k in range(n)],
    }
    if with_sim:
        labels["sim"] = np.array(["CDM_low+baryons"] * (n // 2) + ["SIDM0.1+baryons"] * (n - n // 2))
    images = np.moveaxis(x, 1, 3) if layout == "nhwc" else x
    with open(path, "wb") as fh:
        pickle.dump((labels, images), fh)
    return x


def test_the_papers_pickles_channels_last_and_per_simulation(tmp_path, capsys):
    x = paper_pickle(tmp_path / "all.pkl", "nhwc")
    out = tmp_path / "ds"
    assert run("--out", out, "--channels", "0,1", tmp_path / "all.pkl") == 0
    assert "dropped galaxy_catalogues" in capsys.readouterr().out
    np.testing.assert_array_equal(np.load(out / "images.npy"), x[:, :2].astype(np.float32))
    header, rows = read_catalog(out / "catalog.csv")
    assert header == ["set", "sigma", "clusterID", "mass"]
    assert rows[0][:2] == ["CDM_low+baryons", "0.0"] and rows[5][:2] == ["SIDM0.1+baryons", "0.1"]

    # The later per-simulation files: channels first, no 'sim' key, one file per set.
    y = paper_pickle(tmp_path / "cdm_hi_baryons.pkl", "nchw", n=4, with_sim=False)
    with open(tmp_path / "cdm_hi_baryons.pkl", "rb") as fh:
        labels, images = pickle.load(fh)
    labels["label"][:] = 0.0
    with open(tmp_path / "cdm_hi_baryons.pkl", "wb") as fh:
        pickle.dump((labels, images), fh)
    out2 = tmp_path / "ds2"
    assert run("--out", out2, "--layout", "nchw", tmp_path / "cdm_hi_baryons.pkl") == 0
    np.testing.assert_array_equal(np.load(out2 / "images.npy"), y.astype(np.float32))
    _, rows = read_catalog(out2 / "catalog.csv")
    assert {r[0] for r in rows} == {"cdm_hi_baryons"}
    if dcc_inspect(out) is not None:
        dcc_inspect(out2)


def test_a_set_with_several_sigmas_is_refused_or_split(tmp_path, capsys):
    x = maps(4)
    labels = {"sim": np.array(["vdSIDM"] * 4), "label": np.array([0.1, 0.2, 0.1, 0.2])}
    with open(tmp_path / "vd.pkl", "wb") as fh:
        pickle.dump((labels, x), fh)
    out = tmp_path / "ds"
    assert run("--out", out, tmp_path / "vd.pkl") == 1
    err = capsys.readouterr().err
    assert "set 'vdSIDM' has 2 sigma/m values (0.1, 0.2)" in err and "--split-by-sigma" in err
    assert not out.exists()
    assert run("--out", out, "--split-by-sigma", tmp_path / "vd.pkl") == 0
    _, rows = read_catalog(out / "catalog.csv")
    assert [r[0] for r in rows] == ["vdSIDM sigma=0.1", "vdSIDM sigma=0.2"] * 2


def test_withheld_sets_and_sets_named_on_the_command_line(tmp_path):
    with open(tmp_path / "cdm.pkl", "wb") as fh:
        pickle.dump({"images": maps(3)}, fh)
    with open(tmp_path / "mystery.pkl", "wb") as fh:
        pickle.dump({"images": maps(2, seed=1)}, fh)
    out = tmp_path / "ds"
    assert run("--out", out, "--sigma", "0.5", "--unknown", "mystery", tmp_path / "cdm.pkl", tmp_path / "mystery.pkl") == 0
    _, rows = read_catalog(out / "catalog.csv")
    assert [(r[0], r[1]) for r in rows] == [("cdm", "0.5")] * 3 + [("mystery", "")] * 2
    if dcc_inspect(out) is not None:
        assert "unknown" in dcc_inspect(out)


@pytest.mark.parametrize(
    "setup, flags, message",
    [
        ("nosigma", [], "no sigma/m column (looked for sigma, label); pass --sigma VALUE"),
        ("negative", [], "column 'label' row 1: sigma/m must be >= 0 and finite, found -1.0"),
        ("text", [], "column 'label' row 0: expected a number (sigma/m), found 'lots'"),
        ("ok", ["--channels", "0,5"], "--channels: channel 5 does not exist; the maps have 2 (0..1)"),
        ("ok", ["--layout", "nhw"], "--layout nhw needs a rank-3 array, found shape (2, 2, 12, 10)"),
        ("ok", ["--channel-names", "a"], "--channel-names: 1 name(s) for 2 channel(s)"),
        ("ok", ["--unknown", "nope"], "--unknown nope: no such set; sets: S"),
        ("garbage", [], "not HDF5, FITS or a pickle"),
        ("strings", [], "images are <U1 of shape (2,), expected a numeric array"),
    ],
)
def test_bad_input_is_named_and_nothing_is_written(tmp_path, capsys, setup, flags, message):
    path = tmp_path / "in.pkl"
    labels = {"sim": np.array(["S", "S"]), "label": np.array([0.0, 0.0])}
    images = maps(2)
    if setup == "nosigma":
        del labels["label"]
    elif setup == "negative":
        labels["label"] = np.array([0.0, -1.0])
    elif setup == "text":
        labels["label"] = np.array(["lots", "lots"])
    elif setup == "strings":
        images = np.array(["a", "b"])
    if setup == "garbage":
        path = tmp_path / "in.dat"
        path.write_bytes(b"hello world")
    else:
        with open(path, "wb") as fh:
            pickle.dump((labels, images), fh)
    out = tmp_path / "ds"
    assert run("--out", out, *flags, path) == 1
    err = capsys.readouterr().err
    assert message in err, err
    assert str(path) in err or message.startswith("--")
    assert not out.exists()


def test_inputs_of_different_sizes_and_an_existing_dataset_are_refused(tmp_path, capsys):
    for name, x in (("a.pkl", maps(2)), ("b.pkl", maps(2, h=13))):
        with open(tmp_path / name, "wb") as fh:
            pickle.dump({"images": x, "labels": {"sigma": np.zeros(2)}}, fh)
    out = tmp_path / "ds"
    assert run("--out", out, tmp_path / "a.pkl", tmp_path / "b.pkl") == 1
    assert "maps are 2x13x10 (CxHxW), but" in capsys.readouterr().err
    assert run("--out", out, tmp_path / "a.pkl") == 0
    before = (out / "images.npy").read_bytes()
    assert run("--out", out, tmp_path / "a.pkl") == 1
    assert "images.npy: already exists; pass --force" in capsys.readouterr().err
    assert (out / "images.npy").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["catalog.csv", "images.npy"]
    assert run("--out", out, "--force", "--dtype", "float64", tmp_path / "a.pkl") == 0
    assert np.load(out / "images.npy").dtype == np.float64


def test_cells_dcc_would_misread_are_quoted(tmp_path):
    labels = {"sim": np.array(["#hash", " edge", "semi;colon", 'say "hi"']), "label": np.zeros(4)}
    with open(tmp_path / "q.pkl", "wb") as fh:
        pickle.dump((labels, maps(4)), fh)
    out = tmp_path / "ds"
    assert run("--out", out, tmp_path / "q.pkl") == 0
    text = (out / "catalog.csv").read_text()
    assert '"#hash"' in text and '" edge"' in text and '"semi;colon"' in text and '"say ""hi"""' in text
    _, rows = read_catalog(out / "catalog.csv")
    assert [r[0] for r in rows] == ["#hash", " edge", "semi;colon", 'say "hi"']
    shown = dcc_inspect(out)
    if shown is not None:
        assert "#hash" in shown and "semi;colon" in shown
