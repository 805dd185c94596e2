//! A list's `where` as SQL: the fields' operators, `AND`/`OR`/`NOT`, and filters through relations
//! (`{"author": {"is": {...}}}`, `{"messages": {"some": {...}}}`), each an `EXISTS` subquery on the related table
//! that holds its model's read rule for the caller, so that a filter never tells about rows the caller may not
//! read. Relation filters nest up to [`MAX_DEPTH`] levels, as includes do.

use crate::query::{ToManyFilter, ToOneFilter};
use crate::server::auth::Caller;
use crate::server::db::SqlWriter;
use crate::server::error::ApiError;

use super::access::{scope, scope_sql};
use super::include::MAX_DEPTH;
use super::Resource;

/// A filter being written as SQL: the statement's parameters, who reads, and where in the nesting it is.
pub struct FilterSql<'a> {
    w: &'a mut SqlWriter,
    caller: &'a Caller,
    /// The quoted name the conditions' row goes by: the listed table, or a subquery's alias.
    outer: String,
    /// The relations followed to get here (`messages`, `author`), for the error of too deep a filter.
    path: Vec<&'static str>,
}

impl<'a> FilterSql<'a> {
    /// Conditions on rows of the table `table` (as it is named in the statement), read by `caller`.
    pub(super) fn new(w: &'a mut SqlWriter, caller: &'a Caller, table: &str) -> FilterSql<'a> {
        FilterSql {
            w,
            caller,
            outer: table.to_owned(),
            path: Vec::new(),
        }
    }

    /// The filter as one SQL condition, combinators and relation filters included.
    pub(super) fn condition<R: Resource>(
        &mut self,
        filter: &R::Filter,
    ) -> Result<String, ApiError> {
        let mut parts = R::field_conditions(filter, self.w);
        parts.extend(R::relation_conditions(filter, self)?);
        let [and, or, not] = R::combinators(filter);
        for f in and {
            parts.push(self.condition::<R>(f)?);
        }
        if !or.is_empty() {
            let alternatives = or
                .iter()
                .map(|f| self.condition::<R>(f))
                .collect::<Result<Vec<String>, ApiError>>()?;
            parts.push(format!("({})", alternatives.join(" OR ")));
        }
        for f in not {
            parts.push(format!("NOT {}", self.condition::<R>(f)?));
        }
        Ok(if parts.is_empty() {
            "1 = 1".to_owned()
        } else {
            format!("({})", parts.join(" AND "))
        })
    }

    /// A filter through the to-one relation `name` whose reference is the column `column` (quoted), to `T`'s id.
    pub fn to_one<T: Resource>(
        &mut self,
        name: &'static str,
        column: &str,
        filter: &ToOneFilter<T::Filter>,
    ) -> Result<String, ApiError> {
        let join = (column, T::ID_COLUMN);
        let mut parts = Vec::new();
        if let Some(is) = &filter.is {
            // `is: null`: no related row the caller may read, as an include would show it.
            parts.push(match is {
                Some(inner) => self.exists::<T>(name, join, Some(inner), false)?,
                None => format!("NOT {}", self.exists::<T>(name, join, None, false)?),
            });
        }
        if let Some(is_not) = &filter.is_not {
            parts.push(match is_not {
                Some(inner) => format!("NOT {}", self.exists::<T>(name, join, Some(inner), false)?),
                None => self.exists::<T>(name, join, None, false)?,
            });
        }
        Ok(all(parts))
    }

    /// A filter through the to-many relation `name`: the rows of `T` whose column `column` (quoted) refers to
    /// this row's id (`R`'s).
    pub fn to_many<R: Resource, T: Resource>(
        &mut self,
        name: &'static str,
        column: &str,
        filter: &ToManyFilter<T::Filter>,
    ) -> Result<String, ApiError> {
        let join = (R::ID_COLUMN, column);
        let mut parts = Vec::new();
        if let Some(inner) = &filter.some {
            parts.push(self.exists::<T>(name, join, Some(inner), false)?);
        }
        if let Some(inner) = &filter.every {
            // No readable related row fails it (one the filter leaves unknown fails, as it is not selected).
            parts.push(format!(
                "NOT {}",
                self.exists::<T>(name, join, Some(inner), true)?
            ));
        }
        if let Some(inner) = &filter.none {
            parts.push(format!(
                "NOT {}",
                self.exists::<T>(name, join, Some(inner), false)?
            ));
        }
        Ok(all(parts))
    }

    /// `EXISTS` a row of `T` joined to this one by `(this row's column, T's column)`, that the caller may read and
    /// that matches `inner` (or, with `fails`, that `inner` does not select).
    fn exists<T: Resource>(
        &mut self,
        name: &'static str,
        (local, remote): (&str, &str),
        inner: Option<&T::Filter>,
        fails: bool,
    ) -> Result<String, ApiError> {
        self.path.push(name);
        if self.path.len() > MAX_DEPTH {
            return Err(ApiError::bad_request(format!(
                "invalid `where`: the relation filter `{}` is nested {} levels deep; relation filters nest at \
                 most {MAX_DEPTH} levels",
                self.path.join("."),
                self.path.len()
            )));
        }
        // Every subquery has its own alias, so that a relation of a model to itself still tells its two rows
        // apart; unqualified columns (the inner filter's, the read rule's) are the subquery's own.
        let alias = format!("\"ssot_where{}\"", self.path.len());
        let outer = std::mem::replace(&mut self.outer, alias.clone());
        let join = format!("{alias}.{remote} = {outer}.{local}");
        let inner = inner.map(|f| self.condition::<T>(f)).transpose();
        self.outer = outer;
        self.path.pop();
        let inner = match inner? {
            None => String::new(),
            Some(condition) if fails => format!(" AND ({condition}) IS NOT TRUE"),
            Some(condition) => format!(" AND {condition}"),
        };
        // A caller who may read no row of `T` sees no related row: the subquery selects none.
        let readable = match scope::<T>(&T::ACCESS.read, self.caller) {
            Ok(scope) => scope_sql(&scope, self.w),
            Err(_) => "1 = 0".to_owned(),
        };
        Ok(format!(
            "EXISTS (SELECT 1 FROM {} AS {alias} WHERE {join}{inner} AND {readable})",
            T::TABLE
        ))
    }
}

fn all(parts: Vec<String>) -> String {
    if parts.is_empty() {
        "1 = 1".to_owned()
    } else {
        format!("({})", parts.join(" AND "))
    }
}
