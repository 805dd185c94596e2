//! The database's schema against this server's: the crate's migrations (`super::migrations`, the files under
//! `migrations/` compiled in) and the ones a database has applied (the table `_ssot_migrations`, one row per
//! migration with the SHA-256 of its file). The server runs only on a database whose applied migrations are the
//! first of its own, unchanged; it applies the rest in order, each in its own transaction under a lock
//! (`super::sqlite`, `super::postgres`), and records each with its checksum and the outbox's head at that moment.
//!
//! The head is what a subscriber's `since` is compared with: events written before a migration changed a model
//! may have another shape, so a subscription to that model from before it is not resumed (`epochs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// One migration of this crate.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// `0002_add_bookmark_note`: its number, then what it does.
    pub name: &'static str,
    /// Its file, as written by `ssot-gen generate`.
    pub sql: &'static str,
    /// The models whose tables it creates or changes.
    pub models: &'static [&'static str],
}

impl Migration {
    /// The number its name starts with.
    pub fn version(&self) -> i64 {
        let digits: String = self.name.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap_or(0)
    }

    /// The SHA-256 of its file, in lowercase hex, as the lock file records it.
    pub fn checksum(&self) -> String {
        Sha256::digest(self.sql.as_bytes()).iter().fold(
            String::with_capacity(64),
            |mut hex, byte| {
                let _ = write!(hex, "{byte:02x}");
                hex
            },
        )
    }
}

/// A migration as a database recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The number its name starts with (`2`).
    pub version: i64,
    /// Its name, as [`Migration::name`] (`0002_add_bookmark_note`).
    pub name: String,
    /// SHA-256 of the file it ran; `None` for a migration applied before checksums were recorded (by a server
    /// generated before they were), which the server records as its own, unchanged since.
    pub checksum: Option<String>,
    /// When it was applied, as the database printed the time.
    pub applied_at: String,
    /// The outbox's head when it was applied (0 when not recorded).
    pub outbox_head: i64,
}

/// The migrations of `known` that the database has not applied yet; or why the server must not run on it: the
/// database has a migration this server does not know, or one that differs from this server's.
pub fn pending<'m>(
    known: &'m [Migration],
    applied: &[Applied],
    dialect: &str,
) -> Result<&'m [Migration], String> {
    for (index, done) in applied.iter().enumerate() {
        let Some(ours) = known.get(index) else {
            return Err(format!(
                "the database has migration {}, which this server does not know: a newer version of it migrated \
                 the database. Run that version (or a later one), or restore the backup taken before it migrated",
                done.name
            ));
        };
        if ours.version() != done.version || ours.name != done.name {
            return Err(format!(
                "the database's migration {} is {}, but this server's is {}: they come from different histories \
                 (two branches that both changed the schema?). Run the server whose migrations the database has, \
                 or restore a backup taken before {}",
                done.version, done.name, ours.name, done.name
            ));
        }
        if let Some(recorded) = &done.checksum {
            let checksum = ours.checksum();
            if *recorded != checksum {
                return Err(format!(
                    "migration {} differs from the one the database applied (checksum {} there, {} here): \
                     migrations/{dialect}/{}.sql was edited after it ran. Restore it as it was (from version \
                     control) and build the server again. Change the schema instead of a migration",
                    ours.name,
                    short(recorded),
                    short(&checksum),
                    ours.name
                ));
            }
        }
    }
    Ok(&known[applied.len().min(known.len())..])
}

fn short(checksum: &str) -> &str {
    checksum.get(..12).unwrap_or(checksum)
}

/// Per model, the outbox's head when the last migration that changed its table (after the first, which created
/// it) was applied. A subscriber whose `since` is not above it holds rows from before that migration, which may
/// lack what the migration added (a column, a value filled in) and whose events may have another shape or
/// model name: its subscription is not resumed, and it fetches again.
pub fn epochs(known: &[Migration], applied: &[Applied]) -> BTreeMap<String, i64> {
    let mut epochs = BTreeMap::new();
    for (migration, done) in known.iter().zip(applied).skip(1) {
        for model in migration.models {
            epochs.insert((*model).to_owned(), done.outbox_head);
        }
    }
    epochs
}

/// The `migrate` command's report: every migration, applied (when) or pending.
pub fn status(known: &[Migration], applied: &[Applied]) -> String {
    let width = known.iter().map(|m| m.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (index, migration) in known.iter().enumerate() {
        let state = match applied.get(index) {
            Some(done) => format!("applied {}", done.applied_at),
            None => "pending".to_owned(),
        };
        let _ = writeln!(out, "  {:width$}  {state}", migration.name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[Migration] = &[
        Migration {
            name: "0001_init",
            sql: "CREATE TABLE a (id INTEGER);",
            models: &["A", "B"],
        },
        Migration {
            name: "0002_add_a_x",
            sql: "ALTER TABLE a ADD COLUMN x TEXT;",
            models: &["A"],
        },
    ];

    fn applied(migration: &Migration, head: i64) -> Applied {
        Applied {
            version: migration.version(),
            name: migration.name.to_owned(),
            checksum: Some(migration.checksum()),
            applied_at: "then".to_owned(),
            outbox_head: head,
        }
    }

    #[test]
    fn pending_are_the_migrations_after_the_applied_ones() {
        assert_eq!(KNOWN[1].version(), 2);
        assert_eq!(pending(KNOWN, &[], "sqlite").unwrap().len(), 2);
        let first = [applied(&KNOWN[0], 0)];
        assert_eq!(
            pending(KNOWN, &first, "sqlite").unwrap()[0].name,
            "0002_add_a_x"
        );
        let both = [applied(&KNOWN[0], 0), applied(&KNOWN[1], 7)];
        assert!(pending(KNOWN, &both, "sqlite").unwrap().is_empty());
        // Applied before checksums were recorded: taken as this server's.
        let legacy = [Applied {
            checksum: None,
            ..applied(&KNOWN[0], 0)
        }];
        assert_eq!(pending(KNOWN, &legacy, "sqlite").unwrap().len(), 1);
    }

    #[test]
    fn an_unknown_or_edited_migration_is_refused() {
        let newer = Migration {
            name: "0003_drop_b",
            sql: "DROP TABLE b;",
            models: &[],
        };
        let three = [
            applied(&KNOWN[0], 0),
            applied(&KNOWN[1], 0),
            applied(&newer, 0),
        ];
        let err = pending(KNOWN, &three, "sqlite").unwrap_err();
        assert!(
            err.starts_with(
                "the database has migration 0003_drop_b, which this server does not know"
            ),
            "{err}"
        );
        let edited = [Applied {
            checksum: Some("0".repeat(64)),
            ..applied(&KNOWN[0], 0)
        }];
        let err = pending(KNOWN, &edited, "postgres").unwrap_err();
        assert!(
            err.contains("migrations/postgres/0001_init.sql was edited after it ran"),
            "{err}"
        );
        let other = [Applied {
            name: "0001_other".to_owned(),
            ..applied(&KNOWN[0], 0)
        }];
        let err = pending(KNOWN, &other, "sqlite").unwrap_err();
        assert!(err.contains("they come from different histories"), "{err}");
    }

    #[test]
    fn a_model_dates_from_the_last_migration_that_changed_it() {
        let both = [applied(&KNOWN[0], 0), applied(&KNOWN[1], 42)];
        let epochs = epochs(KNOWN, &both);
        assert_eq!(epochs["A"], 42);
        assert_eq!(
            epochs.get("B"),
            None,
            "B did not change since the first migration"
        );
        assert!(status(KNOWN, &both[..1]).contains("0002_add_a_x  pending"));
    }
}
