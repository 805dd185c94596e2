//! Reads a generated folder's migration history (`migrate::History`): the lock file and every migration file.

use std::io;
use std::path::Path;

use crate::migrate::{History, DIALECTS, LOCK_PATH};

/// The history under `dir/migrations/`; empty when there is none (a new crate).
pub fn read_history(dir: &Path) -> io::Result<History> {
    let context =
        |path: &Path, e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let lock_path = dir.join(LOCK_PATH);
    let lock = match std::fs::read_to_string(&lock_path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(context(&lock_path, e)),
    };
    let mut history = History {
        lock,
        ..History::default()
    };
    for dialect in DIALECTS {
        let folder = dir.join("migrations").join(dialect);
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(context(&folder, e)),
        };
        for entry in entries {
            let path = entry.map_err(|e| context(&folder, e))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.ends_with(".sql") || !path.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| context(&path, e))?;
            history
                .files
                .insert(format!("migrations/{dialect}/{name}"), text);
        }
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_lock_and_sql_files_only() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_history(dir.path()).unwrap(), History::default());
        let sqlite = dir.path().join("migrations/sqlite");
        std::fs::create_dir_all(&sqlite).unwrap();
        std::fs::write(sqlite.join("0001_init.sql"), "-- a").unwrap();
        std::fs::write(sqlite.join("notes.txt"), "not a migration").unwrap();
        std::fs::write(dir.path().join(LOCK_PATH), "{}").unwrap();
        let history = read_history(dir.path()).unwrap();
        assert_eq!(history.lock.as_deref(), Some("{}"));
        assert_eq!(
            history.files.into_iter().collect::<Vec<_>>(),
            vec![(
                "migrations/sqlite/0001_init.sql".to_owned(),
                "-- a".to_owned()
            )]
        );
    }
}
