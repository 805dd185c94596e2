//! The benchmark's synthetic schema of N models, shared with `tests/preformatted.rs` (included by `#[path]`).

use std::fmt::Write as _;

/// Model name stems; the model index is appended, so names stay unique and pluralize regularly.
const STEMS: &[&str] = &[
    "Project", "Task", "Comment", "Invoice", "Order", "Document", "Event", "Ticket",
];

/// Deterministic pseudo-random choice in `0..n` for model `i`, salt `salt` (no RNG dependency, same schema on
/// every run).
fn pick(i: usize, salt: u64, n: usize) -> usize {
    let mut x =
        (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 29;
    (x % n as u64) as usize
}

/// Name of synthetic model `i` (1-based; model 0 is `User`).
fn model_name(i: usize) -> String {
    format!("{}{i}", STEMS[i % STEMS.len()])
}

/// Id type of synthetic model `i`: uuid ids for even models, autoincrement ints for odd ones.
fn id_type(i: usize) -> &'static str {
    if i % 2 == 0 {
        "uuid"
    } else {
        "int"
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// A schema of `models` models: a `User` model plus `models - 1` models with a realistic mix of fields (uuid and
/// int ids, bounded strings, text, optional datetimes, two enums, a bool, a json, a bounded int), references to
/// one or two earlier models (some optional, so relations and inverse relations are exercised), an owner field
/// referencing `User` on three models in four, and per-operation access rules using owner, self and roles.
pub fn synthetic_schema(models: usize) -> String {
    assert!(
        models >= 2,
        "the synthetic schema needs at least the User model and one other"
    );
    let mut s = String::new();
    writeln!(s, "# Synthetic benchmark schema: {models} models.").unwrap();
    writeln!(s, "crate: synthetic-{models}").unwrap();
    writeln!(
        s,
        "description: Synthetic schema of {models} models for the generation benchmark."
    )
    .unwrap();
    writeln!(s, "roles: [admin, editor]").unwrap();
    writeln!(s, "enums:").unwrap();
    writeln!(s, "  Status: [draft, active, archived]").unwrap();
    writeln!(s, "  Priority:").unwrap();
    writeln!(s, "    values: [low, medium, high, urgent]").unwrap();
    writeln!(s, "    doc: How urgent a row is.").unwrap();
    writeln!(s, "models:").unwrap();
    writeln!(s, "  User:").unwrap();
    writeln!(s, "    doc: A person who signs in.").unwrap();
    writeln!(s, "    fields:").unwrap();
    writeln!(
        s,
        "      id:           {{ type: uuid, id: true, default: uuid }}"
    )
    .unwrap();
    writeln!(
        s,
        "      email:        {{ type: string, unique: true, max: 254 }}"
    )
    .unwrap();
    writeln!(
        s,
        "      name:         {{ type: string, min: 1, max: 100 }}"
    )
    .unwrap();
    writeln!(s, "      passwordHash: {{ type: string, hidden: true }}").unwrap();
    writeln!(s, "      lastSeenAt:   datetime?").unwrap();
    writeln!(
        s,
        "      createdAt:    {{ type: datetime, default: now, readonly: true }}"
    )
    .unwrap();
    writeln!(s, "    access: {{ read: authenticated, create: admin, update: [self, admin], delete: admin }}").unwrap();

    for i in 1..models {
        let name = model_name(i);
        let owned = i % 4 != 0;
        writeln!(s, "  {name}:").unwrap();
        if i % 5 == 0 {
            writeln!(s, "    doc: Synthetic model number {i}.").unwrap();
        }
        if i % 7 == 0 {
            writeln!(s, "    realtime: false").unwrap();
        }
        writeln!(s, "    fields:").unwrap();
        match id_type(i) {
            "uuid" => writeln!(s, "      id: {{ type: uuid, id: true, default: uuid }}").unwrap(),
            _ => writeln!(
                s,
                "      id: {{ type: int, id: true, default: autoincrement }}"
            )
            .unwrap(),
        }
        writeln!(s, "      title: {{ type: string, min: 1, max: 200 }}").unwrap();
        writeln!(
            s,
            "      slug: {{ type: string, unique: true, max: 80, doc: \"URL name of the row.\" }}"
        )
        .unwrap();
        writeln!(s, "      body: text?").unwrap();
        writeln!(s, "      status: {{ type: Status, default: draft }}").unwrap();
        if i % 3 == 0 {
            writeln!(s, "      priority: Priority?").unwrap();
        }
        writeln!(s, "      pinned: {{ type: bool, default: false }}").unwrap();
        writeln!(
            s,
            "      metadata: {{ type: json, default: {{ tags: [], version: 1 }} }}"
        )
        .unwrap();
        writeln!(
            s,
            "      position: {{ type: int, min: 0, max: 100000, default: 0 }}"
        )
        .unwrap();
        if i % 2 == 1 {
            writeln!(s, "      score: {{ type: float, min: 0, max: 1 }}").unwrap();
        }
        writeln!(s, "      dueAt: datetime?").unwrap();
        writeln!(
            s,
            "      publishedAt: {{ type: datetime?, hidden: {} }}",
            i % 6 == 0
        )
        .unwrap();
        writeln!(
            s,
            "      createdAt: {{ type: datetime, default: now, readonly: true }}"
        )
        .unwrap();
        if owned {
            writeln!(
                s,
                "      ownerId: {{ type: uuid, references: User, owner: true }}"
            )
            .unwrap();
        } else {
            // A non-owner reference to the user model: a second relation into `User`.
            writeln!(s, "      reviewerId: {{ type: uuid?, references: User }}").unwrap();
        }
        // References to earlier models: the previous one (a chain), and for most models one further back.
        if i >= 2 {
            let parent = i - 1;
            let optional = if i % 3 == 0 { "?" } else { "" };
            writeln!(
                s,
                "      {}Id: {{ type: {}{optional}, references: {} }}",
                lower_first(&model_name(parent)),
                id_type(parent),
                model_name(parent)
            )
            .unwrap();
        }
        if i >= 3 && i % 4 != 3 {
            let other = 1 + pick(i, 1, i - 2); // in 1..=i-2, never the parent
            writeln!(
                s,
                "      {}Id: {{ type: {}?, references: {} }}",
                lower_first(&model_name(other)),
                id_type(other),
                model_name(other)
            )
            .unwrap();
        }
        let access = match (owned, i % 3) {
            (true, 0) => "{ read: public, create: authenticated, update: [owner, admin], delete: [owner, admin] }",
            (true, 1) => "{ read: authenticated, create: authenticated, update: owner, delete: [owner, admin] }",
            (true, _) => "{ read: [owner, editor], create: [authenticated], update: [owner, editor], delete: admin }",
            (false, _) => "{ read: public, create: [editor, admin], update: editor, delete: admin }",
        };
        writeln!(s, "    access: {access}").unwrap();
    }
    s
}
