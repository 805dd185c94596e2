//! The scalar types a field may have, and what each one means in Rust and in each SQL dialect.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

/// The operator set a field's filter offers (Prisma-style), chosen by type; `Nullable` variants add `isNull`.
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

impl FilterKind {
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
}
