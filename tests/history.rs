//! The migration history through the command line: `generate` writes the next migration when the schema's
//! storage changes and refuses what would lose data (or cannot be done) with a located error, writing nothing;
//! `check` shows a change that has no migration yet and a migration edited after it was written; a crate from
//! before lock files is adopted as it is, or refused with what to do.

mod common;

use std::collections::BTreeMap;
use std::process::Output;

use common::bin;

const V1: &str = "\
crate: notes
models:
  Note:
    fields:
      id:    { type: int, id: true, default: autoincrement }
      title: { type: string, max: 100 }
      stars: bigint?
      tag:   string?
  Folder:
    fields:
      id:   { type: int, id: true, default: autoincrement }
      name: string
";

/// A folder with a schema file and a generated crate in `app/`.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(schema: &str) -> Project {
        let project = Project {
            dir: tempfile::tempdir().unwrap(),
        };
        project.schema(schema);
        let out = project.run(&["generate"]);
        assert!(out.status.success(), "{}", text(&out));
        project
    }

    fn schema(&self, text: &str) {
        std::fs::write(self.dir.path().join("schema.yaml"), text).unwrap();
    }

    /// `ssot-gen <command> schema.yaml -o app <extra>`.
    fn run(&self, args: &[&str]) -> Output {
        let (command, extra) = args.split_first().unwrap();
        bin()
            .arg(command)
            .args(["schema.yaml", "-o", "app"])
            .args(extra)
            .current_dir(self.dir.path())
            .output()
            .expect("ssot-gen runs")
    }

    fn app(&self) -> std::path::PathBuf {
        self.dir.path().join("app")
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.app().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Every file of the crate, for "nothing was written".
    fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        let mut pending = vec![self.app()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let name = path.strip_prefix(self.app()).unwrap().display().to_string();
                    files.insert(name, std::fs::read(&path).unwrap());
                }
            }
        }
        files
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// 1-based line and column of `needle` in `text`.
fn position(text: &str, needle: &str) -> String {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the schema"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("schema.yaml:{line}:{column}")
}

#[test]
fn a_change_is_shown_by_check_then_written_by_generate() {
    let project = Project::new(V1);
    assert!(project
        .read("migrations/schema.lock.json")
        .contains("\"0001_init\""));
    let v2 = V1.replace(
        "      tag:   string?\n",
        "      tag:   string?\n      pinned: { type: bool, default: false }\n",
    );
    project.schema(&v2);

    let check = project.run(&["check"]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(
        text(&check).contains(
            "`ssot-gen generate` would write 0002_add_note_pinned:\n  - Note: add field `pinned`"
        ),
        "{}",
        text(&check)
    );
    assert!(!project
        .app()
        .join("migrations/sqlite/0002_add_note_pinned.sql")
        .exists());

    let generate = project.run(&["generate"]);
    assert!(generate.status.success(), "{}", text(&generate));
    assert!(text(&generate)
        .contains("wrote migration 0002_add_note_pinned:\n  - Note: add field `pinned`"));
    assert!(project
        .read("migrations/sqlite/0002_add_note_pinned.sql")
        .contains("ALTER TABLE \"notes\" ADD COLUMN \"pinned\" INTEGER NOT NULL DEFAULT 0"));
    assert!(project
        .read("migrations/postgres/0002_add_note_pinned.sql")
        .contains("ALTER TABLE \"notes\" ADD COLUMN \"pinned\" BOOLEAN NOT NULL DEFAULT FALSE;"));
    let check = project.run(&["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));

    // Generating again writes nothing new; a given name only names a migration that is written.
    let files = project.files();
    let again = project.run(&["generate", "--name", "unused"]);
    assert!(
        text(&again).contains("no migration written, --name not used"),
        "{}",
        text(&again)
    );
    assert_eq!(project.files(), files);
    project.schema(&v2.replace(
        "      stars: bigint?\n",
        "      stars: { type: bigint?, max: 5 }\n",
    ));
    let named = project.run(&["generate", "--name", "Limit stars!"]);
    assert!(named.status.success(), "{}", text(&named));
    assert!(project
        .app()
        .join("migrations/postgres/0003_limit_stars.sql")
        .exists());
}

#[test]
fn refusals_exit_2_with_a_located_error_and_write_nothing() {
    let project = Project::new(V1);
    let files = project.files();
    // (schema, the text the error points at, the message, what the hint says)
    let cases: Vec<(String, &str, &str, &str)> = vec![
        (
            V1.replace("  Folder:\n    fields:\n      id:   { type: int, id: true, default: autoincrement }\n      name: string\n", ""),
            "models:",
            "model `Folder` is no longer in the schema: the migration would drop table `folders` and every row in it",
            "--accept-data-loss",
        ),
        (
            V1.replace("      tag:   string?\n", ""),
            "Note:",
            "field `Note.tag` is no longer in the schema: the migration would drop column `notes`.`tag` and its values",
            "add `renamedFrom: tag` to its new name",
        ),
        (
            V1.replace("      tag:   string?\n", "      label: string?\n"),
            "Note:",
            "field `Note.tag` is no longer in the schema",
            "if `label` is `tag` renamed, add `renamedFrom: tag` to `Note.label`",
        ),
        (
            V1.replace("stars: bigint?", "stars: int?"),
            "int?",
            "changing `Note.stars` from `bigint` to `int` narrows it",
            "--accept-data-loss",
        ),
        (
            V1.replace("stars: bigint?", "stars: uuid?"),
            "uuid?",
            "`Note.stars` cannot change from `bigint` to `uuid` in place",
            "add a new field of type `uuid`",
        ),
        (
            V1.replace("      tag:   string?\n", "      tag:   string?\n      color: string\n"),
            "color",
            "`Note.color` is required and has no default, so the migration cannot add the field",
            "add `backfill: <value>`",
        ),
        (
            V1.replace("tag:   string?", "tag:   string"),
            "tag:",
            "`Note.tag` is required and has no default, so the migration cannot make the field required",
            "add `backfill: <value>`",
        ),
        (
            V1.replace("      id:    { type: int, id: true, default: autoincrement }\n", "      id:    { type: int, id: true }\n"),
            "id: ",
            "`Note.id` changes the table's key (which field is the id, or whether it is generated); migrations cannot change a key",
            "add a new model",
        ),
        (
            V1.replace("      tag:   string?\n", "      label: { type: string?, renamedFrom: tags }\n"),
            "tags",
            "field `Note.label` was renamed from `tags`, but `Note` had no field `tags` in the last migration (0001_init)",
            "did you mean `tag`?",
        ),
    ];
    for (schema, at, message, hint) in cases {
        project.schema(&schema);
        let out = project.run(&["generate"]);
        let report = text(&out);
        assert_eq!(out.status.code(), Some(2), "{message}:\n{report}");
        assert!(report.contains(&format!("error: {message}")), "{report}");
        assert!(
            report.contains(&format!("--> {}", position(&schema, at))),
            "{message}: {report}"
        );
        assert!(report.contains(hint), "{message}: {report}");
        assert_eq!(project.files(), files, "{message}: something was written");
    }
}

#[test]
fn accepted_data_loss_is_written_down_first() {
    let project = Project::new(V1);
    project.schema(
        &V1.replace("      tag:   string?\n", "")
            .replace("stars: bigint?", "stars: int?"),
    );
    let check = project.run(&["check"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        text(&check).contains("`ssot-gen generate --accept-data-loss` would write 0002_alter_note"),
        "{}",
        text(&check)
    );
    let out = project.run(&["generate", "--accept-data-loss"]);
    assert!(out.status.success(), "{}", text(&out));
    for dialect in ["sqlite", "postgres"] {
        let sql = project.read(&format!("migrations/{dialect}/0002_alter_note.sql"));
        let loss = sql
            .find("-- DATA LOSS (accepted with --accept-data-loss)")
            .expect("a data loss note");
        assert!(loss < sql.find("-- Changes:").unwrap(), "{sql}");
        assert!(
            sql.contains("drops column `notes`.`tag` (field `Note.tag`) and its values"),
            "{sql}"
        );
        assert!(
            sql.contains("narrows `Note.stars` from `bigint` to `int`"),
            "{sql}"
        );
    }
}

#[test]
fn edited_missing_and_unknown_migrations_are_reported() {
    let project = Project::new(V1);
    project.schema(&V1.replace(
        "      tag:   string?\n",
        "      tag:   string?\n      done: bool?\n",
    ));
    assert!(project.run(&["generate"]).status.success());
    let sqlite = project
        .app()
        .join("migrations/sqlite/0002_add_note_done.sql");
    let original = std::fs::read_to_string(&sqlite).unwrap();
    std::fs::write(
        &sqlite,
        original.replace("ADD COLUMN", "ADD COLUMN IF NOT EXISTS"),
    )
    .unwrap();
    std::fs::remove_file(project.app().join("migrations/postgres/0001_init.sql")).unwrap();
    std::fs::write(
        project.app().join("migrations/postgres/0003_mine.sql"),
        "SELECT 1;",
    )
    .unwrap();

    let check = project.run(&["check"]);
    let report = text(&check);
    assert_eq!(check.status.code(), Some(1), "{report}");
    assert!(
        report.contains(
            "damaged: migrations/sqlite/0002_add_note_done.sql: edited since it was written"
        ),
        "{report}"
    );
    assert!(
        report.contains(
            "damaged: migrations/postgres/0001_init.sql: recorded in the lock file but missing"
        ),
        "{report}"
    );
    assert!(
        report
            .contains("damaged: migrations/postgres/0003_mine.sql: not a migration ssot-gen wrote"),
        "{report}"
    );

    let files = project.files();
    let generate = project.run(&["generate"]);
    assert_eq!(generate.status.code(), Some(2), "{}", text(&generate));
    assert!(
        text(&generate).contains("restore it from version control"),
        "{}",
        text(&generate)
    );
    assert_eq!(project.files(), files, "something was written");
}

#[test]
fn a_crate_from_before_lock_files_is_adopted_when_its_schema_is_unchanged() {
    let project = Project::new(V1);
    let init = project.read("migrations/sqlite/0001_init.sql");
    std::fs::remove_file(project.app().join("migrations/schema.lock.json")).unwrap();
    let out = project.run(&["generate"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out)
        .contains("recorded migrations/schema.lock.json for the existing 0001_init migrations"));
    assert_eq!(project.read("migrations/sqlite/0001_init.sql"), init);

    // Without the lock file, a schema changed since the first migration cannot be continued.
    std::fs::remove_file(project.app().join("migrations/schema.lock.json")).unwrap();
    project.schema(&V1.replace("      tag:   string?\n", ""));
    let files = project.files();
    let out = project.run(&["generate"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(
            "was written before ssot-gen kept a lock file, for another schema than this one"
        ),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("Check out the schema it was generated from"),
        "{}",
        text(&out)
    );
    assert_eq!(project.files(), files, "something was written");
}

#[test]
fn a_change_no_database_stores_needs_no_migration() {
    let project = Project::new(V1);
    // `string` and `text` are stored alike by both databases; a doc or an access rule is not stored at all.
    project.schema(&V1.replace("tag:   string?", "tag:   { type: text?, doc: A label. }"));
    let out = project.run(&["generate"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("wrote migration"), "{}", text(&out));
    assert!(!project
        .app()
        .join("migrations/sqlite/0002_alter_note_tag.sql")
        .exists());
    assert!(project
        .read("migrations/schema.lock.json")
        .contains("\"field\": \"tag\", \"column\": \"tag\", \"type\": \"text\""));
    assert_eq!(project.run(&["check"]).status.code(), Some(0));
}
