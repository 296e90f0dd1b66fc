//! The real GPU driver: cudarc's driver API on the legacy default stream (so the
//! synchronous copies order themselves after queued kernels), kernels compiled by NVRTC
//! for the device's architecture on first use, cached per process and on disk.
//! cudarc panics when libcuda is missing, so every entry point checks first.

use super::nvrtc;
use super::sources;
use super::Driver;
use anyhow::{anyhow, bail, Context, Result};
use cudarc::driver::{result, sys};
use std::collections::HashMap;
use std::ffi::{c_void, CString};
use std::sync::Mutex;

/// Why no CUDA device can be used, or the name of device 0.
pub fn probe() -> std::result::Result<String, String> {
    // SAFETY: only loads (or fails to load) the shared library.
    if !unsafe { sys::is_culib_present() } {
        return Err("no NVIDIA driver (libcuda.so) found".into());
    }
    result::init().map_err(|e| format!("the CUDA driver failed to initialise: {e:?}"))?;
    let n = result::device::get_count().map_err(|e| format!("cuDeviceGetCount: {e:?}"))?;
    if n == 0 {
        return Err("the CUDA driver reports no GPU".into());
    }
    let dev = result::device::get(0).map_err(|e| format!("{e:?}"))?;
    let name = result::device::get_name(dev).map_err(|e| format!("{e:?}"))?;
    // A GPU without NVRTC cannot compile its kernels: not usable.
    let nvrtc = super::nvrtc::version().map_err(|e| format!("{name} found, but {e}"))?;
    Ok(format!("{name}, NVRTC {nvrtc}"))
}

/// One CUDA device with its primary context.
pub struct CudaDriver {
    ctx: sys::CUcontext,
    name: String,
    arch: u32,
    /// Kernel name → function, filled per source file on first launch.
    functions: Mutex<HashMap<&'static str, Func>>,
}

#[derive(Clone, Copy)]
struct Func(sys::CUfunction);
// SAFETY: CUfunction handles are valid in any thread that has the context current.
unsafe impl Send for Func {}
// SAFETY: the context handle is shared by all threads of the process (primary context).
unsafe impl Send for CudaDriver {}
// SAFETY: as above; the function map is behind a mutex.
unsafe impl Sync for CudaDriver {}

fn err(what: &str, e: impl std::fmt::Debug) -> anyhow::Error {
    anyhow!("CUDA {what} failed: {e:?}")
}

impl CudaDriver {
    /// Opens device `ordinal`, or says clearly why it cannot.
    pub fn open(ordinal: usize) -> Result<CudaDriver> {
        probe().map_err(|why| anyhow!("device cuda:{ordinal}: {why}; use --device cpu"))?;
        let n = result::device::get_count().map_err(|e| err("cuDeviceGetCount", e))? as usize;
        if ordinal >= n {
            bail!(
                "device cuda:{ordinal}: only {n} GPU(s) present (cuda:0..cuda:{})",
                n - 1
            );
        }
        let dev = result::device::get(ordinal as i32).map_err(|e| err("cuDeviceGet", e))?;
        // SAFETY: dev is a valid device handle.
        let ctx = unsafe { result::primary_ctx::retain(dev) }
            .map_err(|e| err("cuDevicePrimaryCtxRetain", e))?;
        // SAFETY: ctx was just retained.
        unsafe { result::ctx::set_current(ctx) }.map_err(|e| err("cuCtxSetCurrent", e))?;
        let attr = |a| {
            unsafe { result::device::get_attribute(dev, a) }
                .map_err(|e| err("cuDeviceGetAttribute", e))
        };
        let major = attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
        let minor = attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
        let name = result::device::get_name(dev).map_err(|e| err("cuDeviceGetName", e))?;
        Ok(CudaDriver {
            ctx,
            name,
            arch: (major * 10 + minor) as u32,
            functions: Mutex::new(HashMap::new()),
        })
    }

    fn current(&self) -> Result<()> {
        // SAFETY: the primary context lives as long as the process holds it.
        unsafe { result::ctx::set_current(self.ctx) }.map_err(|e| err("cuCtxSetCurrent", e))
    }

    fn function(&self, kernel: &'static str) -> Result<Func> {
        let mut map = self.functions.lock().expect("kernel map lock poisoned");
        if let Some(f) = map.get(kernel) {
            return Ok(*f);
        }
        let file = sources::file_of(kernel)
            .ok_or_else(|| anyhow!("no kernel named {kernel} in kernels/*.cu"))?;
        let ptx = nvrtc::ptx_cached(file, self.arch)?;
        let image = CString::new(ptx).context("PTX contains a NUL byte")?;
        // SAFETY: image is a NUL-terminated PTX text; the module is never unloaded.
        let module = unsafe { result::module::load_data(image.as_ptr() as *const c_void) }
            .map_err(|e| err(&format!("loading the PTX of {} (made by NVRTC {}; a PTX newer than the driver is refused)", file.name, nvrtc::version().unwrap_or_default()), e))?;
        for &name in &file.kernels {
            // SAFETY: module is loaded; name is a kernel of this file.
            let f = unsafe { result::module::get_function(module, CString::new(name)?) }
                .map_err(|e| err(&format!("cuModuleGetFunction({name})"), e))?;
            map.insert(name, Func(f));
        }
        map.get(kernel)
            .copied()
            .ok_or_else(|| anyhow!("kernel {kernel} missing from {}", file.name))
    }
}

impl Driver for CudaDriver {
    fn alloc(&self, bytes: usize) -> Result<u64> {
        self.current()?;
        // SAFETY: plain allocation; at least one byte so the address is unique.
        unsafe { result::malloc_sync(bytes.max(1)) }.map_err(|e| {
            let (free, total) = result::mem_get_info().unwrap_or((0, 0));
            err(
                &format!("allocating {bytes} bytes ({free} of {total} bytes free)"),
                e,
            )
        })
    }

    fn free(&self, ptr: u64) {
        if self.current().is_ok() {
            // SAFETY: ptr came from alloc and is freed once (pool bookkeeping).
            let _ = unsafe { result::free_sync(ptr) };
        }
    }

    fn htod(&self, dst: u64, src: &[u8]) -> Result<()> {
        self.current()?;
        // SAFETY: dst has at least src.len() bytes (the caller's buffer length).
        unsafe { result::memcpy_htod_sync(dst, src) }.map_err(|e| err("host-to-device copy", e))
    }

    fn dtoh(&self, dst: &mut [u8], src: u64) -> Result<()> {
        self.current()?;
        // SAFETY: src has at least dst.len() bytes.
        unsafe { result::memcpy_dtoh_sync(dst, src) }.map_err(|e| err("device-to-host copy", e))
    }

    fn dtod(&self, dst: u64, src: u64, bytes: usize) -> Result<()> {
        self.current()?;
        // SAFETY: both buffers hold at least `bytes`; the null stream orders the copy.
        unsafe { result::memcpy_dtod_async(dst, src, bytes, std::ptr::null_mut()) }
            .map_err(|e| err("device copy", e))
    }

    fn zero(&self, dst: u64, bytes: usize) -> Result<()> {
        self.current()?;
        // SAFETY: dst holds at least `bytes`.
        unsafe { result::memset_d8_async(dst, 0, bytes, std::ptr::null_mut()) }
            .map_err(|e| err("memset", e))
    }

    fn launch(
        &self,
        kernel: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
        args: &mut [*mut c_void],
    ) -> Result<()> {
        self.current()?;
        let f = self.function(kernel)?;
        // SAFETY: args follow the kernel's signature (docs/cuda.md, checked by the
        // differential tests); the null stream orders the launch with the copies.
        unsafe {
            result::launch_kernel(
                f.0,
                (grid[0], grid[1], grid[2]),
                (block[0], block[1], block[2]),
                0,
                std::ptr::null_mut(),
                args,
            )
        }
        .map_err(|e| err("kernel launch", e))
    }

    fn synchronize(&self) -> Result<()> {
        self.current()?;
        result::ctx::synchronize()
            .map_err(|e| err("synchronize (an earlier kernel may have failed)", e))
    }

    fn describe(&self) -> String {
        format!(
            "{} (sm_{}, NVRTC {})",
            self.name,
            self.arch,
            nvrtc::version().unwrap_or_else(|e| e.to_string())
        )
    }
}
