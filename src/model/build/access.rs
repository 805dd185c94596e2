//! Roles, and who may perform each operation on a model.

use super::*;
use crate::diagnostics::did_you_mean;
use crate::schema::RuleSpec;

/// Principals every schema knows; declared roles are added to them.
const BUILTIN_PRINCIPALS: &[&str] = &["public", "authenticated", "owner", "self", "nobody"];

impl Builder {
    pub(super) fn roles(&mut self, schema: &Schema) -> Vec<String> {
        let Some(declared) = &schema.roles else {
            return vec!["admin".to_owned()];
        };
        let mut roles: Vec<String> = Vec::new();
        for role in declared {
            if !is_identifier(&role.value) {
                self.problem(
                    Diagnostic::new(
                        role.loc,
                        format!("`{}` is not a valid role name", role.value),
                    )
                    .hint("use letters, digits and `_`, starting with a letter"),
                );
            } else if BUILTIN_PRINCIPALS.contains(&role.value.as_str()) {
                self.problem(
                    Diagnostic::new(
                        role.loc,
                        format!("`{}` is a built-in access rule, not a role", role.value),
                    )
                    .hint("remove it from `roles`; it can be used in access rules as it is"),
                );
            } else if roles.contains(&role.value) {
                self.problem(Diagnostic::new(
                    role.loc,
                    format!("role `{}` is declared twice", role.value),
                ));
            } else {
                roles.push(role.value.clone());
            }
        }
        roles.sort();
        roles
    }

    pub(super) fn access(
        &mut self,
        spec: &ModelSpec,
        roles: &[String],
        has_owner: bool,
        is_user_model: bool,
    ) -> Access {
        let rule = |r: &Option<RuleSpec>, op: &str, b: &mut Self| {
            b.rule(r.as_ref(), op, spec, roles, has_owner, is_user_model)
        };
        Access {
            read: rule(&spec.access.read, "read", self),
            create: rule(&spec.access.create, "create", self),
            update: rule(&spec.access.update, "update", self),
            delete: rule(&spec.access.delete, "delete", self),
        }
    }

    fn rule(
        &mut self,
        spec: Option<&RuleSpec>,
        op: &str,
        model: &ModelSpec,
        roles: &[String],
        has_owner: bool,
        is_user_model: bool,
    ) -> Rule {
        let mut rule = Rule::default();
        let Some(spec) = spec else {
            rule.summary = "nobody".to_owned();
            return rule;
        };
        let model_name = &model.name.value;
        for p in &spec.principals {
            match p.value.as_str() {
                "public" => rule.public = true,
                "authenticated" => rule.authenticated = true,
                "nobody" => {}
                "owner" | "self" if op == "create" => self.problem(
                    Diagnostic::new(p.loc, format!("`{}` cannot create: the row does not exist yet", p.value))
                        .hint("use `authenticated` (create sets the owner field from the token) or a role"),
                ),
                "owner" if !has_owner => self.problem(
                    Diagnostic::new(p.loc, format!("`owner` is used but model `{model_name}` has no owner field"))
                        .hint("mark the field holding the user id with `owner: true`"),
                ),
                "owner" => rule.owner = true,
                "self" if !is_user_model => self.problem(
                    Diagnostic::new(p.loc, format!("`self` only applies to the user model, not `{model_name}`"))
                        .hint(format!("use `owner` with an owner field, or set `auth: {{ user: {model_name} }}`")),
                ),
                "self" => rule.self_ = true,
                role if roles.iter().any(|r| r == role) => rule.roles.push(role.to_owned()),
                unknown => {
                    let candidates = BUILTIN_PRINCIPALS.iter().copied().chain(roles.iter().map(String::as_str));
                    let hint = did_you_mean(unknown, candidates).unwrap_or_else(|| {
                        let declared = if roles.is_empty() { "none".to_owned() } else { roles.join(", ") };
                        format!(
                            "use public, authenticated, owner, self, nobody or a role declared under `roles` (declared: {declared})"
                        )
                    });
                    self.problem(Diagnostic::new(p.loc, format!("unknown access rule `{unknown}`")).hint(hint));
                }
            }
        }
        rule.roles.sort();
        rule.roles.dedup();
        let mut parts = Vec::new();
        if rule.public {
            parts.push("anyone".to_owned());
        }
        if rule.authenticated {
            parts.push("any signed-in user".to_owned());
        }
        if rule.owner {
            parts.push("owner".to_owned());
        }
        if rule.self_ {
            parts.push("the user themself".to_owned());
        }
        parts.extend(rule.roles.iter().map(|r| format!("role `{r}`")));
        rule.summary = if parts.is_empty() {
            "nobody".to_owned()
        } else {
            parts.join(" or ")
        };
        rule
    }
}
