//! Output files: every file the report layer writes goes through the engine's `write_atomic` (a
//! temporary sibling, then a rename) so readers never see half-written files.

use anyhow::Result;
use std::path::Path;

/// The engine's one atomic writer (temporary sibling, fsync, rename), shared with `data`.
pub use crate::data::npy::write_atomic;

/// Writes `value` as pretty-printed JSON at `path` (temporary file, then rename), for the
/// machine-readable half of a report.
pub fn save_json(path: impl AsRef<Path>, value: &impl serde::Serialize) -> Result<()> {
    let path = path.as_ref();
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| anyhow::anyhow!("serialising JSON for {}: {e}", path.display()))?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}
