//! One trainer per run: `RUN/train.lock` holds the training process's id while it runs.
//! A second `train` on the run is refused; a lock left by a process that no longer exists
//! (killed) is taken over with a warning; `infer` reads it to say that the weights it
//! loads are from a run still in training.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = "train.lock";

/// Held while a run trains; removes its file when dropped.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

/// Whether process `pid` exists (Linux: /proc; elsewhere every process is assumed alive,
/// so a stale lock must be removed by hand).
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if Path::new("/proc/self").exists() {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// The id of the process training `run`, if one is.
pub fn holder(run: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(run.join(LOCK_FILE)).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    alive(pid).then_some(pid)
}

impl RunLock {
    /// Takes the lock of `run` (a directory that exists).
    pub fn acquire(run: &Path) -> Result<RunLock> {
        let path = run.join(LOCK_FILE);
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    write!(f, "{}", std::process::id())
                        .with_context(|| format!("{}: cannot write", path.display()))?;
                    return Ok(RunLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    match text.trim().parse::<u32>() {
                        Ok(pid) if alive(pid) => bail!(
                            "{}: the run is being trained by process {pid} ({}); wait for it, or stop it first",
                            run.display(),
                            path.display()
                        ),
                        _ => {
                            eprintln!(
                                "warning: {}: taking over a stale lock ('{}': that process no longer runs)",
                                run.display(),
                                text.trim()
                            );
                            std::fs::remove_file(&path).with_context(|| {
                                format!("{}: cannot remove the stale lock", path.display())
                            })?;
                        }
                    }
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("{}: cannot create", path.display()))
                }
            }
        }
        bail!("{}: another process keeps taking the lock", path.display())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_a_stale_one_taken_over() {
        let dir = std::env::temp_dir().join(format!("dcc-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = RunLock::acquire(&dir).unwrap();
        assert_eq!(holder(&dir), Some(std::process::id()));
        let err = RunLock::acquire(&dir).unwrap_err().to_string();
        assert!(err.contains("being trained by process"), "{err}");
        drop(first);
        assert!(!dir.join(LOCK_FILE).exists());
        assert_eq!(holder(&dir), None);
        // A process id that cannot exist (above Linux's pid_max).
        std::fs::write(dir.join(LOCK_FILE), "4294967295").unwrap();
        if Path::new("/proc/self").exists() {
            assert_eq!(holder(&dir), None);
            let again = RunLock::acquire(&dir).unwrap();
            drop(again);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
