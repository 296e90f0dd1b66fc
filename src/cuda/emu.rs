//! The emulator driver: `kernels/*.cu` compiled with g++ against `tools/cuda-emu`
//! (fibers for CUDA threads, real barriers and shuffles) into a shared library that is
//! loaded at run time; "device" memory is host memory. It runs the same kernels through
//! the same launchers as a GPU, so the CUDA path is tested where no GPU exists. Timing
//! means nothing here; tensor-core code cannot run.

use super::nvrtc::cache_dir;
use super::sources::{files, fnv1a, PARAMS_H};
use super::Driver;
use anyhow::{anyhow, bail, Context, Result};
use std::alloc::Layout;
use std::collections::HashMap;
use std::ffi::{c_char, c_void, CString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

const EMU_H: &str = include_str!("../../tools/cuda-emu/emu.h");
const EMU_RUNTIME: &str = include_str!("../../tools/cuda-emu/emu_runtime.cpp");

type LaunchFn = unsafe extern "C" fn(
    *const c_char,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    *mut *mut c_void,
    *mut c_char,
    usize,
) -> i32;

/// Kernels on the CPU through the emulator library.
pub struct EmuDriver {
    _lib: libloading::Library,
    launch: LaunchFn,
    allocations: Mutex<HashMap<u64, Layout>>,
    /// One launch at a time: the runtime's worker pool serves one grid.
    serial: Mutex<()>,
    path: PathBuf,
}

fn compiler() -> String {
    std::env::var("CXX").unwrap_or_else(|_| "g++".into())
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?} (the CUDA emulator needs a C++20 compiler: g++ 12 or newer, or set CXX)"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Builds (once per source version, cached on disk) the emulator library.
fn build() -> Result<PathBuf> {
    let mut parts: Vec<&[u8]> = vec![
        EMU_H.as_bytes(),
        EMU_RUNTIME.as_bytes(),
        PARAMS_H.as_bytes(),
    ];
    for f in files() {
        parts.push(f.source.as_bytes());
    }
    let cxx = compiler();
    parts.push(cxx.as_bytes());
    let key = fnv1a(&parts);
    let dir = cache_dir().join(format!("cuda-emu-{key:016x}"));
    let lib = dir.join("libdcc_cuda_emu.so");
    if lib.exists() {
        return Ok(lib);
    }
    // Build in a private folder, then rename: concurrent processes never see half a library.
    let work = cache_dir().join(format!("cuda-emu-{key:016x}.{}.tmp", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let write = |name: &str, text: &str| -> Result<()> {
        std::fs::write(work.join(name), text)
            .with_context(|| format!("writing {}", work.join(name).display()))
    };
    write("emu.h", EMU_H)?;
    write("emu_runtime.cpp", EMU_RUNTIME)?;
    write("params.h", PARAMS_H)?;
    let mut units = vec!["emu_runtime.cpp".to_string()];
    for (i, f) in files().iter().enumerate() {
        write(f.name, f.source)?;
        // Each file in its own namespace, so same-named helpers of two files do not
        // collide at link time (tools/cuda-emu/README.md).
        let mut gen = format!(
            "#include \"emu.h\"\nnamespace emu_tu_{i} {{\n#include \"{}\"\n",
            f.name
        );
        for k in &f.kernels {
            gen.push_str(&format!("EMU_REGISTER({k})\n"));
        }
        gen.push_str("}\n");
        let unit = format!("gen_{}.cpp", f.name.trim_end_matches(".cu"));
        write(&unit, &gen)?;
        units.push(unit);
    }
    // The flags of tools/cuda-emu/README.md: float4 casts need no strict aliasing, and
    // no FMA contraction keeps the rounding of the expressions as written.
    let mut flags = vec![
        "-std=c++20",
        "-O2",
        "-fPIC",
        "-pthread",
        "-w",
        "-fno-strict-aliasing",
        "-ffp-contract=off",
        "-fstack-clash-protection",
    ];
    let fma = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| c.contains(" fma"));
    if cfg!(target_arch = "x86_64") && fma {
        flags.push("-mfma"); // fmaf inline rather than a library call (same results)
    }
    let flags = &flags;
    let objects: Vec<Result<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = units
            .iter()
            .map(|u| {
                let work = &work;
                let cxx = &cxx;
                s.spawn(move || -> Result<String> {
                    let obj = format!("{u}.o");
                    run(Command::new(cxx)
                        .current_dir(work)
                        .args(flags)
                        .args(["-I", ".", "-c", u, "-o", &obj]))?;
                    Ok(obj)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("compiler thread panicked")))
            })
            .collect()
    });
    let objects: Vec<String> = objects.into_iter().collect::<Result<_>>()?;
    run(Command::new(&cxx)
        .current_dir(&work)
        .args(flags)
        .args(["-shared", "-Wl,--no-undefined", "-o", "libdcc_cuda_emu.so"])
        .args(&objects))?;
    match std::fs::rename(&work, &dir) {
        Ok(()) => {}
        Err(_) if lib.exists() => {
            let _ = std::fs::remove_dir_all(&work); // another process won the race
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("moving {} to {}", work.display(), dir.display()))
        }
    }
    Ok(lib)
}

impl EmuDriver {
    /// Builds (or finds) and loads the emulator library.
    pub fn open() -> Result<EmuDriver> {
        let path = build().context("building the CUDA emulator (device cuda-emu)")?;
        Self::load(&path)
    }

    fn load(path: &Path) -> Result<EmuDriver> {
        // SAFETY: the library is ours, built from the embedded sources; its static
        // constructors only register kernels.
        let lib = unsafe { libloading::Library::new(path) }
            .with_context(|| format!("loading {}", path.display()))?;
        // SAFETY: emu_launch has this signature (tools/cuda-emu/README.md).
        let launch: LaunchFn = unsafe { *lib.get::<LaunchFn>(b"emu_launch\0")? };
        Ok(EmuDriver {
            _lib: lib,
            launch,
            allocations: Mutex::new(HashMap::new()),
            serial: Mutex::new(()),
            path: path.to_path_buf(),
        })
    }

    fn check(&self, ptr: u64, bytes: usize, what: &str) -> Result<()> {
        let a = self.allocations.lock().expect("allocation map lock");
        // Sub-buffers are not handed out, so every address is an allocation's start.
        match a.get(&ptr) {
            Some(l) if l.size() >= bytes => Ok(()),
            Some(l) => bail!(
                "cuda-emu {what}: {bytes} bytes at {ptr:#x}, allocation has {}",
                l.size()
            ),
            None => bail!("cuda-emu {what}: {ptr:#x} is not a live allocation"),
        }
    }
}

impl Driver for EmuDriver {
    fn alloc(&self, bytes: usize) -> Result<u64> {
        let layout = Layout::from_size_align(bytes.max(1), 256)?;
        // SAFETY: non-zero size.
        let p = unsafe { std::alloc::alloc(layout) };
        if p.is_null() {
            bail!("cuda-emu: out of host memory allocating {bytes} bytes");
        }
        self.allocations
            .lock()
            .expect("allocation map lock")
            .insert(p as u64, layout);
        Ok(p as u64)
    }

    fn free(&self, ptr: u64) {
        if let Some(l) = self
            .allocations
            .lock()
            .expect("allocation map lock")
            .remove(&ptr)
        {
            // SAFETY: allocated above with this layout, freed once.
            unsafe { std::alloc::dealloc(ptr as *mut u8, l) };
        }
    }

    fn htod(&self, dst: u64, src: &[u8]) -> Result<()> {
        self.check(dst, src.len(), "host-to-device copy")?;
        // SAFETY: checked bounds; host memory.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst as *mut u8, src.len()) };
        Ok(())
    }

    fn dtoh(&self, dst: &mut [u8], src: u64) -> Result<()> {
        self.check(src, dst.len(), "device-to-host copy")?;
        // SAFETY: checked bounds.
        unsafe { std::ptr::copy_nonoverlapping(src as *const u8, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    fn dtod(&self, dst: u64, src: u64, bytes: usize) -> Result<()> {
        self.check(dst, bytes, "device copy (destination)")?;
        self.check(src, bytes, "device copy (source)")?;
        // SAFETY: checked bounds; `copy` allows overlap.
        unsafe { std::ptr::copy(src as *const u8, dst as *mut u8, bytes) };
        Ok(())
    }

    fn zero(&self, dst: u64, bytes: usize) -> Result<()> {
        self.check(dst, bytes, "memset")?;
        // SAFETY: checked bounds.
        unsafe { std::ptr::write_bytes(dst as *mut u8, 0, bytes) };
        Ok(())
    }

    fn launch(
        &self,
        kernel: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
        args: &mut [*mut c_void],
    ) -> Result<()> {
        let name = CString::new(kernel)?;
        let mut err = vec![0 as c_char; 1024];
        let _one = self.serial.lock().expect("emulator launch lock");
        // SAFETY: args follow the kernel's signature; the library reports bad launches.
        let rc = unsafe {
            (self.launch)(
                name.as_ptr(),
                grid[0],
                grid[1],
                grid[2],
                block[0],
                block[1],
                block[2],
                args.as_mut_ptr(),
                err.as_mut_ptr(),
                err.len(),
            )
        };
        if rc != 0 {
            let bytes: Vec<u8> = err
                .iter()
                .map(|&c| c as u8)
                .take_while(|&b| b != 0)
                .collect();
            bail!(
                "cuda-emu launch of {kernel} failed: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(())
    }

    fn synchronize(&self) -> Result<()> {
        Ok(())
    }

    fn describe(&self) -> String {
        format!("CUDA emulator on the CPU ({})", self.path.display())
    }
}
