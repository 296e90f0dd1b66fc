//! The `.npy` format (version 1–3): a streaming float32 writer that lands files atomically,
//! and a memory-mapped reader for little-endian float32/float64 C-order arrays, so a
//! dataset larger than RAM is paged in on demand. Owns only the file format; what the
//! array means (images, a catalog) belongs to `dataset`.

use anyhow::{bail, Context, Result};
use memmap2::Mmap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 6] = b"\x93NUMPY";

pub(crate) use crate::files::temp_path;
pub use crate::files::{save_json, write_atomic};

/// Builds the version-1 header (magic, version, length, dict), padded to 64 bytes.
fn header_bytes(descr: &str, dims: &[usize]) -> Vec<u8> {
    let shape = match dims {
        [d] => format!("({d},)"),
        _ => {
            let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // numpy aligns the data to 64 bytes so that memory-mapped arrays are aligned.
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    dict.extend(std::iter::repeat_n(' ', pad));
    dict.push('\n');
    let mut out = Vec::with_capacity(unpadded + pad);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Streams a float32 C-order array into a `.npy` file through a temporary name.
pub struct NpyWriter {
    path: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
    expected: usize,
    written: usize,
}

impl NpyWriter {
    /// Creates `path` (through a temporary file) for a float32 C-order array of `dims`.
    pub fn create(path: &Path, dims: &[usize]) -> Result<NpyWriter> {
        let header = header_bytes("<f4", dims);
        if header.len() - 10 > u16::MAX as usize {
            bail!(
                "{}: shape {dims:?} has too many dimensions for an npy header",
                path.display()
            );
        }
        let tmp = temp_path(path);
        let file = File::create(&tmp).with_context(|| {
            format!(
                "{}: cannot create temporary file {}",
                path.display(),
                tmp.display()
            )
        })?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&header)
            .with_context(|| format!("{}: writing the npy header", tmp.display()))?;
        Ok(NpyWriter {
            path: path.to_path_buf(),
            tmp,
            out: Some(out),
            expected: dims.iter().product(),
            written: 0,
        })
    }

    /// Appends values in C order.
    pub fn write(&mut self, values: &[f32]) -> Result<()> {
        if self.written + values.len() > self.expected {
            bail!(
                "{}: the shape holds {} values but {} were written",
                self.path.display(),
                self.expected,
                self.written + values.len()
            );
        }
        let out = self.out.as_mut().expect("NpyWriter used after finish");
        let mut buf = [0u8; 4096];
        for chunk in values.chunks(1024) {
            for (b, v) in buf.chunks_exact_mut(4).zip(chunk) {
                b.copy_from_slice(&v.to_le_bytes());
            }
            out.write_all(&buf[..chunk.len() * 4])
                .with_context(|| format!("{}: writing values", self.tmp.display()))?;
        }
        self.written += values.len();
        Ok(())
    }

    /// Checks the count, flushes and renames into place.
    pub fn finish(mut self) -> Result<()> {
        if self.written != self.expected {
            bail!(
                "{}: the shape holds {} values but only {} were written",
                self.path.display(),
                self.expected,
                self.written
            );
        }
        let out = self.out.take().expect("NpyWriter finished twice");
        let file = out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("{}: flushing", self.tmp.display()))?;
        file.sync_all()
            .with_context(|| format!("{}: syncing", self.tmp.display()))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).with_context(|| {
            format!(
                "{}: renaming {} into place",
                self.path.display(),
                self.tmp.display()
            )
        })
    }
}

impl Drop for NpyWriter {
    fn drop(&mut self) {
        // An unfinished writer leaves no partial file behind.
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes a whole float32 C-order array to `path` atomically.
pub fn write_npy_f32(path: &Path, dims: &[usize], data: &[f32]) -> Result<()> {
    let mut w = NpyWriter::create(path, dims)?;
    w.write(data)?;
    w.finish()
}

/// Element type of an array this reader accepts (every one is read as f32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// IEEE half precision (`f2`).
    F16,
    /// float32 (`f4`).
    F32,
    /// float64 (`f8`).
    F64,
    /// Signed integers of 1, 2, 4 or 8 bytes (`i1` … `i8`).
    Int(u8),
    /// Unsigned integers of 1, 2, 4 or 8 bytes (`u1` … `u8`; `b1` booleans as 0/1).
    Uint(u8),
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F16 => 2,
            Dtype::F32 => 4,
            Dtype::F64 => 8,
            Dtype::Int(n) | Dtype::Uint(n) => n as usize,
        }
    }

    /// Parses a numpy `descr` such as `<f4`, `>i2` or `|u1`; returns the type and whether
    /// it is big-endian.
    fn parse(descr: &str) -> Result<(Dtype, bool)> {
        let (order, code) = match descr.chars().next() {
            Some(c @ ('<' | '>' | '=' | '|')) => (c, &descr[1..]),
            _ => ('=', descr),
        };
        let dtype = match code {
            "f2" | "e" => Dtype::F16,
            "f4" | "f" => Dtype::F32,
            "f8" | "d" => Dtype::F64,
            "b1" | "?" | "u1" | "B" => Dtype::Uint(1),
            "u2" => Dtype::Uint(2),
            "u4" => Dtype::Uint(4),
            "u8" => Dtype::Uint(8),
            "i1" | "b" => Dtype::Int(1),
            "i2" => Dtype::Int(2),
            "i4" => Dtype::Int(4),
            "i8" => Dtype::Int(8),
            _ => bail!(
                "unsupported dtype '{descr}': expected a float (f2, f4, f8) or integer (i1–i8, \
                 u1–u8) type; complex, string and object arrays are not maps"
            ),
        };
        // '=' is the writer's native order; every machine numpy runs on today is little-endian.
        Ok((dtype, order == '>' && dtype.size() > 1))
    }

    /// Element `b` (exactly `size()` bytes, in file order) as f32.
    fn decode(self, b: &[u8], big: bool) -> f32 {
        let mut a = [0u8; 8];
        let n = b.len();
        a[..n].copy_from_slice(b);
        if big {
            a[..n].reverse();
        }
        match self {
            Dtype::F16 => half::f16::from_le_bytes([a[0], a[1]]).to_f32(),
            Dtype::F32 => f32::from_le_bytes([a[0], a[1], a[2], a[3]]),
            Dtype::F64 => f64::from_le_bytes(a) as f32,
            Dtype::Uint(_) => u64::from_le_bytes(a) as f32,
            Dtype::Int(k) => {
                // Sign-extend from k bytes.
                let shift = 64 - 8 * k as u32;
                ((i64::from_le_bytes(a) << shift) >> shift) as f32
            }
        }
    }
}

/// A memory-mapped `.npy` array of floats or integers, either byte order, read as f32.
pub struct NpyArray {
    path: PathBuf,
    map: Mmap,
    offset: usize,
    dtype: Dtype,
    big_endian: bool,
    dims: Vec<usize>,
}

impl NpyArray {
    /// Maps `path` and checks its header and length.
    pub fn open(path: &Path) -> Result<NpyArray> {
        let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
        // SAFETY: the map is read-only; a file truncated by another process while mapped
        // is outside what this reader can defend against (as with numpy's memmap).
        let map = unsafe { Mmap::map(&file) }
            .with_context(|| format!("{}: cannot memory-map", path.display()))?;
        let (offset, (dtype, big_endian), dims) =
            parse_header(&map).with_context(|| format!("{}", path.display()))?;
        let numel: usize = dims.iter().product();
        let need = numel
            .checked_mul(dtype.size())
            .and_then(|n| n.checked_add(offset))
            .with_context(|| format!("{}: shape {dims:?} overflows", path.display()))?;
        if map.len() < need {
            bail!(
                "{}: truncated: shape {dims:?} of {dtype:?} needs {need} bytes, the file has {}",
                path.display(),
                map.len()
            );
        }
        if map.len() > need {
            bail!(
                "{}: {} unexpected bytes after the data of shape {dims:?}",
                path.display(),
                map.len() - need
            );
        }
        Ok(NpyArray {
            path: path.to_path_buf(),
            map,
            offset,
            dtype,
            big_endian,
            dims,
        })
    }

    /// The file this array was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The dimensions, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The element type on disk.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Whether the array holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies elements `start..start + out.len()` (flat C order) into `out` as f32.
    /// Panics if the range is outside the array (callers index by the checked shape).
    pub fn read_f32(&self, start: usize, out: &mut [f32]) {
        let size = self.dtype.size();
        let bytes = &self.map[self.offset + start * size..self.offset + (start + out.len()) * size];
        if self.dtype == Dtype::F32 && !self.big_endian && cfg!(target_endian = "little") {
            if let Ok(src) = bytemuck::try_cast_slice::<u8, f32>(bytes) {
                out.copy_from_slice(src);
                return;
            }
        }
        for (o, b) in out.iter_mut().zip(bytes.chunks_exact(size)) {
            *o = self.dtype.decode(b, self.big_endian);
        }
    }

    /// Reads the whole array as f32 (for small arrays and tests).
    pub fn to_vec_f32(&self) -> Vec<f32> {
        let mut v = vec![0.0; self.len()];
        self.read_f32(0, &mut v);
        v
    }

    /// Index of the first non-finite value in `start..start + len` at full precision
    /// (an f64 beyond f32 range is reported too, since it would become infinite).
    pub fn first_non_finite(&self, start: usize, len: usize) -> Option<usize> {
        let mut buf = vec![0f32; len.min(1 << 14)];
        let mut done = 0;
        while done < len {
            let n = buf.len().min(len - done);
            self.read_f32(start + done, &mut buf[..n]);
            if let Some(i) = buf[..n].iter().position(|v| !v.is_finite()) {
                return Some(done + i);
            }
            done += n;
        }
        None
    }
}

/// Parses the magic, version and header dict; returns (data offset, dtype, dims).
fn parse_header(b: &[u8]) -> Result<(usize, (Dtype, bool), Vec<usize>)> {
    if b.len() < 10 || &b[..6] != MAGIC {
        bail!("not an npy file (missing the \\x93NUMPY magic; is it truncated or another format?)");
    }
    let (len, start) = match b[6] {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        2 | 3 => {
            if b.len() < 12 {
                bail!("truncated npy header");
            }
            (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
        }
        v => bail!(
            "unsupported npy format version {v}.{} (expected 1, 2 or 3)",
            b[7]
        ),
    };
    if b.len() < start + len {
        bail!(
            "truncated npy header: it declares {len} bytes, the file has {}",
            b.len() - start
        );
    }
    let text = std::str::from_utf8(&b[start..start + len]).context("npy header is not text")?;
    let descr = dict_value(text, "descr")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let dtype = Dtype::parse(descr)?;
    let fortran = dict_value(text, "fortran_order")?;
    match fortran {
        "False" => {}
        "True" => bail!(
            "array is in Fortran order; only C order is read \
             (convert with np.save(path, np.ascontiguousarray(arr)))"
        ),
        v => bail!("fortran_order: expected True or False, found '{v}'"),
    }
    let shape = dict_value(text, "shape")?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .with_context(|| format!("shape: expected a tuple, found '{shape}'"))?;
    let mut dims = Vec::new();
    for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let d = part
            .trim_end_matches('L')
            .parse::<usize>()
            .with_context(|| format!("shape: '{part}' is not a dimension"))?;
        dims.push(d);
    }
    Ok((start + len, dtype, dims))
}

/// The raw text of `key`'s value in a Python dict literal of simple values.
fn dict_value<'a>(text: &'a str, key: &str) -> Result<&'a str> {
    let quoted = [format!("'{key}'"), format!("\"{key}\"")];
    let pos = quoted
        .iter()
        .find_map(|k| text.find(k.as_str()).map(|p| p + k.len()))
        .with_context(|| format!("npy header has no '{key}' entry: {}", text.trim()))?;
    let rest = text[pos..].trim_start();
    let rest = rest
        .strip_prefix(':')
        .with_context(|| format!("npy header: expected ':' after '{key}'"))?
        .trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')').map(|e| e + 1)
    } else if let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
        rest[1..].find(q).map(|e| e + 2)
    } else {
        rest.find([',', '}'])
    }
    .with_context(|| format!("npy header: unterminated value for '{key}'"))?;
    Ok(rest[..end].trim())
}

#[cfg(test)]
#[path = "npy_tests.rs"]
pub(crate) mod tests;
