//! Shapes, contiguous row-major f32 tensors and the device they live on.
//! Knows nothing of autograd or layers.

mod pool;

pub use pool::{Buffer, Pool, PoolStats};

use anyhow::{bail, Result};
use std::fmt;

/// Most dimensions a tensor may have.
pub const MAX_RANK: usize = 6;

/// A tensor's dimensions, outermost first (NCHW for images).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [usize; MAX_RANK],
    rank: u8,
}

impl Shape {
    /// A shape from its dimensions; panics above `MAX_RANK` (a programming error).
    pub fn new(dims: &[usize]) -> Self {
        assert!(dims.len() <= MAX_RANK, "rank {} > {}", dims.len(), MAX_RANK);
        let mut d = [0; MAX_RANK];
        d[..dims.len()].copy_from_slice(dims);
        Shape {
            dims: d,
            rank: dims.len() as u8,
        }
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.rank as usize]
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.rank as usize
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.dims().iter().product()
    }

    /// Dimension `i`.
    pub fn dim(&self, i: usize) -> usize {
        self.dims()[i]
    }

    /// The four dimensions of an NCHW shape, or an error naming `what`.
    pub fn nchw(&self, what: &str) -> Result<[usize; 4]> {
        match self.dims() {
            &[n, c, h, w] => Ok([n, c, h, w]),
            _ => bail!("{what}: expected an N×C×H×W tensor, found shape {self}"),
        }
    }

    /// The two dimensions of a matrix shape, or an error naming `what`.
    pub fn matrix(&self, what: &str) -> Result<[usize; 2]> {
        match self.dims() {
            &[r, c] => Ok([r, c]),
            _ => bail!("{what}: expected a 2-D tensor, found shape {self}"),
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.dims().iter().enumerate() {
            if i > 0 {
                write!(f, "×")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Self {
        Shape::new(d)
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(d: [usize; N]) -> Self {
        Shape::new(&d)
    }
}

/// Where a tensor's storage lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    /// Host memory, CPU kernels (rayon).
    Cpu,
    /// An NVIDIA GPU by ordinal (CUDA kernels through NVRTC).
    Cuda(usize),
}

impl Device {
    /// Parses `auto`, `cpu`, `cuda` or `cuda:N`; says which device `auto` chose.
    pub fn select(spec: &str) -> Result<Device> {
        match spec {
            "cpu" => Ok(Device::Cpu),
            "auto" => {
                eprintln!("device auto: chose cpu (this build has no CUDA backend yet)");
                Ok(Device::Cpu)
            }
            s if s == "cuda" || s.starts_with("cuda:") => {
                bail!("device {s}: this build of dcc has no CUDA backend yet; use --device cpu")
            }
            s => bail!("device '{s}': expected auto, cpu, cuda or cuda:N"),
        }
    }
}

/// A contiguous row-major f32 tensor.
#[derive(Clone)]
pub struct Tensor {
    shape: Shape,
    buf: Buffer,
    device: Device,
}

impl Tensor {
    /// A tensor over `data`; errors if the length does not match the shape.
    pub fn from_vec(shape: impl Into<Shape>, data: Vec<f32>) -> Result<Tensor> {
        let shape = shape.into();
        if shape.numel() != data.len() {
            bail!(
                "shape {shape} needs {} values, found {}",
                shape.numel(),
                data.len()
            );
        }
        Ok(Tensor {
            shape,
            buf: Buffer::unpooled(data),
            device: Device::Cpu,
        })
    }

    /// A zero tensor outside any pool.
    pub fn zeros(shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        Tensor {
            shape,
            buf: Buffer::unpooled(vec![0.0; shape.numel()]),
            device: Device::Cpu,
        }
    }

    /// A tensor filled with `v`, outside any pool.
    pub fn full(shape: impl Into<Shape>, v: f32) -> Tensor {
        let shape = shape.into();
        Tensor {
            shape,
            buf: Buffer::unpooled(vec![v; shape.numel()]),
            device: Device::Cpu,
        }
    }

    /// A tensor from the pool with unspecified contents: the caller writes every element.
    pub fn uninit_in(pool: &Pool, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        Tensor {
            shape,
            buf: pool.take(shape.numel()),
            device: Device::Cpu,
        }
    }

    /// A zero tensor from the pool.
    pub fn zeros_in(pool: &Pool, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        Tensor {
            shape,
            buf: pool.zeros(shape.numel()),
            device: Device::Cpu,
        }
    }

    /// A copy in the pool.
    pub fn copy_in(&self, pool: &Pool) -> Tensor {
        let mut t = Tensor::uninit_in(pool, self.shape);
        t.data_mut().copy_from_slice(self.data());
        t
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.numel()
    }

    /// The device holding the storage.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The elements, row-major.
    pub fn data(&self) -> &[f32] {
        self.buf.as_slice()
    }

    /// The elements, mutable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        self.buf.as_mut_slice()
    }

    /// The pool the storage returns to, if any.
    pub fn pool(&self) -> Option<&Pool> {
        self.buf.pool()
    }

    /// The same storage under another shape with the same element count.
    pub fn reshape(mut self, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape = shape.into();
        if shape.numel() != self.numel() {
            bail!("cannot reshape {} to {shape}", self.shape);
        }
        self.shape = shape;
        Ok(self)
    }

    /// Takes the elements out as a vector.
    pub fn into_vec(self) -> Vec<f32> {
        self.buf.into_vec()
    }

    /// The elements widened to f64 (for references and gradient checks).
    pub fn to_f64(&self) -> Vec<f64> {
        self.data().iter().map(|&v| v as f64).collect()
    }

    /// A tensor from f64 values, rounded to f32.
    pub fn from_f64(shape: impl Into<Shape>, data: &[f64]) -> Result<Tensor> {
        Tensor::from_vec(shape, data.iter().map(|&v| v as f32).collect())
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.data();
        write!(f, "Tensor{} {:?}", self.shape, &d[..d.len().min(8)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_reports_dims_and_rejects_wrong_rank() {
        let s = Shape::new(&[2, 3, 4, 5]);
        assert_eq!(s.numel(), 120);
        assert_eq!(s.nchw("x").unwrap(), [2, 3, 4, 5]);
        assert!(s.matrix("x").unwrap_err().to_string().contains("2-D"));
        assert_eq!(s.to_string(), "[2×3×4×5]");
    }

    #[test]
    fn from_vec_checks_length() {
        assert!(Tensor::from_vec([2, 2], vec![0.0; 3]).is_err());
        let t = Tensor::from_vec([2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let t = t.reshape([4]).unwrap();
        assert_eq!(t.dims(), &[4]);
    }
}
