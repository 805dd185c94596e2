//! The scalar types a field may have, and what each one means in Rust and in each SQL dialect.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scalar {
    String,
    Text,
    Int,
    BigInt,
    Float,
    Bool,
    Uuid,
    DateTime,
    Date,
    Json,
    /// An enum declared in the schema; its name is kept on the field.
    Enum,
}

pub const SCALAR_NAMES: &[&str] = &[
    "string", "text", "int", "bigint", "float", "bool", "uuid", "datetime", "date", "json",
];

impl Scalar {
    pub fn from_name(name: &str) -> Option<Scalar> {
        Some(match name {
            "string" => Scalar::String,
            "text" => Scalar::Text,
            "int" => Scalar::Int,
            "bigint" => Scalar::BigInt,
            "float" => Scalar::Float,
            "bool" => Scalar::Bool,
            "uuid" => Scalar::Uuid,
            "datetime" => Scalar::DateTime,
            "date" => Scalar::Date,
            "json" => Scalar::Json,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Scalar::String => "string",
            Scalar::Text => "text",
            Scalar::Int => "int",
            Scalar::BigInt => "bigint",
            Scalar::Float => "float",
            Scalar::Bool => "bool",
            Scalar::Uuid => "uuid",
            Scalar::DateTime => "datetime",
            Scalar::Date => "date",
            Scalar::Json => "json",
            Scalar::Enum => "enum",
        }
    }

    /// The module of `crate::query` that a field of this type reads and writes through (`#[serde(with = ...)]`),
    /// for the types whose wire form is not serde's default: `bigint` as a string, and `datetime`/`date` only
    /// within years 0001..=9999.
    pub fn wire_module(self) -> Option<&'static str> {
        match self {
            Scalar::BigInt => Some("int64"),
            Scalar::DateTime => Some("datetime"),
            Scalar::Date => Some("date"),
            _ => None,
        }
    }

    /// The Rust type, fully qualified so that a model called `String` or `Uuid` cannot shadow it. Enums pass
    /// their own path.
    pub fn rust_type(self, enum_path: &str) -> String {
        match self {
            Scalar::String | Scalar::Text => "::std::string::String".into(),
            Scalar::Int => "i32".into(),
            Scalar::BigInt => "i64".into(),
            Scalar::Float => "f64".into(),
            Scalar::Bool => "bool".into(),
            Scalar::Uuid => "::uuid::Uuid".into(),
            Scalar::DateTime => "::chrono::DateTime<::chrono::Utc>".into(),
            Scalar::Date => "::chrono::NaiveDate".into(),
            Scalar::Json => "::serde_json::Value".into(),
            Scalar::Enum => enum_path.into(),
        }
    }

    /// Column type in a STRICT SQLite table. Times are ISO-8601 text with fixed width, so that text order is
    /// time order.
    pub fn sqlite_type(self) -> &'static str {
        match self {
            Scalar::Int | Scalar::BigInt | Scalar::Bool => "INTEGER",
            Scalar::Float => "REAL",
            _ => "TEXT",
        }
    }

    pub fn postgres_type(self) -> &'static str {
        match self {
            Scalar::String | Scalar::Text | Scalar::Enum => "TEXT",
            Scalar::Int => "INTEGER",
            Scalar::BigInt => "BIGINT",
            Scalar::Float => "DOUBLE PRECISION",
            Scalar::Bool => "BOOLEAN",
            Scalar::Uuid => "UUID",
            Scalar::DateTime => "TIMESTAMPTZ",
            Scalar::Date => "DATE",
            Scalar::Json => "JSONB",
        }
    }

    /// What `min`/`max` bound: the length of text, or the value of a number.
    pub fn bound_kind(self) -> Option<BoundKind> {
        match self {
            Scalar::String | Scalar::Text => Some(BoundKind::Length),
            Scalar::Int | Scalar::BigInt | Scalar::Float => Some(BoundKind::Range),
            _ => None,
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(self, Scalar::Int | Scalar::BigInt)
    }

    /// Types that can be compared with `<` in both SQL and Rust, so they can be sorted and range-filtered.
    pub fn is_ordered(self) -> bool {
        matches!(
            self,
            Scalar::String
                | Scalar::Text
                | Scalar::Int
                | Scalar::BigInt
                | Scalar::Float
                | Scalar::DateTime
                | Scalar::Date
        )
    }

    /// Types that can be an id or hold a user id.
    pub fn is_key(self) -> bool {
        matches!(
            self,
            Scalar::String | Scalar::Int | Scalar::BigInt | Scalar::Uuid
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BoundKind {
    Length,
    Range,
}

/// The operator set a field's filter offers (Prisma-style), chosen by type. An optional field's filter also has
/// `isNull` (`IS_NULL`). This is the one list of operators: the generated `query` module, the OpenAPI document and
/// the admin page's data are all made from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum FilterKind {
    /// equals, not, in, notIn, lt, lte, gt, gte, contains, startsWith, endsWith
    String,
    /// equals, not, in, notIn, lt, lte, gt, gte
    Ordered,
    /// equals, not, in, notIn
    Equality,
    /// equals, not
    Bool,
    /// isNull only (an optional json field)
    Null,
}

/// One operator of a field filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Operator {
    /// Its name on the wire (`notIn`).
    pub wire: &'static str,
    /// The name of its Rust field and constructor (`not_in`, `r#in`).
    pub rust: &'static str,
    /// It takes a list of values (`in`, `notIn`) rather than one.
    pub list: bool,
    /// What it matches, for the doc comment of its field and constructor in the generated `query` module.
    pub doc: &'static str,
}

const fn op(wire: &'static str, rust: &'static str, list: bool, doc: &'static str) -> Operator {
    Operator {
        wire,
        rust,
        list,
        doc,
    }
}

const EQUALS: Operator = op(
    "equals",
    "equals",
    false,
    "Matches rows whose value is equal to this one.",
);
const NOT: Operator = op(
    "not",
    "not",
    false,
    "Matches rows whose value is not equal to this one.",
);
const IN: Operator = op(
    "in",
    "r#in",
    true,
    "Matches rows whose value is one of these.",
);
const NOT_IN: Operator = op(
    "notIn",
    "not_in",
    true,
    "Matches rows whose value is none of these.",
);
const LT: Operator = op(
    "lt",
    "lt",
    false,
    "Matches rows whose value is less than this one.",
);
const LTE: Operator = op(
    "lte",
    "lte",
    false,
    "Matches rows whose value is less than or equal to this one.",
);
const GT: Operator = op(
    "gt",
    "gt",
    false,
    "Matches rows whose value is greater than this one.",
);
const GTE: Operator = op(
    "gte",
    "gte",
    false,
    "Matches rows whose value is greater than or equal to this one.",
);
const CONTAINS: Operator = op(
    "contains",
    "contains",
    false,
    "Matches rows whose text contains this one (case-sensitive).",
);
const STARTS_WITH: Operator = op(
    "startsWith",
    "starts_with",
    false,
    "Matches rows whose text starts with this one (case-sensitive).",
);
const ENDS_WITH: Operator = op(
    "endsWith",
    "ends_with",
    false,
    "Matches rows whose text ends with this one (case-sensitive).",
);

/// The operator of every optional field's filter: `true` matches null, `false` not null.
pub const IS_NULL: Operator = op(
    "isNull",
    "is_null",
    false,
    "`true` matches rows where the field is null, `false` those where it is not.",
);

impl FilterKind {
    /// Every kind, in the order the generated `query` module defines their filters.
    pub const ALL: [FilterKind; 5] = [
        FilterKind::String,
        FilterKind::Ordered,
        FilterKind::Equality,
        FilterKind::Bool,
        FilterKind::Null,
    ];

    pub fn for_scalar(scalar: Scalar, optional: bool) -> Option<FilterKind> {
        Some(match scalar {
            Scalar::String | Scalar::Text => FilterKind::String,
            Scalar::Int | Scalar::BigInt | Scalar::Float | Scalar::DateTime | Scalar::Date => {
                FilterKind::Ordered
            }
            Scalar::Uuid | Scalar::Enum => FilterKind::Equality,
            Scalar::Bool => FilterKind::Bool,
            Scalar::Json if optional => FilterKind::Null,
            Scalar::Json => return None,
        })
    }

    /// The operators, in the order of `docs/rest.md`; `IS_NULL` comes on top for an optional field.
    pub fn operators(self) -> &'static [Operator] {
        match self {
            FilterKind::String => &[
                EQUALS,
                NOT,
                IN,
                NOT_IN,
                LT,
                LTE,
                GT,
                GTE,
                CONTAINS,
                STARTS_WITH,
                ENDS_WITH,
            ],
            FilterKind::Ordered => &[EQUALS, NOT, IN, NOT_IN, LT, LTE, GT, GTE],
            FilterKind::Equality => &[EQUALS, NOT, IN, NOT_IN],
            FilterKind::Bool => &[EQUALS, NOT],
            FilterKind::Null => &[],
        }
    }

    /// The operators of a field's filter, `isNull` last for an optional field.
    pub fn field_operators(self, optional: bool) -> impl Iterator<Item = Operator> {
        let is_null = optional.then_some(IS_NULL);
        self.operators().iter().copied().chain(is_null)
    }

    /// The generic struct in the generated `query` module; `T` is the field's Rust type where the struct is generic.
    pub fn struct_name(self, nullable: bool) -> &'static str {
        match (self, nullable) {
            (FilterKind::String, false) => "StringFilter",
            (FilterKind::String, true) => "NullableStringFilter",
            (FilterKind::Ordered, false) => "OrderedFilter",
            (FilterKind::Ordered, true) => "NullableOrderedFilter",
            (FilterKind::Equality, false) => "EqualityFilter",
            (FilterKind::Equality, true) => "NullableEqualityFilter",
            (FilterKind::Bool, false) => "BoolFilter",
            (FilterKind::Bool, true) => "NullableBoolFilter",
            (FilterKind::Null, _) => "NullFilter",
        }
    }

    pub fn is_generic(self) -> bool {
        matches!(self, FilterKind::Ordered | FilterKind::Equality)
    }

    /// The operand's Rust type in the struct: the struct's parameter `T` when it is generic.
    pub fn operand_type(self) -> &'static str {
        match self {
            FilterKind::String => "::std::string::String",
            FilterKind::Bool => "bool",
            FilterKind::Ordered | FilterKind::Equality | FilterKind::Null => "T",
        }
    }
}

/// One filter struct of the generated `query` module.
#[derive(Debug, Clone, Serialize)]
pub struct QueryFilter {
    pub name: &'static str,
    pub kind: FilterKind,
    /// Generic over the operand type `T`.
    pub generic: bool,
    /// The operand's Rust type (`T` in a generic struct).
    pub operand: &'static str,
    /// For optional fields: has `is_null`.
    pub nullable: bool,
    /// `IS_NULL` when `nullable` (for its doc).
    pub is_null: Option<Operator>,
    /// Without `is_null`.
    pub operators: &'static [Operator],
}

/// Every filter struct of the generated `query` module: each kind for required then for optional fields, and the
/// one of optional json fields (only `isNull`).
pub fn query_filters() -> Vec<QueryFilter> {
    let mut filters = Vec::new();
    for nullable in [false, true] {
        for kind in FilterKind::ALL {
            if kind == FilterKind::Null {
                continue;
            }
            filters.push(QueryFilter {
                name: kind.struct_name(nullable),
                kind,
                generic: kind.is_generic(),
                operand: kind.operand_type(),
                nullable,
                is_null: nullable.then_some(IS_NULL),
                operators: kind.operators(),
            });
        }
    }
    filters.push(QueryFilter {
        name: FilterKind::Null.struct_name(true),
        kind: FilterKind::Null,
        generic: false,
        operand: FilterKind::Null.operand_type(),
        nullable: true,
        is_null: Some(IS_NULL),
        operators: FilterKind::Null.operators(),
    });
    filters
}
