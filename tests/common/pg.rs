//! The local PostgreSQL for tests: psql, whether the server is there (required when CI=true), and databases of
//! their own that are dropped afterwards.

use std::process::Command;

/// Runs `sql` with psql on `database` (unaligned, tuples only: one row per line, `|` between columns); stops at
/// the first error.
pub fn psql(database: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-X",
            "-q",
            "-At",
            "-c",
            sql,
        ])
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Whether PostgreSQL answers; `Err` says why not.
pub fn reachable() -> Result<(), String> {
    psql("test", "SELECT 1")
        .map(|_| ())
        .map_err(|e| format!("PostgreSQL at 127.0.0.1:5432 is unreachable: {e}"))
}

/// Whether PostgreSQL answers. In CI it must (the test fails); elsewhere a test without it says so loudly and
/// returns.
pub fn available(test: &str) -> bool {
    super::available_or_skip(test, reachable())
}

/// A database of its own, with a unique name; dropped when this is.
pub struct TestDatabase {
    pub name: String,
}

impl TestDatabase {
    pub fn create(prefix: &str) -> TestDatabase {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("{prefix}_{}_{nanos}", std::process::id());
        psql("test", &format!("CREATE DATABASE {name}")).unwrap();
        TestDatabase { name }
    }

    pub fn psql(&self, sql: &str) -> Result<String, String> {
        psql(&self.name, sql)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Err(e) = psql(
            "test",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        ) {
            eprintln!("could not drop database {}: {e}", self.name);
        }
    }
}
