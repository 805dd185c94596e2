//! Which other models a live list's query reads through relations: the relations its `include` names (and theirs,
//! nested), and those its `where` filters through (`is`, `isNot`, `some`, `every`, `none`, also inside an included
//! to-many's own `where`). A committed change to a row of one of them can change the page without any change to the
//! list's own rows, so the live list listens to their channels as well.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::Error;
use super::Model;

/// One relation of a model as the client sees it: the name `include` and filters use, and the model it reaches.
#[derive(Debug, Clone, Copy)]
pub struct Relation {
    /// The name on the wire (`author`, `messages`).
    pub name: &'static str,
    /// The related model's schema name.
    pub model: &'static str,
    /// The related model's list channel; `None` when it is not realtime.
    pub channel: Option<&'static str>,
    /// The related model's own relations (a function, so that a model can refer to itself).
    pub relations: fn() -> &'static [Relation],
}

impl Relation {
    /// The relation `name` to the model `T`.
    pub const fn to<T: Model>(name: &'static str) -> Relation {
        Relation {
            name,
            model: T::NAME,
            channel: T::CHANNEL,
            relations: relations_of::<T>,
        }
    }
}

fn relations_of<T: Model>() -> &'static [Relation] {
    T::RELATIONS
}

/// The relation operators of a filter: each takes the related model's filter.
const OPERATORS: [&str; 5] = ["is", "isNot", "some", "every", "none"];

/// The channels (by model name) of every model that `filter` (a list's `where`, as JSON) and `include` (the list
/// or object form, as the REST query takes it) read through `relations`, the list's model's relations. A relation
/// to a model without a channel cannot be followed: the list could not see its changes, so that is an error. Names
/// that are no relation are left to the server, which answers them with a `400` on the first read.
pub fn followed_channels(
    relations: &'static [Relation],
    filter: Option<&Value>,
    include: Option<&str>,
) -> Result<BTreeMap<&'static str, &'static str>, Error> {
    let mut followed = Followed::default();
    if let Some(filter) = filter {
        followed.filter(relations, filter)?;
    }
    match include.map(str::trim) {
        None | Some("") => {}
        Some(object) if object.starts_with('{') => {
            let object: Value = serde_json::from_str(object)
                .map_err(|e| Error::Protocol(format!("`include` is not valid JSON: {e}")))?;
            followed.include_object(relations, &object)?;
        }
        Some(list) => {
            for path in list.split(',') {
                followed.include_path(relations, path.trim().split('.'))?;
            }
        }
    }
    Ok(followed.0)
}

#[derive(Default)]
struct Followed(BTreeMap<&'static str, &'static str>);

impl Followed {
    /// Notes the relation `name` among `relations`, if there is one; returns the related model's relations.
    fn follow(
        &mut self,
        relations: &'static [Relation],
        name: &str,
    ) -> Result<Option<&'static [Relation]>, Error> {
        let Some(relation) = relations.iter().find(|r| r.name == name) else {
            return Ok(None);
        };
        let channel = relation.channel.ok_or_else(|| {
            Error::Protocol(format!(
                "a live list cannot follow `{name}`: {} is not realtime, so its changes are not announced; \
                 read it with `list_including` instead",
                relation.model
            ))
        })?;
        self.0.insert(relation.model, channel);
        Ok(Some((relation.relations)()))
    }

    fn filter(&mut self, relations: &'static [Relation], filter: &Value) -> Result<(), Error> {
        let Some(fields) = filter.as_object() else {
            return Ok(());
        };
        for (key, value) in fields {
            match key.as_str() {
                // Combinators hold filters of the same model: one, or a list.
                "AND" | "OR" | "NOT" => match value {
                    Value::Array(items) => {
                        for item in items {
                            self.filter(relations, item)?;
                        }
                    }
                    other => self.filter(relations, other)?,
                },
                name => {
                    let Some(operators) = value.as_object() else {
                        continue;
                    };
                    if !operators.keys().any(|k| OPERATORS.contains(&k.as_str())) {
                        continue; // a field's own filter (`equals`, `in`, ...)
                    }
                    if let Some(related) = self.follow(relations, name)? {
                        for operator in OPERATORS {
                            if let Some(inner) = operators.get(operator) {
                                self.filter(related, inner)?;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn include_path<'p>(
        &mut self,
        mut relations: &'static [Relation],
        path: impl Iterator<Item = &'p str>,
    ) -> Result<(), Error> {
        for name in path {
            match self.follow(relations, name)? {
                Some(related) => relations = related,
                None => return Ok(()),
            }
        }
        Ok(())
    }

    fn include_object(
        &mut self,
        relations: &'static [Relation],
        object: &Value,
    ) -> Result<(), Error> {
        let Some(entries) = object.as_object() else {
            return Ok(());
        };
        for (name, options) in entries {
            if options == &Value::Bool(false) {
                continue;
            }
            let Some(related) = self.follow(relations, name)? else {
                continue;
            };
            // `true`, or the relation's options.
            if let Some(options) = options.as_object() {
                if let Some(filter) = options.get("where") {
                    self.filter(related, filter)?;
                }
                if let Some(nested) = options.get("include") {
                    self.include_object(related, nested)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // A small graph: messages have an author, a room and a secret; rooms have messages and an owner.
    fn message() -> &'static [Relation] {
        const RELATIONS: &[Relation] = &[
            relation("author", "User", Some("User:list"), user),
            relation("room", "Room", Some("Room:list"), room),
            relation("secret", "Secret", None, user),
        ];
        RELATIONS
    }

    fn room() -> &'static [Relation] {
        const RELATIONS: &[Relation] = &[
            relation("messages", "Message", Some("Message:list"), message),
            relation("owner", "User", Some("User:list"), user),
        ];
        RELATIONS
    }

    fn user() -> &'static [Relation] {
        &[]
    }

    const fn relation(
        name: &'static str,
        model: &'static str,
        channel: Option<&'static str>,
        relations: fn() -> &'static [Relation],
    ) -> Relation {
        Relation {
            name,
            model,
            channel,
            relations,
        }
    }

    fn models(filter: Option<Value>, include: Option<&str>) -> Vec<&'static str> {
        followed_channels(message(), filter.as_ref(), include)
            .unwrap()
            .into_keys()
            .collect()
    }

    #[test]
    fn a_query_without_relations_follows_nothing() {
        let filter = json!({ "text": { "equals": "author" }, "author": "not an operator" });
        assert!(models(Some(filter), None).is_empty());
        assert!(models(None, Some(" ")).is_empty());
    }

    #[test]
    fn include_paths_follow_every_level() {
        assert_eq!(models(None, Some("author")), ["User"]);
        assert_eq!(
            models(None, Some("room.messages, author")),
            ["Message", "Room", "User"]
        );
        // Unknown names are the server's to refuse.
        assert_eq!(models(None, Some("room.members.author")), ["Room"]);
    }

    #[test]
    fn filters_follow_relations_inside_combinators_and_operators() {
        let filter = json!({
            "OR": [{ "text": { "contains": "a" } }, { "NOT": { "room": { "is": {
                "messages": { "some": { "author": { "isNot": {} } } }
            } } } }]
        });
        assert_eq!(models(Some(filter), None), ["Message", "Room", "User"]);
    }

    #[test]
    fn include_objects_follow_their_own_where_and_include() {
        let include = r#"{"room": {"where": {}, "include": {"messages": {"where": {"author": {"is": {}}}}}}}"#;
        assert_eq!(models(None, Some(include)), ["Message", "Room", "User"]);
        assert!(models(None, Some(r#"{"room": false}"#)).is_empty());
    }

    #[test]
    fn a_relation_to_a_model_without_a_channel_cannot_be_followed() {
        for (filter, include) in [
            (None, Some("secret")),
            (Some(json!({ "secret": { "is": {} } })), None),
        ] {
            match followed_channels(message(), filter.as_ref(), include) {
                Err(Error::Protocol(message)) => {
                    assert!(
                        message.contains("`secret`") && message.contains("Secret is not realtime")
                    )
                }
                other => panic!("expected a refusal, got {other:?}"),
            }
        }
        assert!(matches!(
            followed_channels(message(), None, Some("{not json")),
            Err(Error::Protocol(_))
        ));
    }
}
