//! Run-time compilation of `kernels/*.cu` through NVRTC: PTX for the GPU present
//! (cached per process and on disk, keyed by source hash, architecture and NVRTC
//! version) and cubins with ptxas's resource report for `dcc kernels`.

use super::sources::{fnv1a, KernelFile};
use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// What to compile to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// PTX for `compute_XY` (what the driver loads).
    Ptx(u32),
    /// A cubin for `sm_XY` with ptxas's verbose resource report in the log.
    Cubin(u32),
}

/// The result of compiling one file.
pub struct Compiled {
    /// PTX text or cubin bytes.
    pub image: Vec<u8>,
    /// NVRTC's log (ptxas's report for cubins).
    pub log: String,
    /// Wall-clock seconds of the compile.
    pub seconds: f64,
}

/// ptxas's resource use of one kernel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelResources {
    /// The kernel.
    pub name: String,
    /// Registers per thread.
    pub registers: u32,
    /// Static shared memory per block, bytes.
    pub smem: u32,
    /// Stack frame bytes per thread.
    pub stack: u32,
    /// Bytes of spill stores.
    pub spill_stores: u32,
    /// Bytes of spill loads.
    pub spill_loads: u32,
}

/// Where compiled kernels (and the emulator library) are cached: `$DCC_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/dcc`, else `~/.cache/dcc`, else the temporary directory.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DCC_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("dcc");
    }
    if let Some(h) = std::env::var_os("HOME") {
        return PathBuf::from(h).join(".cache").join("dcc");
    }
    std::env::temp_dir().join("dcc-cache")
}

/// Parses ptxas's `-v` report (as NVRTC relays it) into one entry per kernel.
pub fn parse_ptxas_log(log: &str) -> Vec<KernelResources> {
    let mut out: Vec<KernelResources> = Vec::new();
    let num_before = |line: &str, unit: &str| -> Option<u32> {
        let i = line.find(unit)?;
        line[..i]
            .split(|c: char| !c.is_ascii_digit())
            .rfind(|s| !s.is_empty())?
            .parse()
            .ok()
    };
    for line in log.lines() {
        if let Some(i) = line.find("Compiling entry function '") {
            let rest = &line[i + "Compiling entry function '".len()..];
            let name = rest.split('\'').next().unwrap_or_default();
            out.push(KernelResources {
                name: name.to_string(),
                ..Default::default()
            });
            continue;
        }
        let Some(k) = out.last_mut() else { continue };
        if line.contains("bytes stack frame") {
            k.stack = num_before(line, " bytes stack frame").unwrap_or(0);
            k.spill_stores = num_before(line, " bytes spill stores").unwrap_or(0);
            k.spill_loads = num_before(line, " bytes spill loads").unwrap_or(0);
        } else if line.contains("Used ") && line.contains("registers") {
            k.registers = num_before(line, " registers").unwrap_or(0);
            k.smem = num_before(line, " bytes smem").unwrap_or(0);
        }
    }
    out
}

#[cfg(feature = "cuda")]
mod imp {
    use super::*;
    use cudarc::nvrtc::{result, sys};
    use std::ffi::CString;

    pub fn available() -> Result<()> {
        // SAFETY: only loads (or fails to load) the shared library.
        if unsafe { sys::is_culib_present() } {
            Ok(())
        } else {
            bail!("NVRTC (libnvrtc.so.13) not found: install the CUDA 13 toolkit or the `nvidia-cuda-nvrtc` wheel and add its lib folder to LD_LIBRARY_PATH (docs/cuda.md, \"Compilation\")")
        }
    }

    pub fn version() -> Result<String> {
        available()?;
        let (mut major, mut minor) = (0, 0);
        // SAFETY: two out-parameters.
        unsafe { sys::nvrtcVersion(&mut major, &mut minor) }
            .result()
            .map_err(|e| anyhow!("nvrtcVersion: {e:?}"))?;
        Ok(format!("{major}.{minor}"))
    }

    pub fn compile(file: &KernelFile, target: Target) -> Result<Compiled> {
        available()?;
        let src = CString::new(file.standalone()).context("kernel source contains a NUL byte")?;
        let name = CString::new(file.name)?;
        let started = Instant::now();
        let prog = result::create_program(&src, Some(&name))
            .map_err(|e| anyhow!("nvrtcCreateProgram({}): {e:?}", file.name))?;
        let mut opts = vec![
            "--std=c++17".to_string(),
            "-default-device".to_string(),
            "-lineinfo".to_string(),
        ];
        match target {
            Target::Ptx(a) => opts.push(format!("--gpu-architecture=compute_{a}")),
            Target::Cubin(a) => {
                opts.push(format!("--gpu-architecture=sm_{a}"));
                opts.push("--ptxas-options=-v".into());
                opts.push("--ptxas-options=--warn-on-spills".into());
            }
        }
        // SAFETY: prog is live until destroy_program below.
        let compiled = unsafe { result::compile_program(prog, &opts) };
        let log = unsafe { result::get_program_log(prog) }
            .map(|l| {
                let bytes: Vec<u8> = l.iter().map(|&c| c as u8).take_while(|&b| b != 0).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            })
            .unwrap_or_default();
        let image = compiled
            .map_err(|e| {
                anyhow!(
                    "NVRTC failed to compile kernels/{} for {target:?}: {e:?}\n{log}",
                    file.name
                )
            })
            .and_then(|_| {
                // SAFETY: compilation succeeded.
                match target {
                    Target::Ptx(_) => unsafe { result::get_ptx(prog) }
                        .map(|p| p.iter().map(|&c| c as u8).take_while(|&b| b != 0).collect())
                        .map_err(|e| anyhow!("nvrtcGetPTX: {e:?}")),
                    Target::Cubin(_) => unsafe {
                        let mut size = 0usize;
                        sys::nvrtcGetCUBINSize(prog, &mut size)
                            .result()
                            .map_err(|e| anyhow!("nvrtcGetCUBINSize: {e:?}"))?;
                        let mut buf = vec![0u8; size];
                        sys::nvrtcGetCUBIN(prog, buf.as_mut_ptr() as *mut _)
                            .result()
                            .map_err(|e| anyhow!("nvrtcGetCUBIN: {e:?}"))?;
                        Ok(buf)
                    },
                }
            });
        // SAFETY: prog is not used after this.
        let _ = unsafe { result::destroy_program(prog) };
        Ok(Compiled {
            image: image?,
            log,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

#[cfg(not(feature = "cuda"))]
mod imp {
    use super::*;
    pub fn version() -> Result<String> {
        bail!("this dcc was built without CUDA (the `cuda` cargo feature is off)")
    }
    pub fn compile(_: &KernelFile, _: Target) -> Result<Compiled> {
        version().map(|_| unreachable!())
    }
}

/// NVRTC's version (`major.minor`), or why NVRTC cannot be used.
pub fn version() -> Result<String> {
    imp::version()
}

/// Compiles one kernel file.
pub fn compile(file: &KernelFile, target: Target) -> Result<Compiled> {
    imp::compile(file, target)
}

/// PTX of `file` for `compute_<arch>`, from the process cache, the disk cache, or NVRTC.
pub fn ptx_cached(file: &KernelFile, arch: u32) -> Result<String> {
    static MEM: OnceLock<Mutex<HashMap<(&'static str, u32), String>>> = OnceLock::new();
    let mem = MEM.get_or_init(Default::default);
    if let Some(p) = mem.lock().expect("ptx cache lock").get(&(file.name, arch)) {
        return Ok(p.clone());
    }
    let ver = version()?;
    let key = fnv1a(&[
        file.standalone().as_bytes(),
        ver.as_bytes(),
        &arch.to_le_bytes(),
    ]);
    let path = cache_dir().join("kernels").join(format!(
        "{}-sm{arch}-{key:016x}.ptx",
        file.name.trim_end_matches(".cu")
    ));
    let ptx = match std::fs::read_to_string(&path) {
        Ok(p) if p.contains(".entry") => p,
        _ => {
            let c = compile(file, Target::Ptx(arch))?;
            let p = String::from_utf8(c.image)
                .map_err(|_| anyhow!("NVRTC returned non-UTF-8 PTX for {}", file.name))?;
            // A cache that cannot be written only costs a recompile next time.
            if let Some(dir) = path.parent() {
                if std::fs::create_dir_all(dir).is_ok() {
                    let _ = crate::files::write_atomic(&path, p.as_bytes());
                }
            }
            p
        }
    };
    mem.lock()
        .expect("ptx cache lock")
        .insert((file.name, arch), ptx.clone());
    Ok(ptx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ptxas_report_is_parsed_per_kernel() {
        let log = "ptxas info    : 0 bytes gmem\nptxas info    : Compiling entry function 'conv2d_forward' for 'sm_90'\nptxas info    : Function properties for conv2d_forward\n    8 bytes stack frame, 4 bytes spill stores, 12 bytes spill loads\nptxas info    : Used 96 registers, used 1 barriers, 16384 bytes smem, 432 bytes cmem[0]\nptxas info    : Compiling entry function 'ew_unary' for 'sm_90'\nptxas info    : Function properties for ew_unary\n    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\nptxas info    : Used 10 registers, used 0 barriers, 380 bytes cmem[0]\n";
        let r = parse_ptxas_log(log);
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[0],
            KernelResources {
                name: "conv2d_forward".into(),
                registers: 96,
                smem: 16384,
                stack: 8,
                spill_stores: 4,
                spill_loads: 12
            }
        );
        assert_eq!((r[1].registers, r[1].smem, r[1].spill_stores), (10, 0, 0));
    }
}
