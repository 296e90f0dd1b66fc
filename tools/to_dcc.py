#!/usr/bin/env python3
"""Convert HDF5 files, FITS image cubes and the paper's pickled datasets into a dcc dataset.

    python3 tools/to_dcc.py --out mydata maps.h5
    python3 tools/to_dcc.py --out mydata cdm.fits sidm1.fits --layout nhw
    python3 tools/to_dcc.py --out mydata bahamas.pkl --channels 0,1 --channel-names mass,xray

A dcc dataset is a directory holding images.npy (N×C×H×W) and catalog.csv (one row per
image: set, sigma, then any other columns); docs/data.md describes it. Each INPUT adds its
images in order; all must share C×H×W after --layout and --channels.

Where the images come from:
- HDF5 (h5py): the dataset named by --images, else the one numeric dataset of rank >= 2
  (or the one called images/maps when there are several).
- FITS (astropy): the image HDU named by --images (EXTNAME or index), else the first HDU
  holding an image.
- pickle: the paper's format, a tuple (labels, images) or a dict with an 'images' key;
  labels is a dict of per-image arrays ('sim' = set name, 'label' = sigma/m, 'clusterID',
  metadata). Unpickling runs code from the file: convert only files you trust.

Where the catalog comes from, per input: HDF5 - the group or compound dataset named by
--catalog, else a group called catalog/labels, else the file's 1-D datasets of length N;
FITS - the table HDU named by --catalog, else the first table with N rows, and header
keywords SET and SIGMA; pickle - the labels dict. Column 'set' may be called 'sim' or
'name', 'sigma' may be called 'label' (the paper's names). Missing columns come from --set
(default: the file's stem) and --sigma (a number, or 'unknown'); --unknown SET blanks the
sigma of a withheld set. Columns that are not one value per image (the paper's
galaxy_catalogues) are dropped and listed.

Layouts (--layout): nchw, nhwc (channels last, the paper's older pickles), nhw (one
channel per map), chw/hwc (one image per input), hw (one single-channel map per input).
auto: rank 4 is nhwc when the last axis is short (<= 16) and shorter than axis 1, else
nchw; rank 3 is nhw; rank 2 is hw. The choice is printed.

Nothing is left half-written: the arrays go to temporary names in OUT and are renamed
into place at the end; on an error they are removed and the message names the file, the
key and what was expected and found (exit status 1).
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import pickle
import sys
import warnings
from pathlib import Path

import numpy as np

CHUNK = 256  # images copied per step, so a cube larger than memory streams
SET_ALIASES = ("set", "sim", "name")
SIGMA_ALIASES = ("sigma", "label")
LAYOUTS = ("auto", "nchw", "nhwc", "nhw", "chw", "hwc", "hw")


class ConvertError(Exception):
    """A problem with the user's input, reported as one line without a traceback."""


# ---------------------------------------------------------------------------- inputs


class Part:
    """One input file: a sliceable image array, its layout and its catalog columns."""

    def __init__(self, path, images, columns, notes=(), closer=None):
        self.path = path
        self.images = images  # numpy array, h5py dataset or memmap; sliced along axis 0
        self.columns = columns  # name -> list of per-image values (after layout: len N)
        self.notes = list(notes)
        self.closer = closer
        self.layout = None
        self.n = None


def _need(module, package, what):
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ConvertError(f"reading {what} needs the {package} package: pip install {package}") from e


def _decode(v):
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("utf-8", errors="replace")
    return v


def _per_image_columns(path, source, items, n, notes):
    """Keeps the items that hold exactly one value per image; notes the rest as dropped."""
    columns, dropped = {}, []
    for name, value in items:
        arr = value
        if not isinstance(arr, np.ndarray):
            try:
                arr = np.asarray(value)
            except Exception:  # ragged lists of objects: not a column
                dropped.append(name)
                continue
        if arr.ndim == 1 and len(arr) == n and arr.dtype.kind in "biufSUO":
            values = [_decode(x.item() if isinstance(x, np.generic) else x) for x in arr]
            if arr.dtype.kind == "O" and not all(
                isinstance(x, (str, int, float, bool, type(None))) for x in values
            ):
                dropped.append(name)
                continue
            columns[str(name)] = values
        elif arr.ndim == 0 and arr.dtype.kind in "biufSU":
            columns[str(name)] = [_decode(arr.item())] * n
        else:
            dropped.append(name)
    if dropped:
        notes.append(f"{path}: {source}: dropped {', '.join(map(str, dropped))} (not one value per image)")
    return columns


def read_hdf5(path, args):
    h5py = _need("h5py", "h5py", "HDF5")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ConvertError(f"{path}: not a readable HDF5 file ({e})") from e
    datasets = {}

    def collect(name, obj):  # visititems stops at the first callback that returns a value
        if isinstance(obj, h5py.Dataset):
            datasets[name] = obj

    f.visititems(collect)
    if args.images:
        if args.images not in f or not isinstance(f[args.images], h5py.Dataset):
            raise ConvertError(
                f"{path}: no dataset '{args.images}' (--images); datasets: {', '.join(sorted(datasets)) or 'none'}"
            )
        images = f[args.images]
        key = args.images
    else:
        cands = {k: d for k, d in datasets.items() if d.ndim >= 2 and d.dtype.kind in "biuf"}
        for narrower in (
            lambda k, d: k.split("/")[-1].lower() in ("images", "maps"),
            lambda k, d: d.ndim >= 3,
        ):
            if len(cands) > 1:
                kept = {k: d for k, d in cands.items() if narrower(k, d)}
                cands = kept or cands
        if len(cands) != 1:
            found = ", ".join(f"{k} {d.shape} {d.dtype}" for k, d in sorted(datasets.items())) or "none"
            raise ConvertError(
                f"{path}: expected one numeric dataset of rank >= 2 holding the maps, found {found}; "
                "name it with --images"
            )
        key, images = next(iter(cands.items()))
    if images.dtype.kind not in "biuf":
        raise ConvertError(f"{path}: dataset '{key}' has dtype {images.dtype}, expected numbers")
    part = Part(path, images, {}, closer=f.close)
    part.key = key
    part.catalog_source = lambda n: _hdf5_catalog(f, path, key, n, args, part.notes, datasets)
    return part


def _hdf5_catalog(f, path, image_key, n, args, notes, datasets):
    h5py = sys.modules["h5py"]
    node = None
    if args.catalog:
        if args.catalog not in f:
            raise ConvertError(f"{path}: no group or dataset '{args.catalog}' (--catalog)")
        node = f[args.catalog]
    else:
        for name in ("catalog", "labels"):
            if name in f:
                node = f[name]
                break
    if node is None:
        items = [
            (k, d[()]) for k, d in datasets.items() if k != image_key and "/" not in k and d.ndim <= 1
        ]
        return _per_image_columns(path, "top-level datasets", items, n, notes)
    if isinstance(node, h5py.Group):
        items = [(k, v[()]) for k, v in node.items() if isinstance(v, h5py.Dataset)]
        return _per_image_columns(path, f"group '{node.name}'", items, n, notes)
    data = node[()]
    if data.dtype.names is None:
        raise ConvertError(
            f"{path}: '{node.name}' is a {data.dtype} dataset; --catalog expects a group of columns or a compound dataset"
        )
    if len(data) != n:
        raise ConvertError(f"{path}: catalog '{node.name}' has {len(data)} rows, expected {n} (one per image)")
    return _per_image_columns(path, f"'{node.name}'", [(c, data[c]) for c in data.dtype.names], n, notes)


def read_fits(path, args):
    fits = _need("astropy.io.fits", "astropy", "FITS")
    try:
        hdul = fits.open(path, memmap=True)
    except (OSError, ValueError) as e:
        raise ConvertError(f"{path}: not a readable FITS file ({e})") from e
    image_hdus = [
        (i, h) for i, h in enumerate(hdul) if h.is_image and h.header.get("NAXIS", 0) >= 2
    ]
    if args.images:
        key = int(args.images) if args.images.isdigit() else args.images
        try:
            hdu = hdul[key]
        except (KeyError, IndexError) as e:
            names = ", ".join(f"{i}:{h.name}" for i, h in enumerate(hdul))
            raise ConvertError(f"{path}: no HDU '{args.images}' (--images); HDUs: {names}") from e
        if not hdu.is_image or hdu.data is None:
            raise ConvertError(f"{path}: HDU '{args.images}' holds no image")
    elif image_hdus:
        hdu = image_hdus[0][1]
    else:
        names = ", ".join(f"{i}:{h.name} ({type(h).__name__})" for i, h in enumerate(hdul))
        raise ConvertError(f"{path}: expected an image HDU with at least 2 axes, found {names}")
    images = hdu.data
    if images is None or images.dtype.kind not in "biuf":
        raise ConvertError(f"{path}: HDU '{hdu.name}' holds no numeric image")
    part = Part(path, images, {}, closer=hdul.close)
    part.key = hdu.name

    def catalog(n):
        table = None
        if args.catalog:
            try:
                table = hdul[int(args.catalog) if args.catalog.isdigit() else args.catalog]
            except (KeyError, IndexError) as e:
                raise ConvertError(f"{path}: no table HDU '{args.catalog}' (--catalog)") from e
            if not isinstance(table, (fits.BinTableHDU, fits.TableHDU)):
                raise ConvertError(f"{path}: HDU '{args.catalog}' is not a table")
            if len(table.data) != n:
                raise ConvertError(f"{path}: table '{table.name}' has {len(table.data)} rows, expected {n}")
        else:
            for h in hdul:
                if isinstance(h, (fits.BinTableHDU, fits.TableHDU)) and h.data is not None and len(h.data) == n:
                    table = h
                    break
        columns = {}
        if table is not None:
            items = [(c.name, np.asarray(table.data[c.name])) for c in table.columns]
            columns = _per_image_columns(path, f"table '{table.name}'", items, n, part.notes)
        header = hdul[0].header
        for key, col in (("SET", "set"), ("SIGMA", "sigma")):
            if key in header and not any(a in columns for a in (SET_ALIASES if col == "set" else SIGMA_ALIASES)):
                columns[col] = [header[key]] * n
        return columns

    part.catalog_source = catalog
    return part


def read_pickle(path, args):
    try:
        with open(path, "rb") as fh:
            obj = pickle.load(fh)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as e:
        raise ConvertError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from e
    if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], dict):
        labels, images = obj
    elif isinstance(obj, dict) and "images" in obj:
        labels = obj.get("labels", {k: v for k, v in obj.items() if k != "images"})
        images = obj["images"]
    else:
        raise ConvertError(
            f"{path}: expected the paper's (labels dict, images array) tuple or a dict with 'images', "
            f"found {type(obj).__name__}"
        )
    images = np.asarray(images)
    if images.dtype.kind not in "biuf" or images.ndim < 2:
        raise ConvertError(f"{path}: images are {images.dtype} of shape {images.shape}, expected a numeric array")
    part = Part(path, images, {})
    part.key = "images"
    part.catalog_source = lambda n: _per_image_columns(path, "labels", list(labels.items()), n, part.notes)
    return part


READERS = {"hdf5": read_hdf5, "fits": read_fits, "pickle": read_pickle}


def detect_format(path):
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"SIMPLE "):
        return "fits"
    if head[:1] == b"\x80":
        return "pickle"
    suffix = path.suffix.lower()
    for fmt, suffixes in (("hdf5", (".h5", ".hdf5", ".hdf")), ("fits", (".fits", ".fit", ".fts")), ("pickle", (".pkl", ".pickle"))):
        if suffix in suffixes:
            return fmt
    raise ConvertError(f"{path}: not HDF5, FITS or a pickle (first bytes {head!r}); name the format with --format")


# ---------------------------------------------------------------------------- layout


def choose_layout(shape, requested, path):
    rank = len(shape)
    want = {"nchw": 4, "nhwc": 4, "nhw": 3, "chw": 3, "hwc": 3, "hw": 2}
    if requested != "auto":
        if want[requested] != rank:
            raise ConvertError(f"{path}: --layout {requested} needs a rank-{want[requested]} array, found shape {shape}")
        return requested
    if rank == 4:
        return "nhwc" if shape[-1] <= 16 and shape[-1] < shape[1] else "nchw"
    if rank == 3:
        return "nhw"
    if rank == 2:
        return "hw"
    raise ConvertError(f"{path}: images of shape {shape}: expected rank 2, 3 or 4")


def count_images(shape, layout):
    return shape[0] if layout in ("nchw", "nhwc", "nhw") else 1


def to_nchw(block, layout):
    """A block of images (already sliced along N where N exists) as N×C×H×W."""
    if layout == "nchw":
        return block
    if layout == "nhwc":
        return np.moveaxis(block, 3, 1)
    if layout == "nhw":
        return block[:, None]
    if layout == "chw":
        return block[None]
    if layout == "hwc":
        return np.moveaxis(block, 2, 0)[None]
    return block[None, None]  # hw


def chw_of(shape, layout):
    """C, H, W of one image under `layout` (the order of the letters in the layout's name)."""
    axes = dict(zip(layout, shape))
    return (axes.get("c", 1), axes["h"], axes["w"])


# ---------------------------------------------------------------------------- catalog


def pick(columns, aliases):
    for a in aliases:
        for name in columns:
            if name.lower() == a:
                return name
    return None


def sigma_cell(value, path, column, row):
    if value is None:
        return ""
    if isinstance(value, str):
        v = value.strip()
        if v == "" or v.lower() in ("nan", "unknown", "none"):
            return ""
        try:
            value = float(v)
        except ValueError as e:
            raise ConvertError(f"{path}: column '{column}' row {row}: expected a number (sigma/m), found '{value}'") from e
    value = float(value)
    if math.isnan(value):
        return ""
    if value < 0 or math.isinf(value):
        raise ConvertError(f"{path}: column '{column}' row {row}: sigma/m must be >= 0 and finite, found {value}")
    return repr(value)


def cell(value):
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def quote(text):
    # The same rule as dcc's catalog writer: a cell that holds a delimiter dcc may sniff, a
    # quote or a line break, starts with '#' (a comment to dcc) or has edge spaces is quoted.
    if any(c in text for c in ',";\t\n\r') or text.startswith((" ", "#")) or text.endswith(" "):
        return '"' + text.replace('"', '""') + '"'
    return text


def part_catalog(part, args):
    """Rows (set, sigma, extra columns dict) for one input, with its set and sigma resolved."""
    n = part.n
    columns = part.catalog_source(n)
    set_col = pick(columns, SET_ALIASES)
    sigma_col = pick(columns, SIGMA_ALIASES)
    if set_col and set_col.lower() != "set":
        part.notes.append(f"{part.path}: set names from column '{set_col}'")
    if sigma_col and sigma_col.lower() != "sigma":
        part.notes.append(f"{part.path}: sigma/m from column '{sigma_col}'")
    if args.set is not None:
        sets = [args.set] * n
    elif set_col:
        sets = [str(cell(v)) for v in columns[set_col]]
    else:
        sets = [Path(part.path).stem] * n
    for row, name in enumerate(sets):
        if not name.strip():
            raise ConvertError(f"{part.path}: column '{set_col}' row {row}: empty set name")
    if args.sigma is not None:
        sigmas = [sigma_cell(args.sigma, part.path, "--sigma", 0)] * n
    elif sigma_col:
        sigmas = [sigma_cell(v, part.path, sigma_col, i) for i, v in enumerate(columns[sigma_col])]
    else:
        raise ConvertError(
            f"{part.path}: no sigma/m column (looked for {', '.join(SIGMA_ALIASES)}); "
            "pass --sigma VALUE, or --sigma unknown for a set whose sigma/m is withheld"
        )
    extra = {k: v for k, v in columns.items() if k not in (set_col, sigma_col)}
    return sets, sigmas, extra


def check_sets(sets, sigmas, sources, split):
    """One sigma/m per set (dcc's rule), or one set per value with --split-by-sigma."""
    seen = {}
    for i, (s, g) in enumerate(zip(sets, sigmas)):
        seen.setdefault(s, {}).setdefault(g, i)
    for s, values in seen.items():
        if len(values) > 1:
            if split:
                for i in range(len(sets)):
                    if sets[i] == s:
                        sets[i] = f"{s} sigma={sigmas[i] or 'unknown'}"
                continue
            shown = ", ".join((g or "unknown") for g in list(values)[:5])
            first = [sources[i] for i in values.values()]
            raise ConvertError(
                f"{first[0]}: set '{s}' has {len(values)} sigma/m values ({shown}{', ...' if len(values) > 5 else ''}); "
                "dcc needs one per set: pass --split-by-sigma for one set per value, or --sigma to set it"
            )


# ---------------------------------------------------------------------------- main


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="to_dcc.py",
        description="Convert HDF5, FITS and the paper's pickles into a dcc dataset directory.",
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    p.add_argument("--out", required=True, type=Path, help="dataset directory to write")
    p.add_argument("--format", choices=("auto", "hdf5", "fits", "pickle"), default="auto")
    p.add_argument("--images", help="HDF5 dataset path or FITS HDU (name or index) holding the maps")
    p.add_argument("--catalog", help="HDF5 group/compound dataset or FITS table HDU holding the catalog")
    p.add_argument("--layout", choices=LAYOUTS, default="auto", help="axis order of the image array (default: auto)")
    p.add_argument("--set", help="set name for every image of every input (default: a set column, else the file's stem)")
    p.add_argument("--sigma", help="sigma/m for every image without a sigma column: a number or 'unknown'")
    p.add_argument("--unknown", action="append", default=[], metavar="SET", help="blank the sigma/m of SET (repeatable)")
    p.add_argument("--split-by-sigma", action="store_true", help="one set per sigma/m value where a set holds several")
    p.add_argument("--channels", help="channels to keep, e.g. 0,1 (default: all)")
    p.add_argument("--channel-names", help="names for the kept channels; adds norm_<name> columns (each map's maximum)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="images.npy dtype (default float32)")
    p.add_argument("--force", action="store_true", help="replace images.npy and catalog.csv already in --out")
    return p.parse_args(argv)


def parse_list(text, what):
    items = [t.strip() for t in text.split(",")]
    if any(not t for t in items):
        raise ConvertError(f"{what}: expected a comma-separated list, found '{text}'")
    return items


def convert(args):
    out = args.out
    if out.exists() and not out.is_dir():
        raise ConvertError(f"{out}: exists and is not a directory (--out names the dataset directory)")
    for name in ("images.npy", "catalog.csv"):
        if (out / name).exists() and not args.force:
            raise ConvertError(f"{out / name}: already exists; pass --force to replace it")
    parts = []
    try:
        for path in args.inputs:
            if not path.is_file():
                raise ConvertError(f"{path}: no such file")
            fmt = detect_format(path) if args.format == "auto" else args.format
            part = READERS[fmt](path, args)
            parts.append(part)
            part.layout = choose_layout(tuple(part.images.shape), args.layout, path)
            part.n = count_images(part.images.shape, part.layout)
            part.chw = chw_of(part.images.shape, part.layout)
            print(f"{path}: {fmt}, '{part.key}' {tuple(part.images.shape)} {part.images.dtype} read as {part.layout}: "
                  f"{part.n} image(s) of {part.chw[0]}x{part.chw[1]}x{part.chw[2]}")
        return write(parts, args)
    finally:
        for part in parts:
            if part.closer:
                part.closer()


def write(parts, args):
    chw = parts[0].chw
    channels = list(range(chw[0]))
    if args.channels:
        try:
            channels = [int(c) for c in parse_list(args.channels, "--channels")]
        except ValueError as e:
            raise ConvertError(f"--channels: expected channel numbers like 0,1, found '{args.channels}'") from e
    for part in parts:
        if part.chw != chw:
            raise ConvertError(
                f"{part.path}: maps are {part.chw[0]}x{part.chw[1]}x{part.chw[2]} (CxHxW), "
                f"but {parts[0].path} has {chw[0]}x{chw[1]}x{chw[2]}; every image of a dataset has the same size"
            )
    bad = [c for c in channels if not 0 <= c < chw[0]]
    if bad:
        raise ConvertError(f"--channels: channel {bad[0]} does not exist; the maps have {chw[0]} (0..{chw[0] - 1})")
    names = parse_list(args.channel_names, "--channel-names") if args.channel_names else None
    if names and len(names) != len(channels):
        raise ConvertError(f"--channel-names: {len(names)} name(s) for {len(channels)} channel(s)")

    sets, sigmas, extras, sources = [], [], [], []
    for part in parts:
        s, g, extra = part_catalog(part, args)
        sets += s
        sigmas += g
        sources += [part.path] * part.n
        extras.append(extra)
    for name in args.unknown:
        if name not in sets:
            raise ConvertError(f"--unknown {name}: no such set; sets: {', '.join(dict.fromkeys(sets))}")
        sigmas = ["" if s == name else g for s, g in zip(sets, sigmas)]
    check_sets(sets, sigmas, sources, args.split_by_sigma)

    n = sum(p.n for p in parts)
    if n == 0:
        raise ConvertError("the inputs hold no images")
    out = args.out
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    tmp_images, tmp_catalog = out / ".images.npy.partial", out / ".catalog.csv.partial"
    try:
        shape = (n, len(channels), chw[1], chw[2])
        arr = np.lib.format.open_memmap(tmp_images, mode="w+", dtype=np.dtype(args.dtype), shape=shape)
        maxima = np.zeros((n, len(channels)))
        bad_images, row = [], 0
        for part in parts:
            stacked = part.layout in ("nchw", "nhwc", "nhw")
            for start in range(0, part.n, CHUNK):
                src = part.images[start : min(start + CHUNK, part.n)] if stacked else part.images[()]
                block = to_nchw(np.asarray(src), part.layout)[:, channels].astype(args.dtype)
                arr[row : row + len(block)] = block
                finite = np.isfinite(block)
                bad_images += [row + i for i in np.flatnonzero(~finite.all(axis=(1, 2, 3)))]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN map's maximum is NaN
                    flat = np.where(finite, block, np.nan).reshape(len(block), len(channels), -1)
                    maxima[row : row + len(block)] = np.nanmax(flat, axis=2)
                row += len(block)
        arr.flush()
        del arr
        header = ["set", "sigma"]
        extra_names = []
        for extra in extras:
            for k in extra:
                if k not in extra_names and k.lower() not in ("set", "sigma"):
                    extra_names.append(k)
        norm_names = [f"norm_{c}" for c in names] if names else []
        clash = [c for c in norm_names if c in extra_names]
        if clash:
            raise ConvertError(f"--channel-names: the catalog already has a column {clash[0]}")
        header += extra_names + norm_names
        lines = [",".join(quote(h) for h in header)]
        row = 0
        for part, extra in zip(parts, extras):
            for i in range(part.n):
                cells = [sets[row], sigmas[row]]
                cells += [cell(extra[k][i]) if k in extra else "" for k in extra_names]
                cells += [repr(float(m)) for m in maxima[row]] if names else []
                lines.append(",".join(quote(c) for c in cells))
                row += 1
        with open(tmp_catalog, "w", encoding="utf-8", newline="") as fh:
            fh.write("\n".join(lines) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_images, out / "images.npy")
        os.replace(tmp_catalog, out / "catalog.csv")
    except BaseException:
        for t in (tmp_images, tmp_catalog):
            t.unlink(missing_ok=True)
        if made:
            try:
                out.rmdir()
            except OSError:
                pass
        raise

    for part in parts:
        for note in part.notes:
            print(note)
    print(f"wrote {out}: {n} image(s) of {len(channels)}x{chw[1]}x{chw[2]} ({args.dtype})")
    counts = {}
    for s, g in zip(sets, sigmas):
        counts.setdefault(s, [0, g])[0] += 1
    for s, (count, g) in counts.items():
        print(f"  {s}: {count} image(s), sigma/m {g or 'unknown'}")
    if bad_images:
        print(
            f"warning: {len(bad_images)} image(s) hold NaN/Inf pixels (first: image {bad_images[0]}); "
            "dcc refuses them unless given --skip-bad",
            file=sys.stderr,
        )
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        return convert(args)
    except ConvertError as e:
        print(f"to_dcc.py: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
