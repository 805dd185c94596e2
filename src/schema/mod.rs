//! The schema as the user wrote it: plain data with a position on every value, before any meaning is checked.
//! `read` turns YAML text into these types; `crate::model` turns them into the validated model graph.

mod read;

pub(crate) use read::scalar_to_json;
pub use read::{parse, ACCESS_KEYS, AUTH_KEYS, ENUM_KEYS, FIELD_KEYS, MODEL_KEYS, TOP_LEVEL_KEYS};

use crate::diagnostics::Loc;

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub loc: Loc,
}

impl<T> Spanned<T> {
    pub fn new(value: T, loc: Loc) -> Self {
        Spanned { value, loc }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    pub crate_name: Option<Spanned<String>>,
    pub version: Option<Spanned<String>>,
    pub description: Option<String>,
    /// Roles that access rules may name; `None` means the default, `[admin]`.
    pub roles: Option<Vec<Spanned<String>>>,
    /// The model whose id is the JWT subject; `None` means the model called `User`, if there is one.
    pub user_model: Option<Spanned<String>>,
    pub enums: Vec<EnumSpec>,
    pub models: Vec<ModelSpec>,
    /// Where the document starts, for problems that belong to no single key.
    pub loc: Loc,
    /// Where `models:` is written (a migration that drops a model points there).
    pub models_loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnumSpec {
    pub name: Spanned<String>,
    pub values: Vec<Spanned<String>>,
    pub doc: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub name: Spanned<String>,
    pub doc: Option<String>,
    pub plural: Option<Spanned<String>>,
    pub table: Option<Spanned<String>>,
    pub realtime: Option<Spanned<bool>>,
    pub fields: Vec<FieldSpec>,
    pub access: AccessSpec,
    /// The model's name in the previous migration, when it was renamed (`renamedFrom:`).
    pub renamed_from: Option<Spanned<String>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccessSpec {
    pub read: Option<RuleSpec>,
    pub create: Option<RuleSpec>,
    pub update: Option<RuleSpec>,
    pub delete: Option<RuleSpec>,
    /// Where `access:` was written, or the model name when it is missing.
    pub loc: Loc,
}

/// One operation's rule: any of the listed principals may perform it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    pub principals: Vec<Spanned<String>>,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub name: Spanned<String>,
    /// The type name without a trailing `?`.
    pub ty: Spanned<String>,
    pub optional: bool,
    pub id: bool,
    pub default: Option<Spanned<DefaultSpec>>,
    pub unique: bool,
    pub readonly: bool,
    pub hidden: bool,
    pub owner: Option<Spanned<bool>>,
    pub references: Option<Spanned<String>>,
    /// Name of the reverse relation on the referenced model.
    pub inverse: Option<Spanned<String>>,
    /// What deleting the referenced row does to this row (`onDelete:`): `restrict`, `cascade` or `setNull`.
    pub on_delete: Option<Spanned<String>>,
    pub min: Option<Spanned<f64>>,
    pub max: Option<Spanned<f64>>,
    pub doc: Option<String>,
    /// The field's name in the previous migration, when it was renamed (`renamedFrom:`).
    pub renamed_from: Option<Spanned<String>>,
    /// The value existing rows get when a migration makes the field required (`backfill:`); read like a default.
    pub backfill: Option<Spanned<DefaultSpec>>,
}

/// A default as written: a keyword or literal scalar, or structured YAML (for `json` fields).
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultSpec {
    Scalar(String),
    Structured(serde_json::Value),
}
