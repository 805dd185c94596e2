//! The model graph: the validated, fully decided description of the crate to generate. Every name, SQL type,
//! route and rule is computed here once; templates only print it. Built from a `Schema` by `build`.

mod build;
mod describe;
mod formats;
pub mod hints;
pub mod names;
pub(crate) mod sql;
pub mod types;

pub use build::build;

use serde::Serialize;

use types::{BoundKind, FilterKind, QueryFilter, Scalar};

/// Rows a list returns when the request gives no `take` (the server's `DEFAULT_TAKE` overrides it).
pub const DEFAULT_TAKE: u32 = 20;
/// The largest `take` a list accepts (the server's `MAX_TAKE` overrides it).
pub const MAX_TAKE: u32 = 100;
/// How deep a read's `include` may nest (for OpenAPI: the runtime's `rest::MAX_DEPTH` is the
/// limit, and the test below keeps the two equal).
pub const MAX_INCLUDE_DEPTH: usize = 3;

#[derive(Debug, Clone, Serialize)]
pub struct Graph {
    /// The crate's package name as written (`chat-api`).
    pub crate_name: String,
    /// The crate's Rust name (`chat_api`).
    pub crate_ident: String,
    pub version: String,
    pub description: Option<String>,
    /// `ssot-gen <version>`, for headers and the manifest.
    pub generator: String,
    pub roles: Vec<String>,
    /// Schema name of the model whose id is the token subject.
    pub user_model: Option<String>,
    /// Sorted by name.
    pub enums: Vec<Enum>,
    /// Sorted by name.
    pub models: Vec<Model>,
    /// Some patch input has a nullable field, which needs a three-state (absent / null / value) representation.
    pub uses_double_option: bool,
    /// Indices into `models` of the models with live channels; templates see the models themselves
    /// (`graph.realtime_models`).
    #[serde(skip)]
    pub realtime_models: Vec<usize>,
    /// Page sizes of lists, with the default configuration.
    pub paging: Paging,
    /// The names of the API schemas that models share.
    pub api_names: SharedApiNames,
    /// The filter structs of the generated `query` module, with their operators.
    pub query_filters: Vec<QueryFilter>,
    /// Renames, backfills and positions, for planning migrations; templates do not see them.
    #[serde(skip)]
    pub hints: hints::Hints,
}

/// Page sizes of lists (`DEFAULT_TAKE`, `MAX_TAKE`).
#[derive(Debug, Clone, Serialize)]
pub struct Paging {
    pub default_take: u32,
    pub max_take: u32,
}

/// The names of the API schemas (OpenAPI components) that every model shares.
#[derive(Debug, Clone, Serialize)]
pub struct SharedApiNames {
    /// The one error shape.
    pub error: String,
    /// The direction of a sort key (`asc`, `desc`).
    pub sort_order: String,
    /// One operator schema per operand type and nullability, referenced by every filterable field with that operand
    /// (`Field::api_filter`); sorted by operand.
    pub filters: Vec<OperandFilter>,
}

/// The operators of a field filter on one operand type.
#[derive(Debug, Clone, Serialize)]
pub struct OperandFilter {
    pub name: String,
    pub kind: FilterKind,
    /// The type of the first field that uses it (`string` and `text` share one).
    pub scalar: Scalar,
    /// The operand's label: the enum's name for an enum, else the type's (`String`, `DateTime`).
    pub type_name: String,
    /// The field is optional: `isNull` is an operator.
    pub nullable: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Enum {
    pub name: String,
    pub rust_name: String,
    pub doc: Option<String>,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Variant {
    /// The value on the wire and in the database.
    pub value: String,
    pub rust_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Model {
    /// Name in the schema; also the name on the wire and in channel names.
    pub name: String,
    pub doc: Option<String>,
    /// Module that holds the model's types (`message`, `r#type`).
    pub module: String,
    /// `src/models/<file_stem>.rs`
    pub file_stem: String,
    /// PascalCase plural (`ChatRooms`).
    pub plural: String,
    /// REST collection path (`/api/chat-rooms`).
    pub route: String,
    /// Client accessor method name (`chat_rooms`).
    pub accessor: String,
    /// SQL table name, unquoted.
    pub table: String,
    pub realtime: bool,
    pub types: ModelTypes,
    /// In schema order.
    pub fields: Vec<Field>,
    /// Schema name of the id field.
    pub id_field: String,
    /// Schema name of the owner field.
    pub owner_field: Option<String>,
    pub access: Access,
    /// Many-to-one references this model makes.
    pub relations: Vec<Relation>,
    /// References other models (or this one) make to it.
    pub inverse_relations: Vec<InverseRelation>,
    /// The relations reads can include (`?include=`), sorted by name.
    pub includes: Vec<Include>,
    pub channels: Channels,
    /// Rust names of the filter's combinators (`AND`, `OR`, `NOT` on the wire), kept clear of field names.
    pub filter_logic: FilterLogic,
    pub sql: ModelSql,
    /// Quoted SQL names the server's queries use (the same in both dialects).
    pub sql_names: SqlNames,
    /// The names of the model's API schemas (OpenAPI components).
    pub api_names: ApiNames,
    /// Which fields take part in each type and query.
    #[serde(skip)]
    pub sets: FieldSets,
    /// Some field is hidden (left out of the record).
    pub has_hidden_fields: bool,
    /// The filter has a required field (`query::field`) and an optional one (`query::nullable`).
    pub filters_required: bool,
    pub filters_optional: bool,
    /// Creating a row needs the time or the caller (a field set to now, today or the owner).
    pub insert_needs_context: bool,
    /// The bounds each input checks in its `validate()`, in field order.
    pub validations: Validations,
}

/// The fields that take part in each type and query of a model, as indices into `Model::fields` (in schema order).
/// Templates see each as a list of the fields themselves, under the name given first
/// (`render::Templates::graph_value`).
#[derive(Debug, Clone, Default)]
pub struct FieldSets {
    /// `model.id`: the id field.
    pub id: usize,
    /// `model.owner`: the owner field, if any.
    pub owner: Option<usize>,
    /// `model.record_fields`: the record readers see (hidden fields left out).
    pub record: Vec<usize>,
    /// `model.create_fields`: the create input (server-set fields left out).
    pub create: Vec<usize>,
    /// `model.update_fields`: the `PUT` input.
    pub update: Vec<usize>,
    /// `model.patch_fields`: the `PATCH` input.
    pub patch: Vec<usize>,
    /// `model.filter_fields`: the fields of the filter.
    pub filter: Vec<usize>,
    /// `model.order_fields`: the fields lists can be sorted by.
    pub order: Vec<usize>,
}

/// The names of one model's API schemas.
#[derive(Debug, Clone, Serialize)]
pub struct ApiNames {
    pub record: String,
    pub create: String,
    pub update: String,
    pub patch: String,
    pub filter: String,
    pub order_by: String,
    /// A page of a list.
    pub list: String,
    /// The record with the relations a read can include (only for a model that has relations).
    pub with_relations: String,
}

/// The bound checks of each input type.
#[derive(Debug, Clone, Serialize)]
pub struct Validations {
    pub create: Vec<Validation>,
    pub update: Vec<Validation>,
    pub patch: Vec<Validation>,
}

/// One field's `min`/`max` check in an input's `validate()`.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    /// The field's schema name, which the error names.
    pub field: String,
    pub rust_name: String,
    pub bounds: Bounds,
    pub held: Held,
}

/// How an input holds a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Held {
    /// `T`
    Plain,
    /// `Option<T>`: absent, or a value.
    Option,
    /// `Option<Option<T>>`: absent, null, or a value (a patch of an optional field).
    Double,
}

/// Quoted identifiers and column lists for queries.
#[derive(Debug, Clone, Serialize)]
pub struct SqlNames {
    pub table: String,
    pub id_column: String,
    pub owner_column: Option<String>,
    /// The record's columns (hidden ones left out), in field order: the order rows are read in.
    pub select: String,
    /// Rust type of the id field (path parameter type).
    pub id_rust_type: String,
    /// Rust type of the owner field, which the token subject is parsed into.
    pub owner_rust_type: Option<String>,
}

/// The Rust names of the types generated for one model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelTypes {
    pub record: String,
    pub create: String,
    pub update: String,
    pub patch: String,
    pub filter: String,
    pub order_by: String,
    /// The client's record with its included relations (`MessageWithRelations`).
    pub with_relations: String,
}

impl ModelTypes {
    pub fn all(&self) -> [(&'static str, &str); 7] {
        [
            ("record type", &self.record),
            ("create input", &self.create),
            ("update input", &self.update),
            ("patch input", &self.patch),
            ("filter", &self.filter),
            ("order", &self.order_by),
            ("record with relations", &self.with_relations),
        ]
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FilterLogic {
    pub and: String,
    pub or: String,
    pub not: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Channels {
    /// Every change to the model (`Message:list`).
    pub list: String,
    /// Prefix of one row's channel; the id follows (`Message:item:`).
    pub item_prefix: String,
}

/// Who may perform each operation. An operation with no rule in the schema is denied to everyone.
#[derive(Debug, Clone, Serialize)]
pub struct Access {
    pub read: Rule,
    pub create: Rule,
    pub update: Rule,
    pub delete: Rule,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Rule {
    pub public: bool,
    pub authenticated: bool,
    /// The caller's subject equals the row's owner field.
    pub owner: bool,
    /// The caller's subject equals the row's id (user model only).
    pub self_: bool,
    /// Callers holding any of these roles.
    pub roles: Vec<String>,
    /// The rule as a person reads it (`owner or admin`, `nobody`).
    pub summary: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Relation {
    /// The referencing field's schema name.
    pub field: String,
    pub target: String,
    pub target_table: String,
    pub target_column: String,
    /// The name of this relation seen from the target.
    pub inverse: String,
    pub optional: bool,
    /// What deleting the target row does to the rows that reference it.
    pub on_delete: OnDelete,
}

/// What deleting a row does to the rows that reference it (`onDelete` on the reference). The server applies it,
/// not the database, so that every row it deletes or changes gets its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum OnDelete {
    /// The delete is refused (409) while any row references the target.
    #[default]
    Restrict,
    /// The referencing rows are deleted first, each with its own `onDelete` rules applied.
    Cascade,
    /// The referencing rows' reference is set to null (optional references only).
    SetNull,
}

impl OnDelete {
    /// Every value, as the schema spells it.
    pub const NAMES: [&'static str; 3] = ["restrict", "cascade", "setNull"];

    /// The value as the schema spells it, if it is one.
    pub fn parse(name: &str) -> Option<OnDelete> {
        match name {
            "restrict" => Some(OnDelete::Restrict),
            "cascade" => Some(OnDelete::Cascade),
            "setNull" => Some(OnDelete::SetNull),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct InverseRelation {
    /// Name on this model (`messages`).
    pub name: String,
    /// The referencing model and field.
    pub source: String,
    pub field: String,
    /// The referencing model's record type.
    pub source_record: String,
    /// The referencing field's quoted column.
    pub column: String,
    /// What deleting a row of this model does to the referencing rows.
    pub on_delete: OnDelete,
}

/// A relation reads of a model can include, seen from that model: a to-one through one of its references, or a
/// to-many through a reference another model (or this one) makes to it.
#[derive(Debug, Clone, Serialize)]
pub struct Include {
    /// The name on the wire: the reference field without `Id` (`author`; `<field>Record` when that is no shorter
    /// or is taken) for a to-one, the reverse relation's name (`messages`) for a to-many.
    pub name: String,
    /// The field of the client's `<Model>WithRelations` (never `record`, which holds the record itself).
    pub rust_name: String,
    /// The Rust name differs from the wire name, so serde needs `rename`.
    pub renamed: bool,
    /// A to-many: a list, with its own `where`, `orderBy` and `take`.
    pub many: bool,
    /// The related model's name.
    pub target: String,
    /// The related model's record type.
    pub target_record: String,
    /// This model's field whose value selects the related rows: the reference (to-one) or the id (to-many).
    pub key_field: String,
    /// The related table's quoted column matched against the keys: its id (to-one) or its reference (to-many).
    pub remote_column: String,
    /// The related record's field of that column.
    pub remote_field: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelSql {
    pub sqlite: TableSql,
    pub postgres: TableSql,
}

/// SQL for one table in one dialect; identifiers are already quoted.
#[derive(Debug, Clone, Serialize)]
pub struct TableSql {
    pub table: String,
    /// Column definitions and table constraints, one per line of `CREATE TABLE`.
    pub definitions: Vec<String>,
    /// Table options after the closing parenthesis (`STRICT`).
    pub options: String,
    /// Full statements to run after every table exists (indexes, foreign keys added later).
    pub after: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Field {
    /// Name in the schema and on the wire.
    pub name: String,
    pub rust_name: String,
    /// The Rust name differs from the schema name, so serde needs `rename` (serde strips `r#` by itself).
    pub renamed: bool,
    /// Name as a Rust type or variant (order-by variant).
    pub variant: String,
    pub doc: Option<String>,
    pub column: String,
    pub scalar: Scalar,
    /// The schema type as written (`string`, `Role`).
    pub type_name: String,
    /// Rust type without `Option`.
    pub rust_type: String,
    /// The module of `crate::query` the field's values read and write through, if not serde's default
    /// (`Scalar::wire_module`).
    pub wire: Option<String>,
    pub optional: bool,
    pub id: bool,
    pub unique: bool,
    pub readonly: bool,
    pub hidden: bool,
    pub owner: bool,
    pub default: Option<DefaultValue>,
    pub bounds: Option<Bounds>,
    pub references: Option<String>,
    /// Present in the record returned to readers (not hidden).
    pub in_record: bool,
    pub create: Presence,
    pub update: Presence,
    /// Settable in a partial update.
    pub in_patch: bool,
    /// Fully qualified filter type, if the field can be filtered on.
    pub filter_type: Option<String>,
    /// The operator set of the field's filter, if it can be filtered on.
    pub filter_kind: Option<FilterKind>,
    /// The name of the API schema of the field's filter operators (`SharedApiNames::filters`).
    pub api_filter: Option<String>,
    pub orderable: bool,
    /// Plain-language notes for documentation (`unique, at most 254 characters`).
    pub notes: String,
    /// The doc comment of the field in the generated types when the schema gives it no description: its name,
    /// type and notes (`` `email`: string; unique, at most 254 characters. ``).
    pub summary: String,
    /// Quoted column name.
    pub column_sql: String,
    /// Where the value written on create comes from.
    pub insert: Insert,
}

/// The value a field gets when a row is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Insert {
    /// The create input's (required) value.
    Input,
    /// The input's value; when absent, the column is left out (its SQL default or NULL applies).
    InputOrOmit,
    /// The input's value, or the current time / date / a new uuid when absent.
    InputOrNow,
    InputOrToday,
    InputOrNewUuid,
    /// Set by the server alone.
    Now,
    Today,
    NewUuid,
    /// The caller's token subject.
    Owner,
    /// Left out: the database fills it (autoincrement, literal default) or it stays NULL.
    Omit,
}

impl Insert {
    /// The value comes from the time of the request or its caller.
    pub fn needs_context(self) -> bool {
        matches!(
            self,
            Insert::Now | Insert::Today | Insert::InputOrNow | Insert::InputOrToday | Insert::Owner
        )
    }
}

/// How a field appears in an input type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    Required,
    Optional,
    Absent,
}

/// A field's `default:`: a keyword (`now`, `uuid`, `autoincrement`) or a literal value.
#[derive(Debug, Clone, Serialize)]
pub struct DefaultValue {
    pub kind: DefaultKind,
    /// The literal, for `literal` defaults.
    pub value: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultKind {
    Now,
    Uuid,
    Autoincrement,
    Literal,
}

/// `min`/`max` as Rust literals of the type the check compares (`usize` for lengths).
#[derive(Debug, Clone, Serialize)]
pub struct Bounds {
    pub kind: BoundKind,
    pub min: Option<String>,
    pub max: Option<String>,
}

#[cfg(test)]
mod tests {
    /// OpenAPI states the runtime's include depth.
    #[test]
    fn include_depth_matches_the_runtime() {
        let runtime = include_str!("../../runtime/src/server/rest/include.rs");
        let line = format!("pub const MAX_DEPTH: usize = {};", super::MAX_INCLUDE_DEPTH);
        assert!(
            runtime.contains(&line),
            "runtime/src/server/rest/include.rs lacks `{line}`"
        );
    }
}
