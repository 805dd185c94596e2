//! Who may touch which rows: the schema's `access` rules, as SQL conditions and as a check of a stored row.

use crate::server::auth::Caller;
use crate::server::db::{Param, SqlWriter};
use crate::server::error::ApiError;

use super::{Resource, Rule};

/// Which rows of a model the caller may touch under `rule`: all, or those matching one of the column/value pairs.
pub(super) enum Scope {
    All,
    Rows(Vec<(&'static str, Param)>),
}

/// Refuses early when nothing the caller could own would pass `rule`: 401 for an anonymous caller, 403 else.
pub(super) fn scope<R: Resource>(rule: &Rule, caller: &Caller) -> Result<Scope, ApiError> {
    if rule.public {
        return Ok(Scope::All);
    }
    let Some(subject) = caller.subject() else {
        return Err(ApiError::unauthorized("sign in to do this"));
    };
    if rule.authenticated || rule.roles.iter().any(|r| caller.has_role(r)) {
        return Ok(Scope::All);
    }
    let mut rows = Vec::new();
    if let (true, Some(column), Some(param)) =
        (rule.owner, R::OWNER_COLUMN, R::owner_param(subject))
    {
        rows.push((column, param));
    }
    if let (true, Some(param)) = (rule.self_, R::id_param(subject)) {
        rows.push((R::ID_COLUMN, param));
    }
    if rows.is_empty() {
        Err(ApiError::forbidden())
    } else {
        Ok(Scope::Rows(rows))
    }
}

pub(super) fn scope_sql(scope: &Scope, w: &mut SqlWriter) -> String {
    qualified_scope_sql(scope, w, "")
}

/// [`scope_sql`] with each column prefixed by `qualifier` (`"ssot_join0".`), for a condition of a join.
pub(super) fn qualified_scope_sql(scope: &Scope, w: &mut SqlWriter, qualifier: &str) -> String {
    match scope {
        Scope::All => "1 = 1".to_owned(),
        Scope::Rows(rows) => {
            let alternatives: Vec<String> = rows
                .iter()
                .map(|(column, param)| format!("{qualifier}{column} = {}", w.bind(param.clone())))
                .collect();
            format!("({})", alternatives.join(" OR "))
        }
    }
}

/// `rule` allows the caller to act on this stored row.
pub(super) fn allows<R: Resource>(rule: &Rule, caller: &Caller, row: &R) -> bool {
    if rule.public {
        return true;
    }
    let Some(subject) = caller.subject() else {
        return false;
    };
    rule.authenticated
        || rule.roles.iter().any(|r| caller.has_role(r))
        || (rule.owner && row.owned_by(subject))
        || (rule.self_ && row.id() == subject)
}
