//! Run-directory files: parameters and optimiser moments as safetensors, the per-member
//! state as JSON, and the epoch checkpoint written as a whole directory that replaces the
//! previous one only once complete (so `kill -9` at any moment leaves a usable one).

use super::run::RunInfo;
use crate::files::write_atomic;
use crate::nn::params::ParamStore;
use crate::tensor::Tensor;
use anyhow::{bail, Context, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Serialises named f32 tensors into safetensors bytes.
pub fn to_safetensors(named: &[(String, &[usize], &[f32])]) -> Result<Vec<u8>> {
    to_safetensors_with(named, None)
}

/// `to_safetensors` with a `__metadata__` header (string keys and values).
pub fn to_safetensors_with(
    named: &[(String, &[usize], &[f32])],
    metadata: Option<&HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let views: Vec<(String, TensorView)> = named
        .iter()
        .map(|(n, dims, data)| {
            let v = TensorView::new(Dtype::F32, dims.to_vec(), bytemuck::cast_slice(data))
                .map_err(|e| anyhow::anyhow!("safetensors view of {n}: {e:?}"))?;
            Ok((n.clone(), v))
        })
        .collect::<Result<_>>()?;
    let bytes =
        safetensors::serialize(views, &None).map_err(|e| anyhow::anyhow!("safetensors: {e:?}"))?;
    match metadata {
        Some(m) => with_metadata(bytes, m),
        None => Ok(bytes),
    }
}

/// `bytes` (a safetensors file) with `__metadata__` added to its header. Done here rather
/// than by the safetensors crate, whose HashMap would write the keys in a different order
/// in every process: weights must be byte-identical across runs (resume checks that).
fn with_metadata(bytes: Vec<u8>, metadata: &HashMap<String, String>) -> Result<Vec<u8>> {
    let n = u64::from_le_bytes(bytes[..8].try_into()?) as usize;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + n])?;
    // serde_json's Map is ordered by key, so the header text is deterministic.
    let meta: serde_json::Map<String, serde_json::Value> = metadata
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    header.insert("__metadata__".into(), serde_json::Value::Object(meta));
    let mut text = serde_json::to_vec(&header)?;
    // The data that follows starts 8-byte aligned, as the crate writes it.
    while (8 + text.len()) % 8 != 0 {
        text.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}

/// Writes a parameter store as safetensors (names from the store), with `metadata` in
/// the header (see `weights_metadata`).
pub fn save_params(
    path: &Path,
    params: &ParamStore,
    metadata: Option<&HashMap<String, String>>,
) -> Result<()> {
    // Device parameters are read back first (a no-op copy on the host).
    let host: Vec<Tensor> = params
        .tensors()
        .iter()
        .map(|t| t.to_host())
        .collect::<Result<_>>()?;
    let named: Vec<(String, &[usize], &[f32])> = params
        .names()
        .iter()
        .zip(&host)
        .map(|(n, t)| (n.clone(), t.dims(), t.data()))
        .collect();
    write_atomic(path, &to_safetensors_with(&named, metadata)?)
}

/// The `__metadata__` of a run's weights file, so the file explains itself outside dcc
/// (tools/dcc_torch.py reads it): format, dcc version, the network TOML, input C×H×W,
/// the input channels taken from the data, class names in logit order, the training sets
/// with σ/m, known flag and class, the σ/m label map and the member index. Values are
/// strings (safetensors allows no other); the structured ones are JSON.
pub fn weights_metadata(info: &RunInfo, member: usize) -> Result<HashMap<String, String>> {
    let c = &info.config;
    let sets: Vec<serde_json::Value> = info
        .sets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            serde_json::json!({
                "name": s.name,
                "sigma": s.sigma,
                "known": s.known,
                "class": info.class_of_set(i),
            })
        })
        .collect();
    let mut m = HashMap::new();
    m.insert("format".into(), "dcc-weights/1".into());
    m.insert("dcc_version".into(), env!("CARGO_PKG_VERSION").into());
    m.insert("network".into(), toml::to_string(&c.network)?);
    m.insert("input_chw".into(), serde_json::to_string(&info.input)?);
    m.insert("channels".into(), serde_json::to_string(&c.channels)?);
    m.insert(
        "classes".into(),
        serde_json::to_string(&info.class_names())?,
    );
    m.insert("sets".into(), serde_json::to_string(&sets)?);
    m.insert("label_map".into(), serde_json::to_string(&info.label_map)?);
    m.insert("member".into(), member.to_string());
    Ok(m)
}

/// The `__metadata__` of a safetensors file (empty when it has none).
pub fn read_metadata(path: &Path) -> Result<HashMap<String, String>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a valid safetensors file ({e:?})", path.display()))?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

/// Reads named f32 tensors from a safetensors file, checking each name and shape.
pub fn load_tensors(path: &Path, want: &[(String, Vec<usize>)]) -> Result<Vec<Vec<f32>>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a valid safetensors file ({e:?})", path.display()))?;
    want.iter()
        .map(|(name, dims)| {
            let t = st
                .tensor(name)
                .map_err(|_| anyhow::anyhow!("{}: tensor '{name}' is missing", path.display()))?;
            if t.dtype() != Dtype::F32 || t.shape() != dims.as_slice() {
                bail!(
                    "{}: tensor '{name}' is {:?} {:?}, expected F32 {:?}",
                    path.display(),
                    t.dtype(),
                    t.shape(),
                    dims
                );
            }
            Ok(t.data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect())
        })
        .collect()
}

/// Loads parameters saved by `save_params` into a store of the same architecture.
pub fn load_params(path: &Path, params: &mut ParamStore) -> Result<()> {
    let want: Vec<(String, Vec<usize>)> = params
        .names()
        .iter()
        .zip(params.tensors())
        .map(|(n, t)| (n.clone(), t.dims().to_vec()))
        .collect();
    let values = load_tensors(path, &want)?;
    for (t, v) in params.tensors_mut().iter_mut().zip(values) {
        // In place, so parameters on a GPU stay there.
        t.copy_from(&Tensor::from_vec(t.shape(), v)?)?;
    }
    Ok(())
}

/// The checkpoint directory of a run, and its staging and retired siblings.
pub struct CheckpointDir {
    /// The complete checkpoint.
    pub current: PathBuf,
    staging: PathBuf,
    retired: PathBuf,
}

impl CheckpointDir {
    /// The checkpoint directory inside `run`.
    pub fn new(run: &Path) -> CheckpointDir {
        CheckpointDir {
            current: run.join("checkpoint"),
            staging: run.join("checkpoint.staging"),
            retired: run.join("checkpoint.retired"),
        }
    }

    /// A fresh, empty staging directory to write the next checkpoint into.
    pub fn stage(&self) -> Result<&Path> {
        if self.staging.exists() {
            std::fs::remove_dir_all(&self.staging)
                .with_context(|| format!("clearing {}", self.staging.display()))?;
        }
        std::fs::create_dir_all(&self.staging)
            .with_context(|| format!("creating {}", self.staging.display()))?;
        Ok(&self.staging)
    }

    /// Makes the staged checkpoint the current one (two renames; see `existing`).
    pub fn commit(&self) -> Result<()> {
        if self.retired.exists() {
            std::fs::remove_dir_all(&self.retired)?;
        }
        if self.current.exists() {
            std::fs::rename(&self.current, &self.retired)
                .with_context(|| format!("retiring {}", self.current.display()))?;
        }
        std::fs::rename(&self.staging, &self.current)
            .with_context(|| format!("installing {}", self.current.display()))?;
        if self.retired.exists() {
            std::fs::remove_dir_all(&self.retired)?;
        }
        Ok(())
    }

    /// The newest complete checkpoint, if any: `checkpoint`, or `checkpoint.retired`
    /// when a crash fell between the two renames of `commit`.
    pub fn existing(&self) -> Option<&Path> {
        if self.current.is_dir() {
            Some(&self.current)
        } else if self.retired.is_dir() {
            Some(&self.retired)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_round_trip_bit_exactly_and_wrong_shapes_are_named() {
        let dir = std::env::temp_dir().join(format!("dcc-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut p = ParamStore::new();
        p.add(
            "a.weight",
            Tensor::from_vec([2, 3], vec![0.1, -2.5, 3.25, 1e-30, f32::MAX, 7.0]).unwrap(),
        );
        p.add("a.bias", Tensor::from_vec([2], vec![0.5, -0.5]).unwrap());
        let path = dir.join("w.safetensors");
        save_params(&path, &p, None).unwrap();
        let mut q = p.clone();
        q.tensors_mut()[0] = Tensor::zeros([2, 3]);
        load_params(&path, &mut q).unwrap();
        assert_eq!(q.tensors()[0].data(), p.tensors()[0].data());
        let mut r = ParamStore::new();
        r.add("a.weight", Tensor::zeros([3, 2]));
        let e = load_params(&path, &mut r).unwrap_err().to_string();
        assert!(e.contains("a.weight") && e.contains("[3, 2]"), "{e}");
        std::fs::write(dir.join("bad.safetensors"), b"garbage").unwrap();
        let e = load_params(&dir.join("bad.safetensors"), &mut r)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a valid safetensors"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn metadata_is_written_in_one_order_and_read_back() {
        let mut m = HashMap::new();
        for k in ["zeta", "alpha", "network", "member", "classes"] {
            m.insert(k.to_string(), format!("value of {k} with \"quotes\""));
        }
        let data = [1.0f32, 2.0, 3.0];
        let named = [("w".to_string(), &[3usize][..], &data[..])];
        let a = to_safetensors_with(&named, Some(&m)).unwrap();
        // A map built in another order serialises to the same bytes.
        let mut pairs: Vec<(String, String)> = m.clone().into_iter().collect();
        pairs.reverse();
        let m2: HashMap<String, String> = pairs.into_iter().collect();
        assert_eq!(a, to_safetensors_with(&named, Some(&m2)).unwrap());
        let st = SafeTensors::deserialize(&a).unwrap();
        assert_eq!(st.tensor("w").unwrap().shape(), [3]);
        let (n, meta) = SafeTensors::read_metadata(&a).unwrap();
        assert_eq!((8 + n) % 8, 0);
        assert_eq!(meta.metadata().as_ref().unwrap(), &m);
    }

    #[test]
    fn an_interrupted_commit_leaves_the_previous_checkpoint_usable() {
        let run = std::env::temp_dir().join(format!("dcc-ckdir-{}", std::process::id()));
        std::fs::create_dir_all(&run).unwrap();
        let c = CheckpointDir::new(&run);
        assert!(c.existing().is_none());
        std::fs::write(c.stage().unwrap().join("state.json"), "1").unwrap();
        c.commit().unwrap();
        // Simulate a crash after the first rename of the next commit.
        std::fs::write(c.stage().unwrap().join("state.json"), "2").unwrap();
        std::fs::rename(&c.current, &c.retired).unwrap();
        let found = c.existing().unwrap().join("state.json");
        assert_eq!(std::fs::read_to_string(found).unwrap(), "1");
        std::fs::remove_dir_all(&run).unwrap();
    }
}
