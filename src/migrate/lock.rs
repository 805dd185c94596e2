//! The lock file, `migrations/schema.lock.json`: the migrations written so far, each with the checksum of its
//! file in each dialect, and the storage shape after the last one. The generator owns it; it is how `generate`
//! knows what the database already has, and how `check` notices a migration edited after it was written.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::shape::Shape;
use super::DIALECTS;

/// Path of the lock file in the generated crate.
pub const PATH: &str = "migrations/schema.lock.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// The `@generated` note (JSON has no comments); not read back.
    #[serde(rename = "@generated")]
    pub generated: String,
    /// In order of application.
    pub migrations: Vec<Entry>,
    /// What the database holds after the last migration.
    pub shape: Shape,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// `0002_add_message_pinned`: the file name without `.sql`.
    pub name: String,
    /// SHA-256 of `migrations/sqlite/<name>.sql`, in hex.
    pub sqlite: String,
    /// SHA-256 of `migrations/postgres/<name>.sql`, in hex.
    pub postgres: String,
    /// The models whose tables the migration creates, changes or renames (by their names after it). A client
    /// that resumes a subscription to one of them from before the migration is told to fetch again.
    pub models: Vec<String>,
}

impl Entry {
    /// (path, checksum) of the entry's file in each dialect.
    pub fn files(&self) -> [(String, &str); 2] {
        let [sqlite, postgres] = DIALECTS;
        [
            (path(sqlite, &self.name), &self.sqlite),
            (path(postgres, &self.name), &self.postgres),
        ]
    }
}

/// Where a migration's file is in the generated crate.
pub fn path(dialect: &str, name: &str) -> String {
    format!("migrations/{dialect}/{name}.sql")
}

/// The SHA-256 of a file, in lowercase hex; the server records the same checksum for each migration it applies.
pub fn checksum(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Lock {
    pub fn parse(text: &str) -> Result<Lock, String> {
        serde_json::from_str(text).map_err(|e| format!("{PATH}: {e}"))
    }

    /// JSON laid out for review: one line per migration and per column, so that a change to the schema shows
    /// in a diff of the lock file as the lines of the columns it changed. Deterministic, since every list in it is
    /// ordered.
    pub fn render(&self) -> String {
        let mut out = String::from("{\n");
        out.push_str(&format!("  \"@generated\": {},\n", line(&self.generated)));
        out.push_str("  \"migrations\": [\n");
        out.push_str(&lines(
            self.migrations.iter().map(|e| format!("    {}", line(e))),
        ));
        out.push_str("  ],\n  \"shape\": {\n    \"tables\": [\n");
        out.push_str(&lines(self.shape.tables.iter().map(|t| {
            format!(
                "      {{\"model\": {}, \"table\": {}, \"columns\": [\n{}      ]}}",
                line(&t.model),
                line(&t.table),
                lines(t.columns.iter().map(|c| format!("        {}", line(c))))
            )
        })));
        out.push_str("    ]\n  }\n}\n");
        out
    }
}

/// Items joined by `,` and a newline each.
fn lines(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    let mut out = items.join(",\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// A value as JSON on one line, with a space after each `:` and `,`.
fn line(value: &impl Serialize) -> String {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, Spaced);
    value
        .serialize(&mut serializer)
        .expect("a lock always serializes");
    String::from_utf8(out).expect("JSON is UTF-8")
}

struct Spaced;

impl serde_json::ser::Formatter for Spaced {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_sha256() {
        assert_eq!(
            checksum("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_lock_reads_back_as_written() {
        let lock = Lock {
            generated: "note".to_owned(),
            migrations: vec![Entry {
                name: "0001_init".to_owned(),
                sqlite: checksum("a"),
                postgres: checksum("b"),
                models: vec!["User".to_owned()],
            }],
            shape: Shape { tables: Vec::new() },
        };
        assert_eq!(Lock::parse(&lock.render()).unwrap(), lock);
        let err = Lock::parse("{\"migrations\": 1}").unwrap_err();
        assert!(err.starts_with(PATH), "{err}");
    }
}
