//! The CUDA backend: a device (`Gpu`) with its driver, device buffers, kernel launches
//! and the kernel sources. Two drivers implement the same raw interface:
//! - `driver::CudaDriver`: a real NVIDIA GPU through cudarc (driver API + NVRTC,
//!   loaded at run time; behind the `cuda` cargo feature);
//! - `emu::EmuDriver`: the same `kernels/*.cu` compiled with g++ against
//!   `tools/cuda-emu` and run on the CPU, so every launcher and kernel is tested on
//!   machines without a GPU (slow; `--device cuda-emu`).
//!
//! Only `ops` (and the tensor storage) reach into this module.

#[cfg(feature = "cuda")]
pub mod dcc_ops;
pub mod driver;
pub mod emu;
pub mod nvrtc;
pub mod ops;
pub mod sources;

use crate::kparams::KernelParams;
use crate::tensor::Device;
use anyhow::{bail, Result};
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex, OnceLock};

/// The raw operations a GPU backend provides; addresses are device addresses.
pub trait Driver: Send + Sync {
    /// Allocates `bytes` of device memory.
    fn alloc(&self, bytes: usize) -> Result<u64>;
    /// Frees an allocation (at pool trim or drop, never on the hot path).
    fn free(&self, ptr: u64);
    /// Copies host bytes to the device.
    fn htod(&self, dst: u64, src: &[u8]) -> Result<()>;
    /// Copies device bytes to the host (waits for queued work).
    fn dtoh(&self, dst: &mut [u8], src: u64) -> Result<()>;
    /// Copies between device buffers.
    fn dtod(&self, dst: u64, src: u64, bytes: usize) -> Result<()>;
    /// Sets `bytes` to zero.
    fn zero(&self, dst: u64, bytes: usize) -> Result<()>;
    /// Launches a kernel by name; `args[i]` points at the i-th argument's value.
    fn launch(
        &self,
        kernel: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
        args: &mut [*mut c_void],
    ) -> Result<()>;
    /// Waits for all queued work.
    fn synchronize(&self) -> Result<()>;
    /// Human-readable description (name, architecture, driver).
    fn describe(&self) -> String;
}

/// An opened device: its driver and identity. Shared by every buffer on it.
pub struct Gpu {
    device: Device,
    driver: Box<dyn Driver>,
}

impl Gpu {
    /// The device this is.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The driver's description of the device.
    pub fn describe(&self) -> String {
        self.driver.describe()
    }

    /// The raw driver.
    pub fn driver(&self) -> &dyn Driver {
        &*self.driver
    }

    /// Launches `kernel` with its parameter struct and device pointers (the contract of
    /// docs/cuda.md: params first, then pointers in order).
    pub fn launch<P: KernelParams>(
        &self,
        kernel: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
        params: &P,
        ptrs: &[u64],
    ) -> Result<()> {
        if grid.iter().chain(&block).any(|&d| d == 0) {
            return Ok(()); // nothing to do; CUDA rejects empty launches
        }
        let mut p = *params;
        let mut ptrs = ptrs.to_vec();
        let mut args: Vec<*mut c_void> = Vec::with_capacity(1 + ptrs.len());
        args.push(&mut p as *mut P as *mut c_void);
        for q in ptrs.iter_mut() {
            args.push(q as *mut u64 as *mut c_void);
        }
        self.driver
            .launch(kernel, grid, block, &mut args)
            .map_err(|e| e.context(format!("{}: kernel {kernel}", self.device)))
    }

    /// Waits for all queued work on the device.
    pub fn synchronize(&self) -> Result<()> {
        self.driver.synchronize()
    }
}

/// Threads per block of every 1-D launch (docs/cuda.md).
pub const BLOCK: u32 = 256;

/// The grid of a 1-D grid-stride launch over `n` items.
pub fn grid_1d(n: u64) -> [u32; 3] {
    [n.div_ceil(BLOCK as u64).clamp(1, 65535) as u32, 1, 1]
}

/// Opened devices, one per process and device: a CUDA context (and the emulator's
/// compiled library) is process-wide state, so it is opened once and shared.
fn registry() -> &'static Mutex<HashMap<Device, Arc<Gpu>>> {
    static R: OnceLock<Mutex<HashMap<Device, Arc<Gpu>>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// Opens (once per process) the GPU `device`: a real CUDA device or the emulator.
pub fn open(device: Device) -> Result<Arc<Gpu>> {
    let mut reg = registry().lock().expect("device registry lock poisoned");
    if let Some(g) = reg.get(&device) {
        return Ok(g.clone());
    }
    let driver: Box<dyn Driver> = match device {
        Device::Cpu => bail!("the CPU is not a GPU device"),
        Device::CudaEmu => Box::new(emu::EmuDriver::open()?),
        Device::Cuda(ordinal) => open_cuda(ordinal)?,
    };
    let gpu = Arc::new(Gpu { device, driver });
    reg.insert(device, gpu.clone());
    Ok(gpu)
}

#[cfg(feature = "cuda")]
fn open_cuda(ordinal: usize) -> Result<Box<dyn Driver>> {
    Ok(Box::new(driver::CudaDriver::open(ordinal)?))
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(ordinal: usize) -> Result<Box<dyn Driver>> {
    bail!("device cuda:{ordinal}: this dcc was built without CUDA (the `cuda` cargo feature is off); rebuild with default features or use --device cpu")
}

/// Whether a usable CUDA GPU is present, and if not, why (for `--device auto`).
pub fn probe_cuda() -> std::result::Result<String, String> {
    #[cfg(feature = "cuda")]
    {
        driver::probe()
    }
    #[cfg(not(feature = "cuda"))]
    {
        Err("this dcc was built without CUDA".into())
    }
}
