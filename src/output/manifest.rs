//! The manifest: the list of files the generator owns in a generated folder. It is how `generate` knows which
//! files it may delete when a model disappears, and how `check` finds orphans.

use std::io;
use std::path::{Component, Path};

/// Path of the manifest inside the generated folder.
pub const MANIFEST: &str = ".ssot-gen-manifest";

pub(crate) fn render(header: &str, paths: impl Iterator<Item = impl AsRef<str>>) -> String {
    let mut out = format!(
        "# {header}\n# Files owned by ssot-gen: `ssot-gen check` compares them, `ssot-gen generate` rewrites them and\n# deletes those no longer produced. Files not listed here are yours and are never touched.\n"
    );
    for path in paths {
        out.push_str(path.as_ref());
        out.push('\n');
    }
    out
}

/// The files listed in the manifest of `dir`; empty when there is none. Entries that could point outside the
/// folder are ignored, so a tampered manifest cannot make `generate` delete anything else.
pub fn read_manifest(dir: &Path) -> io::Result<Vec<String>> {
    let text = match std::fs::read_to_string(dir.join(MANIFEST)) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| {
            Path::new(l)
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        })
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_entries_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(MANIFEST),
            "# c\nsrc/a.rs\n../escape\n/etc/passwd\n\nREADME.md\n",
        )
        .unwrap();
        assert_eq!(
            read_manifest(dir.path()).unwrap(),
            vec!["src/a.rs", "README.md"]
        );
    }

    #[test]
    fn missing_manifest_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_manifest(dir.path()).unwrap().is_empty());
    }
}
