//! Database values and SQL text shared by both dialects: typed parameters, placeholders, and list filters
//! compiled to SQL. Every value is a bound parameter; column names come only from generated code.

use crate::query::{
    BoolFilter, EqualityFilter, NullFilter, NullableBoolFilter, NullableEqualityFilter,
    NullableOrderedFilter, NullableStringFilter, OrderedFilter, SortOrder, StringFilter,
};

/// Which SQL dialect a statement is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: `?1` placeholders, times stored as text.
    Sqlite,
    /// PostgreSQL: `$1` placeholders, native types.
    Postgres,
}

/// The SQL type of a parameter, kept for NULLs: PostgreSQL needs to know what a NULL is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `string` and `text` fields.
    Text,
    /// `int` fields.
    I32,
    /// `bigint` fields, counts and sequence numbers.
    I64,
    /// `float` fields.
    F64,
    /// `bool` fields.
    Bool,
    /// `uuid` fields.
    Uuid,
    /// `datetime` fields (UTC).
    DateTime,
    /// `date` fields.
    Date,
    /// `json` fields.
    Json,
}

/// A bound parameter. `None` is a NULL of that kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// A [`Kind::Text`] value.
    Text(Option<String>),
    /// A [`Kind::I32`] value.
    I32(Option<i32>),
    /// A [`Kind::I64`] value.
    I64(Option<i64>),
    /// A [`Kind::F64`] value.
    F64(Option<f64>),
    /// A [`Kind::Bool`] value.
    Bool(Option<bool>),
    /// A [`Kind::Uuid`] value.
    Uuid(Option<uuid::Uuid>),
    /// A [`Kind::DateTime`] value.
    DateTime(Option<chrono::DateTime<chrono::Utc>>),
    /// A [`Kind::Date`] value.
    Date(Option<chrono::NaiveDate>),
    /// A [`Kind::Json`] value.
    Json(Option<serde_json::Value>),
    /// Keys of one kind as one array parameter: PostgreSQL's `column = ANY($1)`, whose statement text (and so its
    /// prepared statement) stays the same however many keys there are. SQLite takes it as a JSON array's text.
    Keys(Keys),
}

/// Non-null keys of one kind (ids and references are text, integers or uuids).
#[derive(Debug, Clone, PartialEq)]
pub enum Keys {
    /// Text keys.
    Text(Vec<String>),
    /// 32-bit integer keys.
    I32(Vec<i32>),
    /// 64-bit integer keys.
    I64(Vec<i64>),
    /// Uuid keys.
    Uuid(Vec<uuid::Uuid>),
}

impl Keys {
    /// The keys as one array, if they are all non-null and of one key kind.
    pub fn gather(params: &[Param]) -> Option<Keys> {
        fn all<T>(params: &[Param], pick: impl Fn(&Param) -> Option<T>) -> Option<Vec<T>> {
            params.iter().map(pick).collect()
        }
        Some(match params.first()? {
            Param::Text(_) => Keys::Text(all(params, |p| match p {
                Param::Text(Some(v)) => Some(v.clone()),
                _ => None,
            })?),
            Param::I32(_) => Keys::I32(all(params, |p| match p {
                Param::I32(v) => *v,
                _ => None,
            })?),
            Param::I64(_) => Keys::I64(all(params, |p| match p {
                Param::I64(v) => *v,
                _ => None,
            })?),
            Param::Uuid(_) => Keys::Uuid(all(params, |p| match p {
                Param::Uuid(v) => *v,
                _ => None,
            })?),
            _ => return None,
        })
    }

    /// The keys as a JSON array.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Keys::Text(v) => serde_json::json!(v),
            Keys::I32(v) => serde_json::json!(v),
            Keys::I64(v) => serde_json::json!(v),
            Keys::Uuid(v) => serde_json::json!(v),
        }
    }
}

impl Param {
    /// The value as it prints, for comparing with the ids and owners of events; `None` for other kinds.
    pub fn as_key(&self) -> Option<String> {
        match self {
            Param::Text(v) => v.clone(),
            Param::I32(v) => v.map(|n| n.to_string()),
            Param::I64(v) => v.map(|n| n.to_string()),
            Param::Uuid(v) => v.map(|u| u.to_string()),
            _ => None,
        }
    }

    /// About how many bytes the value takes (text and JSON by their length, others a fixed 16), for bounding a
    /// batch of writes.
    pub fn weight(&self) -> usize {
        /// Counts what is written to it.
        struct Counter(usize);
        impl std::io::Write for Counter {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0 += bytes.len();
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        match self {
            Param::Text(Some(text)) => text.len(),
            Param::Json(Some(value)) => {
                let mut counter = Counter(0);
                // Writing to a counter cannot fail; a value that cannot be written weighs what was counted.
                let _ = serde_json::to_writer(&mut counter, value);
                counter.0
            }
            _ => 16,
        }
    }

    /// A NULL of this kind.
    pub fn null(kind: Kind) -> Param {
        match kind {
            Kind::Text => Param::Text(None),
            Kind::I32 => Param::I32(None),
            Kind::I64 => Param::I64(None),
            Kind::F64 => Param::F64(None),
            Kind::Bool => Param::Bool(None),
            Kind::Uuid => Param::Uuid(None),
            Kind::DateTime => Param::DateTime(None),
            Kind::Date => Param::Date(None),
            Kind::Json => Param::Json(None),
        }
    }
}

/// Values that can be bound as a parameter.
pub trait ToParam {
    /// The kind of its values, for a NULL (`Option<T>` is `T`'s kind).
    const KIND: Kind;
    /// The value as a parameter.
    fn to_param(&self) -> Param;
}

macro_rules! to_param {
    ($ty:ty, $kind:ident) => {
        impl ToParam for $ty {
            const KIND: Kind = Kind::$kind;
            fn to_param(&self) -> Param {
                Param::$kind(Some(self.clone()))
            }
        }
    };
}

to_param!(String, Text);
to_param!(i32, I32);
to_param!(i64, I64);
to_param!(f64, F64);
to_param!(bool, Bool);
to_param!(uuid::Uuid, Uuid);
to_param!(chrono::DateTime<chrono::Utc>, DateTime);
to_param!(chrono::NaiveDate, Date);
to_param!(serde_json::Value, Json);

impl<T: ToParam> ToParam for Option<T> {
    const KIND: Kind = T::KIND;
    fn to_param(&self) -> Param {
        match self {
            Some(value) => value.to_param(),
            None => Param::null(T::KIND),
        }
    }
}

/// Text as SQLite stores times: fixed-width UTC with microseconds, so that text order is time order.
pub fn sqlite_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Builds a statement and its parameters together, writing each dialect's placeholder.
pub struct SqlWriter {
    /// The dialect of the statement, which picks the placeholders and the SQL of some operators.
    pub dialect: Dialect,
    /// The parameters bound so far, in placeholder order.
    pub params: Vec<Param>,
}

impl SqlWriter {
    /// A writer with no parameters yet.
    pub fn new(dialect: Dialect) -> SqlWriter {
        SqlWriter {
            dialect,
            params: Vec::new(),
        }
    }

    /// Adds a parameter and returns its placeholder.
    pub fn bind(&mut self, param: Param) -> String {
        self.params.push(param);
        match self.dialect {
            Dialect::Sqlite => format!("?{}", self.params.len()),
            Dialect::Postgres => format!("${}", self.params.len()),
        }
    }

    /// `ORDER BY` entries always end with the id, so that pages are stable. NULLs sort first ascending and last
    /// descending on both databases.
    pub fn order_by(&self, keys: &[(&str, SortOrder)], id_column: &str) -> String {
        let mut parts: Vec<String> = keys
            .iter()
            .filter(|(column, _)| *column != id_column)
            .map(|(column, order)| match order {
                SortOrder::Asc => format!("{column} ASC NULLS FIRST"),
                SortOrder::Desc => format!("{column} DESC NULLS LAST"),
            })
            .collect();
        let id_order = keys
            .iter()
            .find(|(column, _)| *column == id_column)
            .map_or(SortOrder::Asc, |(_, o)| *o);
        parts.push(match id_order {
            SortOrder::Asc => format!("{id_column} ASC"),
            SortOrder::Desc => format!("{id_column} DESC"),
        });
        parts.join(", ")
    }

    /// The conditions of one field's operators, joined with AND.
    pub fn conditions<T: ToParam + Clone>(&mut self, column: &str, ops: Ops<'_, T>) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(v) = ops.equals {
            out.push(format!("{column} = {}", self.bind(v.to_param())));
        }
        if let Some(v) = ops.not {
            out.push(format!("{column} <> {}", self.bind(v.to_param())));
        }
        if let Some(values) = ops.in_ {
            out.push(self.list(column, values, false));
        }
        if let Some(values) = ops.not_in {
            out.push(self.list(column, values, true));
        }
        for (op, value) in [
            ("<", ops.lt),
            ("<=", ops.lte),
            (">", ops.gt),
            (">=", ops.gte),
        ] {
            if let Some(v) = value {
                out.push(format!("{column} {op} {}", self.bind(v.to_param())));
            }
        }
        if let Some(is_null) = ops.is_null {
            out.push(format!(
                "{column} IS {}NULL",
                if is_null { "" } else { "NOT " }
            ));
        }
        out
    }

    fn list<T: ToParam>(&mut self, column: &str, values: &[T], negate: bool) -> String {
        if values.is_empty() {
            // `IN ()` is not SQL: nothing is in an empty list, everything is outside it.
            return if negate {
                "1 = 1".to_owned()
            } else {
                "1 = 0".to_owned()
            };
        }
        let placeholders: Vec<String> = values.iter().map(|v| self.bind(v.to_param())).collect();
        format!(
            "{column} {}IN ({})",
            if negate { "NOT " } else { "" },
            placeholders.join(", ")
        )
    }

    /// Case-sensitive substring operators, with the same meaning on both databases.
    pub fn text_conditions(&mut self, column: &str, ops: &TextOps<'_>) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(v) = ops.contains {
            let p = self.bind(v.to_param());
            out.push(match self.dialect {
                Dialect::Sqlite => format!("instr({column}, {p}) > 0"),
                Dialect::Postgres => format!("strpos({column}, {p}) > 0"),
            });
        }
        if let Some(v) = ops.starts_with {
            let p = self.bind(v.to_param());
            out.push(match self.dialect {
                Dialect::Sqlite => format!("substr({column}, 1, length({p})) = {p}"),
                Dialect::Postgres => format!("starts_with({column}, {p})"),
            });
        }
        if let Some(v) = ops.ends_with {
            if v.is_empty() {
                // SQLite's substr(x, -0) is the whole string; every text ends with "".
                out.push(format!("{column} IS NOT NULL"));
            } else {
                let p = self.bind(v.to_param());
                out.push(match self.dialect {
                    Dialect::Sqlite => format!("substr({column}, -length({p})) = {p}"),
                    Dialect::Postgres => format!("right({column}, char_length({p})) = {p}"),
                });
            }
        }
        out
    }
}

/// The comparison operators of any filter, borrowed.
pub struct Ops<'a, T> {
    /// `equals`: `column = value`.
    pub equals: Option<&'a T>,
    /// `not`: `column <> value`.
    pub not: Option<&'a T>,
    /// `in`: `column IN (...)`; an empty list matches nothing.
    pub in_: Option<&'a [T]>,
    /// `notIn`: `column NOT IN (...)`; an empty list matches every row.
    pub not_in: Option<&'a [T]>,
    /// `lt`: `column < value`.
    pub lt: Option<&'a T>,
    /// `lte`: `column <= value`.
    pub lte: Option<&'a T>,
    /// `gt`: `column > value`.
    pub gt: Option<&'a T>,
    /// `gte`: `column >= value`.
    pub gte: Option<&'a T>,
    /// `isNull`: `column IS NULL` when true, `IS NOT NULL` when false.
    pub is_null: Option<bool>,
}

impl<T> Default for Ops<'_, T> {
    fn default() -> Self {
        Ops {
            equals: None,
            not: None,
            in_: None,
            not_in: None,
            lt: None,
            lte: None,
            gt: None,
            gte: None,
            is_null: None,
        }
    }
}

/// The substring operators of a text filter.
#[derive(Default)]
pub struct TextOps<'a> {
    /// `contains`: the column holds this text (case-sensitive, no wildcards).
    pub contains: Option<&'a String>,
    /// `startsWith`: the column begins with this text.
    pub starts_with: Option<&'a String>,
    /// `endsWith`: the column ends with this text.
    pub ends_with: Option<&'a String>,
}

/// A field filter as SQL conditions: implemented by every filter type of `crate::query`.
pub trait FieldFilter {
    /// The conditions on `column` (combined with AND by the caller), their values bound on `w`.
    fn conditions(&self, column: &str, w: &mut SqlWriter) -> Vec<String>;
}

impl FieldFilter for StringFilter {
    fn conditions(&self, column: &str, w: &mut SqlWriter) -> Vec<String> {
        let ops = Ops {
            equals: self.equals.as_ref(),
            not: self.not.as_ref(),
            in_: self.r#in.as_deref(),
            not_in: self.not_in.as_deref(),
            lt: self.lt.as_ref(),
            lte: self.lte.as_ref(),
            gt: self.gt.as_ref(),
            gte: self.gte.as_ref(),
            is_null: None,
        };
        let mut out = w.conditions(column, ops);
        out.extend(w.text_conditions(
            column,
            &TextOps {
                contains: self.contains.as_ref(),
                starts_with: self.starts_with.as_ref(),
                ends_with: self.ends_with.as_ref(),
            },
        ));
        out
    }
}

impl FieldFilter for NullableStringFilter {
    fn conditions(&self, column: &str, w: &mut SqlWriter) -> Vec<String> {
        let ops = Ops {
            equals: self.equals.as_ref(),
            not: self.not.as_ref(),
            in_: self.r#in.as_deref(),
            not_in: self.not_in.as_deref(),
            lt: self.lt.as_ref(),
            lte: self.lte.as_ref(),
            gt: self.gt.as_ref(),
            gte: self.gte.as_ref(),
            is_null: self.is_null,
        };
        let mut out = w.conditions(column, ops);
        out.extend(w.text_conditions(
            column,
            &TextOps {
                contains: self.contains.as_ref(),
                starts_with: self.starts_with.as_ref(),
                ends_with: self.ends_with.as_ref(),
            },
        ));
        out
    }
}

impl<T: ToParam + Clone> FieldFilter for OrderedFilter<T> {
    fn conditions(&self, column: &str, w: &mut SqlWriter) -> Vec<String> {
        w.conditions(
            column,
            Ops {
                equals: self.equals.as_ref(),
                not: self.not.as_ref(),
                in_: self.r#in.as_deref(),
                not_in: self.not_in.as_deref(),
                lt: self.lt.as_ref(),
                lte: self.lte.as_ref(),
                gt: self.gt.as_ref(),
                gte: self.gte.as_ref(),
                is_null: None,
            },
        )
    }
}

impl<T: ToParam + Clone> FieldFilter for NullableOrderedFilter<T> {
    fn conditions(&self, column: &str, w: &mut SqlWriter) -> Vec<String> {
        w.conditions(
            column,
            Ops {
                equals: self.equals.as_ref(),
                not: self.not.as_ref(),
                in_: self.r#in.as_deref(),
                not_in: self.not_in.as_deref(),
                lt: self.lt.as_ref(),
                lte: self.lte.as_ref(),
                gt: self.gt.as_ref(),
                gte: self.gte.as_ref(),
                is_null: self.is_null,
            },
        )
    }
}

impl<T: ToParam + Clone> FieldFilter for EqualityFilter<T> {
    fn conditions(&self, column: &str, w: &mut SqlWriter) -> Vec<String> {
        w.conditions(
            column,
            Ops {
                equals: self.equals.as_ref(),
                not: self.not.as_ref(),
                in_: self.r#in.as_deref(),
                not_in: self.not_in.as_deref(),
                ..Ops::default()
            },
        )
    }
}

impl<T: ToParam + Clone> FieldFilter for NullableEqualityFilter<T> {
    fn conditions(&self, column: &str, w: &mut SqlWriter) -> Vec<String> {
        w.conditions(
            column,
            Ops {
                equals: self.equals.as_ref(),
                not: self.not.as_ref(),
                in_: self.r#in.as_deref(),
                not_in: self.not_in.as_deref(),
                is_null: self.is_null,
                ..Ops::default()
            },
        )
    }
}

impl FieldFilter for BoolFilter {
    fn conditions(&self, column: &str, w: &mut SqlWriter) -> Vec<String> {
        w.conditions(
            column,
            Ops {
                equals: self.equals.as_ref(),
                not: self.not.as_ref(),
                ..Ops::default()
            },
        )
    }
}

impl FieldFilter for NullableBoolFilter {
    fn conditions(&self, column: &str, w: &mut SqlWriter) -> Vec<String> {
        w.conditions(
            column,
            Ops {
                equals: self.equals.as_ref(),
                not: self.not.as_ref(),
                is_null: self.is_null,
                ..Ops::default()
            },
        )
    }
}

impl FieldFilter for NullFilter {
    fn conditions(&self, column: &str, w: &mut SqlWriter) -> Vec<String> {
        w.conditions::<bool>(
            column,
            Ops {
                is_null: self.is_null,
                ..Ops::default()
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_gather_only_non_null_keys_of_one_kind() {
        let id = uuid::Uuid::from_u128(7);
        assert_eq!(
            Keys::gather(&[Param::Uuid(Some(id)), Param::Uuid(Some(id))]),
            Some(Keys::Uuid(vec![id, id]))
        );
        assert_eq!(
            Keys::gather(&[Param::I32(Some(1)), Param::I32(Some(2))]),
            Some(Keys::I32(vec![1, 2]))
        );
        assert_eq!(
            Keys::gather(&[Param::Text(Some("a".into()))]).map(|k| k.to_json()),
            Some(serde_json::json!(["a"]))
        );
        for mixed in [
            vec![Param::I32(Some(1)), Param::I64(Some(2))],
            vec![Param::I64(Some(1)), Param::I64(None)],
            vec![Param::Bool(Some(true))],
            vec![],
        ] {
            assert_eq!(Keys::gather(&mixed), None, "{mixed:?}");
        }
    }
}
