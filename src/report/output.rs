//! Output files: every file the report layer writes goes through `write_atomic` (a
//! temporary sibling, then a rename) so readers never see half-written files.

use anyhow::{Context, Result};
use std::path::Path;

/// Writes `bytes` to `path` via a temporary sibling file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("output path {} has no file name", path.display()))?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| {
        format!(
            "writing {} (temporary for {})",
            tmp.display(),
            path.display()
        )
    })?;
    std::fs::rename(&tmp, path).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("renaming {} to {}", tmp.display(), path.display())
    })
}

/// Writes `value` as pretty-printed JSON at `path` (temporary file, then rename), for the
/// machine-readable half of a report.
pub fn save_json(path: impl AsRef<Path>, value: &impl serde::Serialize) -> Result<()> {
    let path = path.as_ref();
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| anyhow::anyhow!("serialising JSON for {}: {e}", path.display()))?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}
