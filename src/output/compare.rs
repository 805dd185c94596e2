//! How a folder differs from what would be generated: missing, stale (with a unified diff) and orphaned files.

use std::io;
use std::path::Path;

use super::{read_manifest, Generated};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Would be generated but does not exist.
    Missing(String),
    /// Exists with other contents; carries a unified diff from the folder's version to the generated one.
    Stale { path: String, diff: String },
    /// Listed in the folder's manifest as generated, but no longer produced.
    Orphaned(String),
}

impl Change {
    pub fn path(&self) -> &str {
        match self {
            Change::Missing(p) | Change::Orphaned(p) => p,
            Change::Stale { path, .. } => path,
        }
    }
}

/// Compares `generated` with the contents of `dir`, in path order. An empty result means up to date.
pub fn compare(generated: &Generated, dir: &Path) -> io::Result<Vec<Change>> {
    let mut changes = Vec::new();
    for (path, contents) in &generated.files {
        match std::fs::read(dir.join(path)) {
            Ok(bytes) if bytes == contents.as_bytes() => {}
            Ok(bytes) => {
                let old = String::from_utf8_lossy(&bytes);
                let diff = similar::TextDiff::from_lines(old.as_ref(), contents.as_str())
                    .unified_diff()
                    .context_radius(3)
                    .header(&format!("a/{path}"), &format!("b/{path}"))
                    .to_string();
                changes.push(Change::Stale {
                    path: path.clone(),
                    diff,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                changes.push(Change::Missing(path.clone()))
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("{}: {e}", dir.join(path).display()),
                ))
            }
        }
    }
    // A user-owned file is the user's to change, but the crate does not build without it.
    for path in generated.user_files.keys() {
        if !dir.join(path).exists() {
            changes.push(Change::Missing(path.clone()));
        }
    }
    for path in read_manifest(dir)? {
        if !generated.files.contains_key(&path) && dir.join(&path).exists() {
            changes.push(Change::Orphaned(path));
        }
    }
    changes.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(changes)
}
