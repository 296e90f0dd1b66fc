//! Files that appear whole or not at all: every output dcc writes goes through a
//! temporary sibling and a rename. A leaf module, so any layer may write atomically.

use anyhow::Result;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary sibling of `path` that a writer fills before renaming it into place.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes `bytes` to `path` through a temporary sibling and a rename, so a reader (or a
/// crash) never sees a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::anyhow!("writing {}: {e}", path.display())
    })
}

/// Writes `value` as pretty-printed JSON at `path` (temporary file, then rename), for run
/// descriptions, reports and summaries.
pub fn save_json(path: impl AsRef<Path>, value: &impl serde::Serialize) -> Result<()> {
    let path = path.as_ref();
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| anyhow::anyhow!("serialising JSON for {}: {e}", path.display()))?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}
