//! The native half of the `dcc` Python module: dcc's command line run in-process, a run's
//! members encoding numpy arrays, datasets opened by dcc's own reader. Every call releases
//! the GIL while dcc works on its own rayon thread pool.

use ::dcc::cli;
use ::dcc::data::dataset::{Dataset, OpenOptions};
use ::dcc::dcc::infer::load_member;
use ::dcc::dcc::latents::encode;
use ::dcc::dcc::run::RunInfo;
use ::dcc::tensor::{Device, Pool};
use clap::Parser;
use numpy::ndarray::{Array1, Array2, Array3};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray2, PyReadonlyArray4,
    PyUntypedArrayMethods,
};
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::path::PathBuf;

create_exception!(
    _dcc,
    DccError,
    PyRuntimeError,
    "An error dcc reported: bad input (the file and the problem are named) or a failed run."
);

fn dcc_err(e: anyhow::Error) -> PyErr {
    DccError::new_err(format!("{e:#}"))
}

/// Runs a dcc command line (argv[0] is the program name) in this process and returns its
/// exit status. Errors raise DccError, or with print_errors are printed as the dcc command
/// prints them and give status 1.
#[pyfunction]
#[pyo3(signature = (argv, print_errors = false))]
fn run(py: Python<'_>, argv: Vec<String>, print_errors: bool) -> PyResult<i32> {
    let parsed = match cli::Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => {
            // --help and --version reach here too, with status 0.
            let code = e.exit_code();
            if print_errors || code == 0 {
                let _ = e.print();
                return Ok(code);
            }
            return Err(PyValueError::new_err(e.render().to_string()));
        }
    };
    match py.detach(|| cli::run(parsed)) {
        Ok(code) => Ok(code),
        Err(e) if print_errors => {
            eprintln!("error: {e:#}");
            Ok(1)
        }
        Err(e) => Err(dcc_err(e)),
    }
}

/// Sizes dcc's worker pool (once per process; later calls must ask for the same size).
#[pyfunction]
fn set_threads(py: Python<'_>, n: usize) -> PyResult<()> {
    py.detach(|| cli::set_threads(n)).map_err(dcc_err)
}

/// Worker threads dcc uses.
#[pyfunction]
fn threads() -> usize {
    ::dcc::cli::current_threads()
}

/// Opens a dataset directory with dcc's checks; returns (dims N,C,H,W, catalog columns,
/// catalog rows as strings).
#[pyfunction]
#[pyo3(signature = (path, skip_bad = false))]
#[allow(clippy::type_complexity)]
fn open_dataset(
    py: Python<'_>,
    path: PathBuf,
    skip_bad: bool,
) -> PyResult<([usize; 4], Vec<String>, Vec<Vec<String>>, Vec<usize>)> {
    py.detach(|| {
        let ds = Dataset::open(&path, &OpenOptions { skip_bad })?;
        let cat = ds.catalog();
        let mut kept: Vec<usize> = ds.sets().iter().flat_map(|s| s.indices.clone()).collect();
        kept.sort_unstable();
        Ok((ds.dims(), cat.columns.clone(), cat.rows.clone(), kept))
    })
    .map_err(dcc_err)
}

/// A trained run directory: its description and its ensemble members.
#[pyclass(module = "dcc._dcc", name = "Run", frozen)]
struct PyRun {
    path: PathBuf,
    info: RunInfo,
}

#[pymethods]
impl PyRun {
    #[new]
    fn new(path: PathBuf) -> PyResult<Self> {
        let info = RunInfo::load(&path).map_err(dcc_err)?;
        Ok(PyRun { path, info })
    }

    /// The run directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Ensemble members.
    #[getter]
    fn members(&self) -> usize {
        self.info.config.ensemble
    }

    /// The network's input (C, H, W).
    #[getter]
    fn input_shape(&self) -> (usize, usize, usize) {
        let [c, h, w] = self.info.input;
        (c, h, w)
    }

    /// The data channels the run trained on (None: all).
    #[getter]
    fn channels(&self) -> Option<Vec<usize>> {
        self.info.config.channels.clone()
    }

    /// The run description (config.json) as JSON text.
    fn config_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.info).map_err(|e| DccError::new_err(e.to_string()))
    }

    /// Latents (members × N × D, float32) of images N×C×H×W (float32, C order): with the
    /// network's C channels as they are, or with the data's channels, of which the run's
    /// are selected; each plane divided by its maximum; no augmentation.
    #[pyo3(signature = (images, members = None, device = "cpu"))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        images: PyReadonlyArray4<'py, f32>,
        members: Option<Vec<usize>>,
        device: &str,
    ) -> PyResult<Bound<'py, PyArray3<f32>>> {
        let shape = images.shape();
        let dims = [shape[0], shape[1], shape[2], shape[3]];
        let data = images
            .as_slice()
            .map_err(|_| PyValueError::new_err("images must be C-contiguous"))?;
        let members = members.unwrap_or_else(|| (0..self.info.config.ensemble).collect());
        if let Some(&k) = members.iter().find(|&&k| k >= self.info.config.ensemble) {
            return Err(PyValueError::new_err(format!(
                "member {k} does not exist; the run has {} (0..{})",
                self.info.config.ensemble,
                self.info.config.ensemble.saturating_sub(1)
            )));
        }
        let [c, h, w] = self.info.input;
        // Images holding exactly the network's channels are taken as already selected.
        let channels: Vec<usize> = match &self.info.config.channels {
            Some(sel) if dims[1] != c => sel.clone(),
            _ => (0..dims[1]).collect(),
        };
        if [channels.len(), dims[2], dims[3]] != [c, h, w] {
            return Err(PyValueError::new_err(format!(
                "images are {}×{}×{}×{}; the run takes N×{c}×{h}×{w}{}",
                dims[0],
                dims[1],
                dims[2],
                dims[3],
                match &self.info.config.channels {
                    Some(sel) => format!(" (or N×C×{h}×{w} holding data channels {sel:?})"),
                    None => String::new(),
                }
            )));
        }
        let (path, info) = (&self.path, &self.info);
        let (latents, d) = py
            .detach(|| -> anyhow::Result<(Vec<f32>, usize)> {
                let pool = Pool::on(Device::select(device)?)?;
                let mut all = Vec::new();
                let mut d = 0;
                for &k in &members {
                    let net = load_member(info, path, k)?;
                    d = net.latent_dim;
                    all.extend(encode(&net, data, dims, &channels, &pool)?);
                }
                Ok((all, d))
            })
            .map_err(dcc_err)?;
        let arr = Array3::from_shape_vec((members.len(), dims[0], d), latents)
            .map_err(|e| DccError::new_err(e.to_string()))?;
        Ok(arr.into_pyarray(py))
    }
}

fn rows<'a>(a: &'a PyReadonlyArray2<'_, f32>, what: &str) -> PyResult<(&'a [f32], usize, usize)> {
    let shape = a.shape();
    let data = a
        .as_slice()
        .map_err(|_| PyValueError::new_err(format!("{what} must be C-contiguous")))?;
    Ok((data, shape[0], shape[1]))
}

/// The k nearest reference rows of every query row (float32, N×D and M×D): distances
/// (N×k float32, ascending) and reference indices (N×k uint32). Tiled, exact f32, no N×M
/// matrix; on a GPU (device "cuda") for D ≤ 16 and k ≤ 64.
#[pyfunction]
#[pyo3(signature = (queries, refs, k, device = "cpu"))]
#[allow(clippy::type_complexity)]
fn nearest<'py>(
    py: Python<'py>,
    queries: PyReadonlyArray2<'py, f32>,
    refs: PyReadonlyArray2<'py, f32>,
    k: usize,
    device: &str,
) -> PyResult<(Bound<'py, PyArray2<f32>>, Bound<'py, PyArray2<u32>>)> {
    let (q, n, d) = rows(&queries, "queries")?;
    let (r, _, dr) = rows(&refs, "refs")?;
    if d != dr {
        return Err(PyValueError::new_err(format!(
            "queries have {d} columns but refs have {dr}"
        )));
    }
    let nb = py
        .detach(|| {
            let pool = Pool::on(Device::select(device)?)?;
            ::dcc::dcc::knn::nearest_on(&pool, q, r, d, k, false)
        })
        .map_err(dcc_err)?;
    let dist =
        Array2::from_shape_vec((n, k), nb.dist).map_err(|e| DccError::new_err(e.to_string()))?;
    let index =
        Array2::from_shape_vec((n, k), nb.index).map_err(|e| DccError::new_err(e.to_string()))?;
    Ok((dist.into_pyarray(py), index.into_pyarray(py)))
}

/// Σ_j exp(−‖q − r_j‖² / (2h²)) for every query row over all reference rows (float64,
/// unnormalised Gaussian kernel sums), tile by tile; on a GPU for D ≤ 16.
#[pyfunction]
#[pyo3(signature = (queries, refs, bandwidth, device = "cpu"))]
fn kernel_sums<'py>(
    py: Python<'py>,
    queries: PyReadonlyArray2<'py, f32>,
    refs: PyReadonlyArray2<'py, f32>,
    bandwidth: f32,
    device: &str,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let (q, _, d) = rows(&queries, "queries")?;
    let (r, _, dr) = rows(&refs, "refs")?;
    if d != dr {
        return Err(PyValueError::new_err(format!(
            "queries have {d} columns but refs have {dr}"
        )));
    }
    let sums = py
        .detach(|| {
            let pool = Pool::on(Device::select(device)?)?;
            ::dcc::ops::pairwise::gaussian_sums(&pool, q, r, d, bandwidth)
        })
        .map_err(dcc_err)?;
    Ok(Array1::from_vec(sums).into_pyarray(py))
}

/// The `dcc._dcc` extension module.
#[pymodule]
fn _dcc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("DccError", m.py().get_type::<DccError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(set_threads, m)?)?;
    m.add_function(wrap_pyfunction!(threads, m)?)?;
    m.add_function(wrap_pyfunction!(open_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(nearest, m)?)?;
    m.add_function(wrap_pyfunction!(kernel_sums, m)?)?;
    m.add_class::<PyRun>()?;
    Ok(())
}
