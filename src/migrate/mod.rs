//! Schema evolution: every change to the schema's storage becomes a migration, written once and kept.
//!
//! A generated crate holds its history under `migrations/`: one file per migration and dialect
//! (`migrations/{sqlite,postgres}/0002_add_message_pinned.sql`) and the lock file (`lock`), which lists the
//! migrations with their checksums and records the storage shape (`shape`) after the last one. Generating
//! compares the graph's shape with the recorded one (`diff`) and, when they differ, writes the next migration
//! (`sqlite`, `postgres`, named by `name`) and the new lock. Migrations already written are copied as they are,
//! never rewritten.
//!
//! This module does no I/O: the caller reads the history (`History`) and writes the result.

mod diff;
mod lock;
mod name;
mod postgres;
mod shape;
mod sqlite;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::format;
use crate::model::Graph;
use crate::{Error, Options};
use lock::{Entry, Lock};
use shape::Shape;

pub use lock::PATH as LOCK_PATH;

/// The dialects, as they name the folders under `migrations/`.
pub const DIALECTS: [&str; 2] = ["sqlite", "postgres"];

/// The first migration, rendered from `templates/migrations/init.sql.jinja`.
pub const INIT: &str = "0001_init";

/// The migration history as the output folder holds it, read by the caller (`output::read_history`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// `migrations/schema.lock.json`, if there is one.
    pub lock: Option<String>,
    /// Every `migrations/<dialect>/*.sql` file: path in the crate -> contents.
    pub files: BTreeMap<String, String>,
}

impl History {
    /// The history of a folder holding `files` (a crate's generated files, by path).
    pub fn of(files: &BTreeMap<String, String>) -> History {
        History {
            lock: files.get(lock::PATH).cloned(),
            files: files
                .iter()
                .filter(|(path, _)| {
                    DIALECTS
                        .iter()
                        .any(|d| path.starts_with(&format!("migrations/{d}/")))
                        && path.ends_with(".sql")
                })
                .map(|(path, text)| (path.clone(), text.clone()))
                .collect(),
        }
    }
}

/// What generating did to the history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The migration this run wrote, if the storage shape changed.
    pub written: Option<Written>,
    /// Migration files that differ from what the lock file records: a committed migration must not change.
    pub damaged: Vec<Damage>,
    /// The folder had a first migration from before lock files, and the lock file was made for it.
    pub adopted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// `0002_add_message_pinned`.
    pub name: String,
    /// What it does, one line per change.
    pub changes: Vec<String>,
    /// What it destroys (accepted with `--accept-data-loss`).
    pub data_loss: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub path: String,
    pub problem: String,
}

/// The migrations of one generation, decided before rendering (`plan`) and put in place after it (`finish`):
/// the first migration is rendered from a template with the rest of the crate.
pub struct Plan {
    shape: Shape,
    history: Kind,
}

enum Kind {
    /// No history: the rendered first migration is the whole of it.
    Fresh,
    /// A first migration from before lock files, and nothing else.
    Legacy(BTreeMap<String, String>),
    Tracked {
        lock: Box<Lock>,
        files: BTreeMap<String, String>,
        next: Option<Box<Step>>,
        damaged: Vec<Damage>,
    },
}

/// A new migration, its files final.
struct Step {
    entry: Entry,
    files: [(String, String); 2],
    written: Written,
}

/// Reads the history and, when the schema's storage changed, writes the next migration. Refusals (data loss
/// without `accept_data_loss`, impossible type changes, a required field without a value for existing rows) are
/// schema errors located in the schema; a history that cannot be read is `Error::History`.
pub fn plan(graph: &Graph, options: &Options) -> Result<Plan, Error> {
    let shape = Shape::of(graph);
    let history = &options.history;
    let Some(text) = &history.lock else {
        let history = if history.files.is_empty() {
            Kind::Fresh
        } else if history.files.keys().eq(init_paths().iter()) {
            Kind::Legacy(history.files.clone())
        } else {
            return Err(Error::History(format!(
                "{} is missing, but migrations/ has migrations ({}); without it the migrations cannot be continued. \
                 Restore it from version control.",
                lock::PATH,
                history.files.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        };
        return Ok(Plan { shape, history });
    };
    let lock = Lock::parse(text).map_err(|e| {
        Error::History(format!(
            "{e}\nThe lock file is written by ssot-gen and must not be edited; restore it from version control."
        ))
    })?;
    let damaged = damage(&lock, &history.files);
    let next = if damaged.is_empty() {
        step(graph, options, &lock, &shape)?
    } else {
        None
    };
    let files = lock
        .migrations
        .iter()
        .flat_map(|e| e.files())
        .filter_map(|(path, _)| history.files.get(&path).map(|text| (path, text.clone())))
        .collect();
    Ok(Plan {
        shape,
        history: Kind::Tracked {
            lock: Box::new(lock),
            files,
            next,
            damaged,
        },
    })
}

fn init_paths() -> Vec<String> {
    let mut paths: Vec<String> = DIALECTS.iter().map(|d| lock::path(d, INIT)).collect();
    paths.sort();
    paths
}

/// Migration files that are missing, edited, or not recorded in the lock file.
fn damage(lock: &Lock, files: &BTreeMap<String, String>) -> Vec<Damage> {
    let mut damaged = Vec::new();
    let mut known = Vec::new();
    for entry in &lock.migrations {
        for (path, checksum) in entry.files() {
            let problem = match files.get(&path) {
                None => "recorded in the lock file but missing; restore it from version control",
                Some(text) if lock::checksum(text) != checksum => {
                    "edited since it was written (its checksum differs from the lock file's); a database may have \
                     run it as it was: restore it from version control, and change the schema instead"
                }
                Some(_) => "",
            };
            if !problem.is_empty() {
                damaged.push(Damage {
                    path: path.clone(),
                    problem: problem.to_owned(),
                });
            }
            known.push(path);
        }
    }
    for path in files.keys().filter(|p| !known.contains(p)) {
        damaged.push(Damage {
            path: path.clone(),
            problem: format!(
                "not a migration ssot-gen wrote (not in {}); migrations come from the schema: remove it, and change \
                 the schema instead",
                lock::PATH
            ),
        });
    }
    damaged.sort_by(|a, b| a.path.cmp(&b.path));
    damaged
}

/// The next migration, if the graph's shape differs from the recorded one.
fn step(
    graph: &Graph,
    options: &Options,
    lock: &Lock,
    shape: &Shape,
) -> Result<Option<Box<Step>>, Error> {
    let last = lock.migrations.last().map_or(INIT, |e| e.name.as_str());
    let diff = diff::diff(&lock.shape, shape, graph, options.accept_data_loss, last)
        .map_err(|items| Error::Schema(graph.hints.report(items)))?;
    if diff.is_empty() {
        return Ok(None);
    }
    let name = match &options.migration_name {
        Some(given) => name::tidy(given).ok_or_else(|| {
            Error::History(format!(
                "--name {given:?} has no letters or digits; give a name such as `add_pinned_messages`"
            ))
        })?,
        None => name::derive(&diff),
    };
    let name = format!("{:04}_{name}", lock.migrations.len() + 1);
    let written = Written {
        name: name.clone(),
        changes: diff.changes.clone(),
        data_loss: diff.data_loss.clone(),
    };
    let (sqlite_sql, postgres_sql) = (sqlite::statements(&diff), postgres::statements(&diff));
    if sqlite_sql.is_empty() && postgres_sql.is_empty() {
        // The schema changed in a way neither database stores (`string` to `text`): the lock file records the new
        // shape, and no migration is needed.
        return Ok(None);
    }
    let [sqlite, postgres] = DIALECTS;
    let text = |dialect: &str, title: &str, blocks: Vec<Vec<String>>| {
        let path = lock::path(dialect, &name);
        let body = file_text(&written, last, title, &blocks);
        format::finish(
            &path,
            "migrations",
            body,
            &graph.generator,
            format::Rust::Format,
        )
        .map(|text| (path, text))
        .map_err(Error::Format)
    };
    let files = [
        text(sqlite, "SQLite", sqlite_sql)?,
        text(postgres, "PostgreSQL", postgres_sql)?,
    ];
    let entry = Entry {
        name,
        sqlite: lock::checksum(&files[0].1),
        postgres: lock::checksum(&files[1].1),
        models: diff.models(),
    };
    Ok(Some(Box::new(Step {
        entry,
        files,
        written,
    })))
}

/// A migration file: what it does, what it destroys, then its statements.
fn file_text(written: &Written, after: &str, dialect: &str, blocks: &[Vec<String>]) -> String {
    let transaction = if dialect == "SQLite" {
        "in one transaction, with foreign keys off until it is done and checked before it commits"
    } else {
        "in one transaction"
    };
    let mut text = format!(
        "-- Migration {} for {dialect}, after {after}.\n",
        written.name
    );
    text.push_str(&comment(&format!(
        "Written by `ssot-gen generate` from the schema: review it, commit it, and never edit it once a database \
         may have run it (the server refuses a database whose migrations differ from its own). The server runs it \
         {transaction}."
    )));
    text.push_str("--\n");
    if !written.data_loss.is_empty() {
        text.push_str("-- DATA LOSS (accepted with --accept-data-loss): this migration\n");
        for loss in &written.data_loss {
            text.push_str(&format!("--   - {loss}\n"));
        }
        text.push_str("--\n");
    }
    text.push_str("-- Changes:\n");
    for change in &written.changes {
        text.push_str(&format!("--   - {change}\n"));
    }
    if blocks.is_empty() {
        text.push_str(&format!(
            "\n-- Nothing to do on {dialect}: it stores these columns as they were.\n"
        ));
    }
    for block in blocks {
        text.push('\n');
        for line in block {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// `text` as SQL comment lines of at most 110 characters.
fn comment(text: &str) -> String {
    let mut out = String::new();
    let mut line = String::from("--");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > 110 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("--");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// Where the server's list of migrations goes, and its template.
pub const GLUE: (&str, &str) = ("src/server/migrations.rs", "src/server/migrations.rs.jinja");

/// A migration as the server's list names it.
#[derive(Serialize)]
struct Listed<'a> {
    name: &'a str,
    models: &'a [String],
}

impl Plan {
    /// The server's list of this crate's migrations (`src/server/migrations.rs`), to render with the other files.
    pub fn glue(&self, graph: &Graph) -> crate::render::Planned {
        let all: Vec<String> = graph.models.iter().map(|m| m.name.clone()).collect();
        let listed: Vec<Listed> = match &self.history {
            Kind::Fresh | Kind::Legacy(_) => vec![Listed {
                name: INIT,
                models: &all,
            }],
            Kind::Tracked { lock, next, .. } => lock
                .migrations
                .iter()
                .chain(next.iter().map(|step| &step.entry))
                .map(|e| Listed {
                    name: &e.name,
                    models: &e.models,
                })
                .collect(),
        };
        crate::render::Planned {
            path: GLUE.0.to_owned(),
            template: GLUE.1,
            context: minijinja::context! { migrations => minijinja::Value::from(minijinja::value::Serde(&listed)) },
            model: None,
            user_owned: false,
        }
    }

    /// Puts the migrations in place among the generated `files` (which hold the rendered first migration) and
    /// adds the lock file.
    pub fn finish(
        self,
        files: &mut BTreeMap<String, String>,
        graph: &Graph,
    ) -> Result<Report, Error> {
        let mut report = Report::default();
        let migrations = match self.history {
            Kind::Fresh => vec![init_entry(files, graph)],
            Kind::Legacy(history) => {
                for (path, text) in &history {
                    if without_header(&files[path]) != without_header(text) {
                        return Err(Error::History(format!(
                            "{path} was written before ssot-gen kept a lock file, for another schema than this one, so \
                             the storage it created is unknown. Check out the schema it was generated from (the \
                             commit that last changed {path}), run `ssot-gen generate` once to record {}, commit it, \
                             then come back to this schema and generate again: that writes the migration between them.",
                            lock::PATH
                        )));
                    }
                    files.insert(path.clone(), text.clone());
                }
                report.adopted = true;
                vec![init_entry(files, graph)]
            }
            Kind::Tracked {
                mut lock,
                files: history,
                next,
                damaged,
            } => {
                for path in init_paths() {
                    files.remove(&path);
                }
                files.extend(history);
                if let Some(step) = next {
                    let step = *step;
                    files.extend(step.files);
                    lock.migrations.push(step.entry);
                    report.written = Some(step.written);
                }
                report.damaged = damaged;
                lock.migrations
            }
        };
        let lock = Lock {
            generated: format::header(&graph.generator),
            migrations,
            shape: self.shape,
        };
        files.insert(lock::PATH.to_owned(), lock.render());
        Ok(report)
    }
}

/// The lock entry of the first migration, as it is in `files`.
fn init_entry(files: &BTreeMap<String, String>, graph: &Graph) -> Entry {
    let [sqlite, postgres] = DIALECTS;
    Entry {
        name: INIT.to_owned(),
        sqlite: lock::checksum(&files[&lock::path(sqlite, INIT)]),
        postgres: lock::checksum(&files[&lock::path(postgres, INIT)]),
        models: graph.models.iter().map(|m| m.name.clone()).collect(),
    }
}

/// A generated file without its `@generated` line, which names the generator's version.
fn without_header(text: &str) -> &str {
    match text.split_once('\n') {
        Some((first, rest)) if first.contains("@generated") => rest,
        _ => text,
    }
}
