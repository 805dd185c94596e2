//! SQLite files and scripts of the tests, through rusqlite (the SQLite the generated server uses, bundled).

use std::path::Path;

use rusqlite::types::ValueRef;

/// Runs one query on the database file at `path` (waiting up to 30 s for the server's write lock); one row per
/// line, `|` between columns, NULL as an empty string, like `psql -At`.
pub fn query(path: &Path, sql: &str) -> Result<String, String> {
    let db = rusqlite::Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    db.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let mut statement = db.prepare(sql).map_err(|e| e.to_string())?;
    let columns = statement.column_count();
    let mut rows = statement.query([]).map_err(|e| e.to_string())?;
    let mut lines = Vec::new();
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let cells: Result<Vec<String>, String> = (0..columns)
            .map(|i| {
                Ok(match row.get_ref(i).map_err(|e| e.to_string())? {
                    ValueRef::Null => String::new(),
                    ValueRef::Integer(n) => n.to_string(),
                    ValueRef::Real(x) => x.to_string(),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        String::from_utf8_lossy(t).into_owned()
                    }
                })
            })
            .collect();
        lines.push(cells?.join("|"));
    }
    Ok(lines.join("\n"))
}

/// A fresh in-memory database with foreign keys enforced (as the generated server sets them) and `script` run on it.
pub fn with_script(script: &str) -> Result<rusqlite::Connection, String> {
    let db = rusqlite::Connection::open_in_memory().map_err(|e| e.to_string())?;
    db.execute_batch("PRAGMA foreign_keys = ON")
        .map_err(|e| e.to_string())?;
    db.execute_batch(script).map_err(|e| e.to_string())?;
    Ok(db)
}
