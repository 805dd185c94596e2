//! Generated files -> disk: `write` brings a folder up to date, `compare` says how it differs (for `check`).
//! Only files listed in the folder's manifest belong to the generator; anything else there is the user's and is
//! never touched.

mod compare;
mod history;
pub(crate) mod manifest;
mod write;

pub use compare::{compare, Change};
pub use history::read_history;
pub use manifest::{read_manifest, MANIFEST};
pub use write::{write, WriteReport};

use std::collections::BTreeMap;

/// The generated crate in memory: relative path (with `/`) -> contents, sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generated {
    /// Files the generator owns: rewritten by `generate`, compared by `check`, listed in the manifest.
    pub files: BTreeMap<String, String>,
    /// Starting points the user owns (hooks): written only when missing, never overwritten or compared.
    pub user_files: BTreeMap<String, String>,
    /// The migration written, if any, and the state of the history.
    pub migrations: crate::migrate::Report,
}
