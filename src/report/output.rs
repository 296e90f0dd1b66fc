//! Output files: every file the report layer writes goes through the engine's `write_atomic` (a
//! temporary sibling, then a rename) so readers never see half-written files.

/// The engine's atomic writers (temporary sibling, fsync, rename), owned by `files`.
pub use crate::files::{save_json, write_atomic};
