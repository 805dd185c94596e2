//! Brings a folder up to date with the generated files, touching only what changed (so that cargo does not
//! rebuild what did not) and deleting files the previous manifest owned that are no longer produced.

use std::io;
use std::path::Path;

use super::{read_manifest, Generated};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteReport {
    pub written: Vec<String>,
    /// User-owned starting points written because they did not exist yet.
    pub created_for_user: Vec<String>,
    pub unchanged: usize,
    pub removed: Vec<String>,
}

pub fn write(generated: &Generated, dir: &Path) -> io::Result<WriteReport> {
    let context =
        |path: &Path, e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let previous = read_manifest(dir)?;
    let mut report = WriteReport::default();
    // Each file is compared and written on its own, so the work is spread over the cores; the report keeps path
    // order.
    let files: Vec<(&String, &String)> = generated.files.iter().collect();
    let written = crate::parallel::map(&files, |(path, contents)| -> io::Result<bool> {
        let target = dir.join(path);
        if std::fs::read(&target).is_ok_and(|old| old == contents.as_bytes()) {
            return Ok(false);
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| context(parent, e))?;
        }
        std::fs::write(&target, contents).map_err(|e| context(&target, e))?;
        Ok(true)
    });
    for ((path, _), written) in files.iter().zip(written) {
        if written? {
            report.written.push((*path).clone());
        } else {
            report.unchanged += 1;
        }
    }
    for (path, contents) in &generated.user_files {
        let target = dir.join(path);
        if target.exists() {
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| context(parent, e))?;
        }
        std::fs::write(&target, contents).map_err(|e| context(&target, e))?;
        report.created_for_user.push(path.clone());
    }
    for path in previous {
        if generated.files.contains_key(&path) {
            continue;
        }
        let target = dir.join(&path);
        match std::fs::remove_file(&target) {
            Ok(()) => report.removed.push(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(context(&target, e)),
        }
    }
    Ok(report)
}
