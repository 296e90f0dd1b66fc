//! Dataset directories: `images.npy` (N×C×H×W, memory-mapped) beside `catalog.csv` (one
//! row per image). Owns opening and validating a directory, the simulation sets it holds
//! and per-image access; batching and augmentation belong to `loader`.

pub use super::catalog::{read_catalog, write_catalog, Catalog};
use super::npy::{write_npy_f32, NpyArray};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// File name of the image array inside a dataset directory.
pub const IMAGES_FILE: &str = "images.npy";
/// File name of the catalog inside a dataset directory.
pub const CATALOG_FILE: &str = "catalog.csv";

/// How strictly `Dataset::open` treats bad images.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// Skip images holding NaN or ±Inf (and report how many) instead of refusing the dataset.
    pub skip_bad: bool,
}

/// One simulation set: a name, its σ/m (None when withheld) and its images.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulationSet {
    /// The `set` value in the catalog.
    pub name: String,
    /// σ/m in cm²/g, or None for an unknown set.
    pub sigma: Option<f64>,
    /// Indices (rows of the catalog, images of the array) of its usable images.
    pub indices: Vec<usize>,
}

/// An opened dataset directory.
pub struct Dataset {
    dir: PathBuf,
    images: NpyArray,
    dims: [usize; 4],
    catalog: Catalog,
    sets: Vec<SimulationSet>,
    set_of: Vec<Option<usize>>,
    skipped: Vec<usize>,
}

impl Dataset {
    /// Opens `dir`, validating the array, the catalog and that they agree.
    pub fn open(dir: &Path, options: &OpenOptions) -> Result<Dataset> {
        let images_path = dir.join(IMAGES_FILE);
        let catalog_path = dir.join(CATALOG_FILE);
        if dir.is_file() {
            bail!(
                "{}: is a file; a dataset is a directory holding {IMAGES_FILE} and {CATALOG_FILE} (docs/data.md)",
                dir.display()
            );
        }
        if !dir.is_dir() {
            bail!(
                "{}: no such directory; a dataset is a directory holding {IMAGES_FILE} and {CATALOG_FILE} (docs/data.md)",
                dir.display()
            );
        }
        let images = NpyArray::open(&images_path)?;
        let dims: [usize; 4] = images.dims().try_into().map_err(|_| {
            anyhow::anyhow!(
                "{}: expected a rank-4 array N×C×H×W, found rank {} with shape {:?}",
                images_path.display(),
                images.dims().len(),
                images.dims()
            )
        })?;
        let [n, c, h, w] = dims;
        if n == 0 {
            bail!(
                "{}: the dataset holds no images (N = 0)",
                images_path.display()
            );
        }
        if c == 0 || h == 0 || w == 0 {
            bail!(
                "{}: empty image shape C×H×W = {c}×{h}×{w}",
                images_path.display()
            );
        }
        let catalog = read_catalog(&catalog_path)?;
        if catalog.rows.len() != n {
            bail!(
                "{}: {} rows, but {} holds N = {n} images (one row per image expected)",
                catalog_path.display(),
                catalog.rows.len(),
                images_path.display()
            );
        }
        let mut skipped = Vec::new();
        let per = c * h * w;
        for i in 0..n {
            if let Some(j) = images.first_non_finite(i * per, per) {
                if !options.skip_bad {
                    let (ch, y, x) = (j / (h * w), j / w % h, j % w);
                    bail!(
                        "{}: image {i} holds a non-finite value (NaN, Inf, or a float64 beyond \
                         float32 range) at channel {ch}, row {y}, column {x}; fix the data or \
                         open with skip_bad (--skip-bad) to skip such images",
                        images_path.display()
                    );
                }
                skipped.push(i);
            }
        }
        let (sets, set_of) = collect_sets(&catalog, &catalog_path, &skipped)?;
        Ok(Dataset {
            dir: dir.to_path_buf(),
            images,
            dims,
            catalog,
            sets,
            set_of,
            skipped,
        })
    }

    /// The directory this dataset was opened from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// N×C×H×W of the image array (N counts skipped images too).
    pub fn dims(&self) -> [usize; 4] {
        self.dims
    }

    /// Number of images in the file (usable and skipped).
    pub fn len(&self) -> usize {
        self.dims[0]
    }

    /// Whether the file holds no images (never true for an opened dataset).
    pub fn is_empty(&self) -> bool {
        self.dims[0] == 0
    }

    /// Channels per image.
    pub fn channels(&self) -> usize {
        self.dims[1]
    }

    /// Values per image (C·H·W).
    pub fn image_len(&self) -> usize {
        self.dims[1] * self.dims[2] * self.dims[3]
    }

    /// Copies image `index` (C×H×W, converted to f32) into `out`.
    pub fn read_image(&self, index: usize, out: &mut [f32]) -> Result<()> {
        let per = self.image_len();
        if index >= self.len() || out.len() != per {
            bail!(
                "{}: image {index} into a buffer of {}: the array has {} images of {per} values",
                self.images.path().display(),
                out.len(),
                self.len()
            );
        }
        self.images.read_f32(index * per, out);
        Ok(())
    }

    /// Copies channel `channel` of image `index` (H×W) into `out`; indices must be valid.
    pub(crate) fn read_channel(&self, index: usize, channel: usize, out: &mut [f32]) {
        let hw = self.dims[2] * self.dims[3];
        self.images
            .read_f32(index * self.image_len() + channel * hw, out);
    }

    /// Image `index` as a new vector (C×H×W).
    pub fn image(&self, index: usize) -> Result<Vec<f32>> {
        let mut v = vec![0.0; self.image_len()];
        self.read_image(index, &mut v)?;
        Ok(v)
    }

    /// The simulation sets, in order of first appearance in the catalog.
    pub fn sets(&self) -> &[SimulationSet] {
        &self.sets
    }

    /// The set of image `index`, or None if it was skipped.
    pub fn set_of(&self, index: usize) -> Option<usize> {
        self.set_of.get(index).copied().flatten()
    }

    /// Images skipped because they held NaN/Inf (with `skip_bad`).
    pub fn skipped(&self) -> &[usize] {
        &self.skipped
    }

    /// A name per channel: from the catalog's `norm_<name>` columns when there is one per
    /// channel (as `dcc simulate` writes them, in channel order), else "channel k".
    pub fn channel_names(&self) -> Vec<String> {
        let named: Vec<&str> = self
            .catalog
            .columns
            .iter()
            .filter_map(|c| c.strip_prefix("norm_"))
            .filter(|n| !n.is_empty())
            .collect();
        (0..self.dims[1])
            .map(|k| match named.get(k) {
                Some(n) if named.len() == self.dims[1] => n.to_string(),
                _ => format!("channel {k}"),
            })
            .collect()
    }

    /// The catalog as read (cells as text).
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Column `name` as numbers per image (None for an empty cell); an error if the column
    /// is missing or a cell is not a number.
    pub fn column_f64(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let path = self.dir.join(CATALOG_FILE);
        let i = self.catalog.column_index(name).with_context(|| {
            format!(
                "{}: no column '{name}' (columns: {})",
                path.display(),
                self.catalog.columns.join(", ")
            )
        })?;
        self.catalog
            .rows
            .iter()
            .enumerate()
            .map(|(r, row)| parse_cell(&row[i], name, r, &path))
            .collect()
    }

    /// Names of the columns whose every non-empty cell is a number (`sigma` included).
    pub fn numeric_columns(&self) -> Vec<String> {
        let cat = &self.catalog;
        // pandas writes its row index as a column with a blank header (read back and
        // written again: "Unnamed: 0"); it numbers rows, it is not data.
        let index = |name: &str| name.trim().is_empty() || name.starts_with("Unnamed: ");
        (1..cat.columns.len())
            .filter(|&i| !index(&cat.columns[i]))
            .filter(|&i| {
                cat.rows
                    .iter()
                    .all(|r| r[i].is_empty() || r[i].parse::<f64>().is_ok())
                    && cat.rows.iter().any(|r| !r[i].is_empty())
            })
            .map(|i| cat.columns[i].clone())
            .collect()
    }
}

fn parse_cell(cell: &str, column: &str, row: usize, path: &Path) -> Result<Option<f64>> {
    if cell.is_empty() {
        return Ok(None);
    }
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => bail!(
            "{}: row {row} (line {}): column '{column}' holds '{cell}', expected a finite number or an empty cell",
            path.display(),
            row + 2
        ),
    }
}

type SetTable = (Vec<SimulationSet>, Vec<Option<usize>>);

/// Groups usable rows by `set`, checking names and that σ/m is consistent within a set.
fn collect_sets(catalog: &Catalog, path: &Path, skipped: &[usize]) -> Result<SetTable> {
    let mut sets: Vec<SimulationSet> = Vec::new();
    let mut first_row: Vec<usize> = Vec::new();
    let mut set_of = vec![None; catalog.rows.len()];
    let mut skipped_per_set: Vec<usize> = Vec::new();
    for (r, row) in catalog.rows.iter().enumerate() {
        let name = &row[0];
        if name.is_empty() {
            bail!(
                "{}: row {r} (line {}): empty 'set' name",
                path.display(),
                r + 2
            );
        }
        let sigma = parse_cell(&row[1], "sigma", r, path)?;
        if let Some(s) = sigma {
            if s < 0.0 {
                bail!(
                    "{}: row {r} (line {}): sigma {s} is negative; σ/m is in cm²/g, ≥ 0",
                    path.display(),
                    r + 2
                );
            }
        }
        let k = match sets.iter().position(|s| &s.name == name) {
            Some(k) => {
                if sets[k].sigma != sigma {
                    bail!(
                        "{}: set '{name}' has sigma {} in row {} but {} in row {r}; one σ/m per set",
                        path.display(),
                        sets[k].sigma.map_or("(empty)".into(), |v| v.to_string()),
                        first_row[k],
                        sigma.map_or("(empty)".into(), |v| v.to_string())
                    );
                }
                k
            }
            None => {
                sets.push(SimulationSet {
                    name: name.clone(),
                    sigma,
                    indices: Vec::new(),
                });
                first_row.push(r);
                skipped_per_set.push(0);
                sets.len() - 1
            }
        };
        if skipped.binary_search(&r).is_ok() {
            skipped_per_set[k] += 1;
        } else {
            sets[k].indices.push(r);
            set_of[r] = Some(k);
        }
    }
    if let Some(s) = sets.iter().position(|s| s.indices.is_empty()) {
        bail!(
            "{}: set '{}' is empty: all {} of its images were skipped as non-finite",
            path.display(),
            sets[s].name,
            skipped_per_set[s]
        );
    }
    Ok((sets, set_of))
}

/// Writes a whole dataset directory (creating it), each file atomically; `images` is
/// N×C×H×W flat in C order with N = catalog rows.
pub fn write_dataset(
    dir: &Path,
    dims: [usize; 4],
    images: &[f32],
    catalog: &Catalog,
) -> Result<()> {
    if catalog.rows.len() != dims[0] {
        bail!(
            "{}: the catalog has {} rows for N = {} images",
            dir.display(),
            catalog.rows.len(),
            dims[0]
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    write_npy_f32(&dir.join(IMAGES_FILE), &dims, images)?;
    write_catalog(&dir.join(CATALOG_FILE), catalog)
}

/// Set names from command-line values: each value is a set's name when it names one of
/// `available` exactly (so names may hold commas), and a comma-separated list otherwise;
/// names are trimmed, empty ones and repeats dropped ("a, b", "a,,b" and "a --x b" mean a
/// and b).
pub fn split_set_names(values: &[String], available: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let whole = v.trim();
        let parts: Vec<&str> = if available.contains(&whole) {
            vec![whole]
        } else {
            whole.split(',').map(str::trim).collect()
        };
        for p in parts {
            if !p.is_empty() && !out.iter().any(|o| o == p) {
                out.push(p.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "dataset_tests.rs"]
pub(crate) mod tests;
