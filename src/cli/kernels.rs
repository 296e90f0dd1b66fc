//! `dcc kernels`: compiles every CUDA kernel through the engine's own NVRTC path (no GPU
//! needed) and prints ptxas's resource report per kernel — the kernel researcher's view,
//! and CI's gate: a compile error or a register spill fails the command.

use crate::cuda::nvrtc::{self, parse_ptxas_log, Target};
use crate::cuda::sources::files;
use anyhow::{bail, Context, Result};
use clap::Args as ClapArgs;
use std::path::PathBuf;

/// `dcc kernels` arguments.
#[derive(ClapArgs)]
pub struct Args {
    /// Target architecture (sm_XY).
    #[arg(long, default_value = "sm_90")]
    pub arch: String,
    /// Also write each file's PTX (compute_XY) into this directory.
    #[arg(long)]
    pub ptx: Option<PathBuf>,
}

/// Runs `dcc kernels`.
pub fn run(a: Args) -> Result<()> {
    let arch: u32 = a
        .arch
        .strip_prefix("sm_")
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("--arch '{}': expected sm_XY, e.g. sm_90", a.arch))?;
    println!(
        "NVRTC {} compiling {} kernel files for sm_{arch}",
        nvrtc::version()?,
        files().len()
    );
    println!(
        "{:<24} {:<16} {:>5} {:>9} {:>6} {:>13} {:>9}",
        "kernel", "file", "regs", "smem B", "stack", "spill st/ld B", "compile s"
    );
    let (mut failures, mut spills, mut kernels) = (Vec::new(), 0, 0);
    for f in files() {
        let c = match nvrtc::compile(f, Target::Cubin(arch)) {
            Ok(c) => c,
            Err(e) => {
                println!("{:<24} {:<16} COMPILE ERROR", "-", f.name);
                failures.push(format!("{e:#}"));
                continue;
            }
        };
        let report = parse_ptxas_log(&c.log);
        for k in &f.kernels {
            kernels += 1;
            match report.iter().find(|r| r.name == *k) {
                Some(r) => {
                    let spill = r.spill_stores + r.spill_loads > 0;
                    spills += spill as usize;
                    println!(
                        "{:<24} {:<16} {:>5} {:>9} {:>6} {:>6}/{:<6} {:>9.3}{}",
                        r.name,
                        f.name,
                        r.registers,
                        r.smem,
                        r.stack,
                        r.spill_stores,
                        r.spill_loads,
                        c.seconds,
                        if spill { "  SPILLS" } else { "" }
                    );
                }
                None => {
                    println!("{:<24} {:<16} (no ptxas report)", k, f.name);
                    failures.push(format!(
                        "{}: ptxas printed no report for {k}:\n{}",
                        f.name, c.log
                    ));
                }
            }
        }
        if let Some(dir) = &a.ptx {
            let p = nvrtc::compile(f, Target::Ptx(arch))?;
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join(f.name.replace(".cu", ".ptx"));
            crate::files::write_atomic(&path, &p.image)?;
        }
    }
    println!(
        "{kernels} kernels, {} compile failures, {spills} with spills",
        failures.len()
    );
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    if spills > 0 {
        bail!("{spills} kernel(s) spill registers at sm_{arch}");
    }
    Ok(())
}
