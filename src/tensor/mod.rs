//! Shapes, contiguous row-major f32 tensors and the device they live on.
//! Knows nothing of autograd or layers.

mod pool;

pub use pool::{Buffer, GpuBuffer, Pool, PoolStats};

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
    /// The CUDA kernels run on the CPU by the emulator (`tools/cuda-emu`): the GPU code
    /// path without a GPU, for tests and kernel debugging; slow.
    CudaEmu,
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
            Device::CudaEmu => write!(f, "cuda-emu"),
        }
    }
}

impl Device {
    /// Parses `auto`, `cpu`, `cuda`, `cuda:N` or `cuda-emu`; `auto` says what it chose and
    /// why, `cuda` without a usable GPU is an error that says why.
    pub fn select(spec: &str) -> Result<Device> {
        match spec {
            "cpu" => Ok(Device::Cpu),
            "cuda-emu" => Ok(Device::CudaEmu),
            "auto" => match crate::cuda::probe_cuda() {
                Ok(name) => {
                    eprintln!("device auto: chose cuda:0 ({name})");
                    Ok(Device::Cuda(0))
                }
                Err(why) => {
                    eprintln!("device auto: chose cpu ({why})");
                    Ok(Device::Cpu)
                }
            },
            s if s == "cuda" || s.starts_with("cuda:") => {
                let ordinal = match s.strip_prefix("cuda:") {
                    None => 0,
                    Some(n) => n.parse().map_err(|_| {
                        anyhow::anyhow!("device '{s}': expected cuda:N with N a GPU number")
                    })?,
                };
                if let Err(why) = crate::cuda::probe_cuda() {
                    bail!("device {s}: no usable GPU ({why}); use --device cpu");
                }
                Ok(Device::Cuda(ordinal))
            }
            s => bail!("device '{s}': expected auto, cpu, cuda, cuda:N or cuda-emu"),
        }
    }
}

enum Storage {
    Host(Buffer),
    Gpu(GpuBuffer),
}

/// A contiguous row-major f32 tensor, in host memory or on a GPU.
pub struct Tensor {
    shape: Shape,
    storage: Storage,
}

impl Clone for Tensor {
    /// A copy on the same device and pool; a device copy that fails (out of device
    /// memory) panics, so device code uses `try_clone`.
    fn clone(&self) -> Self {
        self.try_clone().expect("copying a device tensor")
    }
}

impl Tensor {
    fn host(shape: Shape, buf: Buffer) -> Tensor {
        Tensor {
            shape,
            storage: Storage::Host(buf),
        }
    }

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
        Ok(Tensor::host(shape, Buffer::unpooled(data)))
    }

    /// A zero tensor outside any pool.
    pub fn zeros(shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        Tensor::host(shape, Buffer::unpooled(vec![0.0; shape.numel()]))
    }

    /// A tensor filled with `v`, outside any pool.
    pub fn full(shape: impl Into<Shape>, v: f32) -> Tensor {
        let shape = shape.into();
        Tensor::host(shape, Buffer::unpooled(vec![v; shape.numel()]))
    }

    /// A host tensor from the pool with unspecified contents: the caller writes every element.
    pub fn uninit_in(pool: &Pool, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        Tensor::host(shape, pool.take(shape.numel()))
    }

    /// A host zero tensor from the pool.
    pub fn zeros_in(pool: &Pool, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        Tensor::host(shape, pool.zeros(shape.numel()))
    }

    /// A tensor on the pool's device (host or GPU) with unspecified contents.
    pub fn alloc_in(pool: &Pool, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape = shape.into();
        if pool.gpu().is_none() {
            return Ok(Tensor::uninit_in(pool, shape));
        }
        Ok(Tensor {
            shape,
            storage: Storage::Gpu(pool.take_gpu(shape.numel())?),
        })
    }

    /// A zero tensor on the pool's device.
    pub fn zeros_on(pool: &Pool, shape: impl Into<Shape>) -> Result<Tensor> {
        let t = Tensor::alloc_in(pool, shape)?;
        match &t.storage {
            Storage::Host(_) => {
                let mut t = t;
                t.data_mut().fill(0.0);
                Ok(t)
            }
            Storage::Gpu(b) => {
                b.gpu().driver().zero(b.ptr(), b.len() * 4)?;
                Ok(t)
            }
        }
    }

    /// A copy on the same device, in the same pool.
    pub fn try_clone(&self) -> Result<Tensor> {
        Ok(Tensor {
            shape: self.shape,
            storage: match &self.storage {
                Storage::Host(b) => Storage::Host(b.clone()),
                Storage::Gpu(b) => Storage::Gpu(b.try_clone()?),
            },
        })
    }

    /// A copy in the pool (on the pool's device: an upload, a download or a copy).
    pub fn copy_in(&self, pool: &Pool) -> Tensor {
        self.to_pool(pool)
            .expect("copying a tensor between devices")
    }

    /// A copy on `pool`'s device, from that pool.
    pub fn to_pool(&self, pool: &Pool) -> Result<Tensor> {
        let mut t = Tensor::alloc_in(pool, self.shape)?;
        match (&self.storage, &mut t.storage) {
            (Storage::Host(a), Storage::Host(b)) => b.as_mut_slice().copy_from_slice(a.as_slice()),
            (Storage::Host(a), Storage::Gpu(b)) => b
                .gpu()
                .driver()
                .htod(b.ptr(), bytemuck::cast_slice(a.as_slice()))?,
            (Storage::Gpu(a), Storage::Host(b)) => a
                .gpu()
                .driver()
                .dtoh(bytemuck::cast_slice_mut(b.as_mut_slice()), a.ptr())?,
            (Storage::Gpu(a), Storage::Gpu(b)) => {
                if a.gpu().device() != b.gpu().device() {
                    let host = self.to_host()?;
                    return host.to_pool(pool);
                }
                b.gpu().driver().dtod(b.ptr(), a.ptr(), a.len() * 4)?
            }
        }
        Ok(t)
    }

    /// A host copy outside any pool (a download for device tensors).
    pub fn to_host(&self) -> Result<Tensor> {
        match &self.storage {
            Storage::Host(b) => Ok(Tensor::host(
                self.shape,
                Buffer::unpooled(b.as_slice().to_vec()),
            )),
            Storage::Gpu(b) => {
                let mut v = vec![0f32; b.len()];
                b.gpu()
                    .driver()
                    .dtoh(bytemuck::cast_slice_mut(&mut v), b.ptr())?;
                Tensor::from_vec(self.shape, v)
            }
        }
    }

    /// Overwrites the elements with `src`'s (same shape, any devices).
    pub fn copy_from(&mut self, src: &Tensor) -> Result<()> {
        if src.shape != self.shape {
            bail!(
                "copy: source has shape {}, destination {}",
                src.shape,
                self.shape
            );
        }
        match (&mut self.storage, &src.storage) {
            (Storage::Host(d), Storage::Host(s)) => d.as_mut_slice().copy_from_slice(s.as_slice()),
            (Storage::Gpu(d), Storage::Host(s)) => d
                .gpu()
                .driver()
                .htod(d.ptr(), bytemuck::cast_slice(s.as_slice()))?,
            (Storage::Host(d), Storage::Gpu(s)) => s
                .gpu()
                .driver()
                .dtoh(bytemuck::cast_slice_mut(d.as_mut_slice()), s.ptr())?,
            (Storage::Gpu(d), Storage::Gpu(s)) => {
                if d.gpu().device() != s.gpu().device() {
                    let h = src.to_host()?;
                    return self.copy_from(&h);
                }
                d.gpu().driver().dtod(d.ptr(), s.ptr(), s.len() * 4)?
            }
        }
        Ok(())
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
        match &self.storage {
            Storage::Host(_) => Device::Cpu,
            Storage::Gpu(b) => b.gpu().device(),
        }
    }

    /// The GPU holding the storage, if any.
    pub fn gpu(&self) -> Option<&std::sync::Arc<crate::cuda::Gpu>> {
        match &self.storage {
            Storage::Host(_) => None,
            Storage::Gpu(b) => Some(b.gpu()),
        }
    }

    /// The device address of a GPU tensor (a bug to ask of a host tensor).
    pub fn ptr(&self) -> u64 {
        match &self.storage {
            Storage::Gpu(b) => b.ptr(),
            Storage::Host(_) => panic!("device address asked of a host tensor {}", self.shape),
        }
    }

    /// The elements, row-major (host tensors; a device tensor must be read with `to_host`).
    pub fn data(&self) -> &[f32] {
        match &self.storage {
            Storage::Host(b) => b.as_slice(),
            Storage::Gpu(b) => panic!(
                "host read of a tensor {} on {} (use to_host)",
                self.shape,
                b.gpu().device()
            ),
        }
    }

    /// The elements, mutable (host tensors only).
    pub fn data_mut(&mut self) -> &mut [f32] {
        let shape = self.shape;
        match &mut self.storage {
            Storage::Host(b) => b.as_mut_slice(),
            Storage::Gpu(b) => panic!(
                "host write of a tensor {shape} on {} (use copy_from)",
                b.gpu().device()
            ),
        }
    }

    /// The pool the storage returns to, if any.
    pub fn pool(&self) -> Option<&Pool> {
        match &self.storage {
            Storage::Host(b) => b.pool(),
            Storage::Gpu(b) => b.pool(),
        }
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

    /// Takes the elements out as a vector (downloads a device tensor).
    pub fn into_vec(self) -> Vec<f32> {
        match self.storage {
            Storage::Host(b) => b.into_vec(),
            Storage::Gpu(_) => self
                .to_host()
                .expect("downloading a device tensor")
                .into_vec(),
        }
    }

    /// The elements widened to f64 (for references and gradient checks).
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.storage {
            Storage::Host(b) => b.as_slice().iter().map(|&v| v as f64).collect(),
            Storage::Gpu(_) => self
                .to_host()
                .expect("downloading a device tensor")
                .to_f64(),
        }
    }

    /// A tensor from f64 values, rounded to f32.
    pub fn from_f64(shape: impl Into<Shape>, data: &[f64]) -> Result<Tensor> {
        Tensor::from_vec(shape, data.iter().map(|&v| v as f32).collect())
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.storage {
            Storage::Host(b) => {
                let d = b.as_slice();
                write!(f, "Tensor{} {:?}", self.shape, &d[..d.len().min(8)])
            }
            Storage::Gpu(b) => write!(f, "Tensor{} on {}", self.shape, b.gpu().device()),
        }
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
