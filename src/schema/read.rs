//! YAML text -> `Schema`. Checks shape only (which keys exist, what kind of value each has); meaning is checked by
//! the model builder. Every problem is collected with its position instead of stopping at the first.

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{LoadError, LoaderOptions, Node, Span};

use super::{AccessSpec, DefaultSpec, EnumSpec, FieldSpec, ModelSpec, RuleSpec, Schema, Spanned};
use crate::diagnostics::{did_you_mean, Diagnostic, Loc};

pub const TOP_LEVEL_KEYS: &[&str] = &[
    "crate",
    "version",
    "description",
    "roles",
    "auth",
    "enums",
    "models",
];
pub const AUTH_KEYS: &[&str] = &["user"];
pub const ENUM_KEYS: &[&str] = &["values", "doc"];
pub const MODEL_KEYS: &[&str] = &[
    "fields",
    "access",
    "realtime",
    "plural",
    "table",
    "doc",
    "renamedFrom",
];
pub const ACCESS_KEYS: &[&str] = &["read", "create", "update", "delete"];
pub const FIELD_KEYS: &[&str] = &[
    "type",
    "optional",
    "id",
    "default",
    "unique",
    "readonly",
    "hidden",
    "owner",
    "references",
    "inverse",
    "onDelete",
    "min",
    "max",
    "doc",
    "renamedFrom",
    "backfill",
];

/// Reads schema text. On success the schema may still be meaningless; on failure the YAML could not be read at all
/// or had the wrong shape, and every such problem is returned.
pub fn parse(text: &str) -> Result<Schema, Vec<Diagnostic>> {
    let options = LoaderOptions::default().error_on_duplicate_keys(true);
    let root = match marked_yaml::parse_yaml_with_options(0, text, options) {
        Ok(node) => node,
        Err(e) => return Err(vec![load_error(e, text)]),
    };
    let mut reader = Reader {
        problems: Vec::new(),
    };
    let schema = reader.schema(&root);
    if reader.problems.is_empty() {
        Ok(schema)
    } else {
        Err(reader.problems)
    }
}

fn load_error(error: LoadError, text: &str) -> Diagnostic {
    let at = |m: &marked_yaml::Marker| Loc::new(m.line(), m.column());
    match error {
        LoadError::TopLevelMustBeMapping(m) => {
            let hint = "a schema starts with `crate: <name>` and `models:`; run `ssot-gen init` for a starter";
            // An empty file has no useful marker; point at its start.
            let loc = if text.trim().is_empty() {
                Loc::new(1, 1)
            } else {
                at(&m)
            };
            Diagnostic::new(loc, "the schema must be a YAML mapping").hint(hint)
        }
        LoadError::TopLevelMustBeSequence(m) => {
            Diagnostic::new(at(&m), "the schema must be a YAML mapping")
        }
        LoadError::UnexpectedAnchor(m) => {
            Diagnostic::new(at(&m), "YAML anchors and aliases are not supported").hint(
                "write the value out in full; a schema is read by people more than by machines",
            )
        }
        LoadError::MappingKeyMustBeScalar(m) => {
            Diagnostic::new(at(&m), "mapping keys must be plain names").hint("write `name: value`")
        }
        LoadError::UnexpectedTag(m) => {
            Diagnostic::new(at(&m), "YAML tags (`!tag`) are not supported").hint("remove the tag")
        }
        LoadError::ScanError(m, e) => {
            Diagnostic::new(at(&m), format!("malformed YAML: {}", e.info()))
                .hint("check indentation, colons and quotes on this line and the one before it")
        }
        LoadError::DuplicateKey(inner) => {
            let first = inner.prev_key.span().start().map(at).unwrap_or_default();
            let loc = inner.key.span().start().map(at).unwrap_or_default();
            Diagnostic::new(loc, format!("`{}` is defined twice", inner.key.as_str())).hint(
                format!(
                    "the first definition is at line {}, column {}",
                    first.line, first.column
                ),
            )
        }
    }
}

fn loc_of(span: &Span) -> Loc {
    span.start()
        .map(|m| Loc::new(m.line(), m.column()))
        .unwrap_or_default()
}

fn node_loc(node: &Node) -> Loc {
    loc_of(node.span())
}

fn kind_of(node: &Node) -> &'static str {
    match node {
        Node::Scalar(s) if s.as_str().is_empty() => "nothing",
        Node::Scalar(_) => "a plain value",
        Node::Mapping(_) => "a mapping",
        Node::Sequence(_) => "a list",
    }
}

struct Reader {
    problems: Vec<Diagnostic>,
}

impl Reader {
    fn problem(&mut self, d: Diagnostic) {
        self.problems.push(d);
    }

    fn expect_mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n MarkedMappingNode> {
        match node {
            Node::Mapping(m) => Some(m),
            other => {
                self.problem(Diagnostic::new(
                    node_loc(other),
                    format!("{what} must be a mapping, found {}", kind_of(other)),
                ));
                None
            }
        }
    }

    fn expect_scalar<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n MarkedScalarNode> {
        match node {
            Node::Scalar(s) if !s.as_str().is_empty() => Some(s),
            other => {
                self.problem(Diagnostic::new(
                    node_loc(other),
                    format!("{what} must be a plain value, found {}", kind_of(other)),
                ));
                None
            }
        }
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        self.expect_scalar(node, what)
            .map(|s| Spanned::new(s.as_str().to_owned(), loc_of(s.span())))
    }

    fn bool(&mut self, node: &Node, what: &str) -> Option<Spanned<bool>> {
        let s = self.expect_scalar(node, what)?;
        match s.as_str() {
            "true" => Some(Spanned::new(true, loc_of(s.span()))),
            "false" => Some(Spanned::new(false, loc_of(s.span()))),
            other => {
                self.problem(
                    Diagnostic::new(
                        loc_of(s.span()),
                        format!("{what} must be `true` or `false`, found `{other}`"),
                    )
                    .hint("write `true` or `false`"),
                );
                None
            }
        }
    }

    fn number(&mut self, node: &Node, what: &str) -> Option<Spanned<f64>> {
        let s = self.expect_scalar(node, what)?;
        match s.as_str().parse::<f64>() {
            Ok(n) if n.is_finite() => Some(Spanned::new(n, loc_of(s.span()))),
            _ => {
                self.problem(
                    Diagnostic::new(
                        loc_of(s.span()),
                        format!("{what} must be a number, found `{}`", s.as_str()),
                    )
                    .hint("write a number such as `100` or `0.5`"),
                );
                None
            }
        }
    }

    fn doc(&mut self, node: &Node) -> Option<String> {
        self.string(node, "`doc`").map(|s| s.value)
    }

    /// Iterates a mapping's entries, reporting keys not in `allowed` (with a suggestion) and skipping them.
    fn entries<'n>(
        &mut self,
        map: &'n MarkedMappingNode,
        allowed: &[&str],
        context: &str,
    ) -> Vec<(&'n MarkedScalarNode, &'n Node)> {
        let mut known = Vec::new();
        for (key, value) in map.iter() {
            if allowed.contains(&key.as_str()) {
                known.push((key, value));
            } else {
                let hint = did_you_mean(key.as_str(), allowed.iter().copied())
                    .unwrap_or_else(|| format!("allowed keys here: {}", allowed.join(", ")));
                self.problem(
                    Diagnostic::new(
                        loc_of(key.span()),
                        format!("unknown key `{}` in {context}", key.as_str()),
                    )
                    .hint(hint),
                );
            }
        }
        known
    }

    fn schema(&mut self, root: &Node) -> Schema {
        let mut schema = Schema {
            loc: node_loc(root),
            ..Schema::default()
        };
        let Some(map) = self.expect_mapping(root, "the schema") else {
            return schema;
        };
        let mut saw_models = false;
        for (key, value) in self.entries(map, TOP_LEVEL_KEYS, "the schema") {
            match key.as_str() {
                "crate" => schema.crate_name = self.string(value, "`crate`"),
                "version" => schema.version = self.string(value, "`version`"),
                "description" => schema.description = self.doc(value),
                "roles" => schema.roles = self.string_list(value, "`roles`"),
                "auth" => schema.user_model = self.auth(value),
                "enums" => schema.enums = self.enums(value),
                "models" => {
                    saw_models = true;
                    schema.models_loc = loc_of(key.span());
                    schema.models = self.models(value);
                }
                _ => unreachable!("entries() only yields allowed keys"),
            }
        }
        if schema.crate_name.is_none() {
            self.problem(
                Diagnostic::new(schema.loc, "the schema has no `crate` name")
                    .hint("add `crate: my-app` (the name of the generated crate)"),
            );
        }
        if !saw_models {
            self.problem(
                Diagnostic::new(schema.loc, "the schema has no `models`").hint(
                    "add `models:` with at least one model; run `ssot-gen init` for an example",
                ),
            );
        }
        schema
    }

    /// A list of plain values; a single plain value is accepted as a list of one.
    fn string_list(&mut self, node: &Node, what: &str) -> Option<Vec<Spanned<String>>> {
        match node {
            Node::Sequence(items) => Some(
                items
                    .iter()
                    .filter_map(|item| self.string(item, what))
                    .collect(),
            ),
            _ => self.string(node, what).map(|s| vec![s]),
        }
    }

    fn auth(&mut self, node: &Node) -> Option<Spanned<String>> {
        let map = self.expect_mapping(node, "`auth`")?;
        let mut user = None;
        for (_, value) in self.entries(map, AUTH_KEYS, "`auth`") {
            user = self.string(value, "`auth.user`");
        }
        user
    }

    fn enums(&mut self, node: &Node) -> Vec<EnumSpec> {
        let Some(map) = self.expect_mapping(node, "`enums`") else {
            return Vec::new();
        };
        let mut enums = Vec::new();
        for (name, value) in map.iter() {
            let name = Spanned::new(name.as_str().to_owned(), loc_of(name.span()));
            let what = format!("values of enum `{}`", name.value);
            let (values, doc) = match value {
                Node::Mapping(m) => {
                    let mut values = None;
                    let mut doc = None;
                    for (key, v) in self.entries(m, ENUM_KEYS, &format!("enum `{}`", name.value)) {
                        match key.as_str() {
                            "values" => values = self.string_list(v, &what),
                            _ => doc = self.doc(v),
                        }
                    }
                    if values.is_none() {
                        self.problem(
                            Diagnostic::new(
                                name.loc,
                                format!("enum `{}` has no `values`", name.value),
                            )
                            .hint("write `values: [a, b]`"),
                        );
                    }
                    (values.unwrap_or_default(), doc)
                }
                Node::Sequence(_) => (self.string_list(value, &what).unwrap_or_default(), None),
                other => {
                    self.problem(
                        Diagnostic::new(
                            node_loc(other),
                            format!("enum `{}` must list its values", name.value),
                        )
                        .hint(format!("write `{}: [first, second]`", name.value)),
                    );
                    (Vec::new(), None)
                }
            };
            enums.push(EnumSpec { name, values, doc });
        }
        enums
    }

    fn models(&mut self, node: &Node) -> Vec<ModelSpec> {
        let Some(map) = self.expect_mapping(node, "`models`") else {
            return Vec::new();
        };
        map.iter()
            .filter_map(|(name, value)| self.model(name, value))
            .collect()
    }

    fn model(&mut self, name_node: &MarkedScalarNode, node: &Node) -> Option<ModelSpec> {
        let name = Spanned::new(name_node.as_str().to_owned(), loc_of(name_node.span()));
        let context = format!("model `{}`", name.value);
        let map = self.expect_mapping(node, &context)?;
        let mut model = ModelSpec {
            access: AccessSpec {
                loc: name.loc,
                ..AccessSpec::default()
            },
            name,
            doc: None,
            plural: None,
            table: None,
            realtime: None,
            fields: Vec::new(),
            renamed_from: None,
        };
        let mut saw_fields = false;
        for (key, value) in self.entries(map, MODEL_KEYS, &context) {
            match key.as_str() {
                "fields" => {
                    saw_fields = true;
                    model.fields = self.fields(value, &context);
                }
                "access" => model.access = self.access(value, &context, loc_of(key.span())),
                "realtime" => model.realtime = self.bool(value, "`realtime`"),
                "plural" => model.plural = self.string(value, "`plural`"),
                "table" => model.table = self.string(value, "`table`"),
                "renamedFrom" => model.renamed_from = self.string(value, "`renamedFrom`"),
                _ => model.doc = self.doc(value),
            }
        }
        if !saw_fields {
            self.problem(
                Diagnostic::new(model.name.loc, format!("{context} has no `fields`"))
                    .hint("add `fields:` with at least an id field, e.g. `id: { type: uuid, id: true, default: uuid }`"),
            );
        }
        Some(model)
    }

    fn access(&mut self, node: &Node, context: &str, loc: Loc) -> AccessSpec {
        let mut access = AccessSpec {
            loc,
            ..AccessSpec::default()
        };
        let Some(map) = self.expect_mapping(node, &format!("`access` of {context}")) else {
            return access;
        };
        for (key, value) in self.entries(map, ACCESS_KEYS, &format!("`access` of {context}")) {
            let what = format!("`access.{}`", key.as_str());
            let rule = self.string_list(value, &what).map(|principals| RuleSpec {
                principals,
                loc: node_loc(value),
            });
            match key.as_str() {
                "read" => access.read = rule,
                "create" => access.create = rule,
                "update" => access.update = rule,
                _ => access.delete = rule,
            }
        }
        access
    }

    fn fields(&mut self, node: &Node, context: &str) -> Vec<FieldSpec> {
        let Some(map) = self.expect_mapping(node, &format!("`fields` of {context}")) else {
            return Vec::new();
        };
        map.iter()
            .filter_map(|(name, value)| self.field(name, value, context))
            .collect()
    }

    fn field(
        &mut self,
        name_node: &MarkedScalarNode,
        node: &Node,
        model: &str,
    ) -> Option<FieldSpec> {
        let name = Spanned::new(name_node.as_str().to_owned(), loc_of(name_node.span()));
        let context = format!("field `{}` of {model}", name.value);
        let mut field = FieldSpec {
            name,
            ty: Spanned::new(String::new(), Loc::default()),
            optional: false,
            id: false,
            default: None,
            unique: false,
            readonly: false,
            hidden: false,
            owner: None,
            references: None,
            inverse: None,
            on_delete: None,
            min: None,
            max: None,
            doc: None,
            renamed_from: None,
            backfill: None,
        };
        let mut ty = None;
        match node {
            // Shorthand: `name: string` or `editedAt: datetime?`.
            Node::Scalar(_) => ty = self.string(node, &format!("the type of {context}")),
            Node::Mapping(map) => {
                for (key, value) in self.entries(map, FIELD_KEYS, &context) {
                    let flag =
                        |r: &mut Self, what: &str| r.bool(value, what).is_some_and(|b| b.value);
                    match key.as_str() {
                        "type" => ty = self.string(value, "`type`"),
                        "optional" => field.optional |= flag(self, "`optional`"),
                        "id" => field.id = flag(self, "`id`"),
                        "unique" => field.unique = flag(self, "`unique`"),
                        "readonly" => field.readonly = flag(self, "`readonly`"),
                        "hidden" => field.hidden = flag(self, "`hidden`"),
                        "owner" => field.owner = self.bool(value, "`owner`"),
                        "default" => field.default = self.default(value),
                        "references" => field.references = self.string(value, "`references`"),
                        "inverse" => field.inverse = self.string(value, "`inverse`"),
                        "onDelete" => field.on_delete = self.string(value, "`onDelete`"),
                        "min" => field.min = self.number(value, "`min`"),
                        "max" => field.max = self.number(value, "`max`"),
                        "renamedFrom" => field.renamed_from = self.string(value, "`renamedFrom`"),
                        "backfill" => field.backfill = self.default(value),
                        _ => field.doc = self.doc(value),
                    }
                }
            }
            other => {
                self.problem(
                    Diagnostic::new(
                        node_loc(other),
                        format!("{context} must be a type name or a mapping"),
                    )
                    .hint("write `name: string` or `name: { type: string, max: 100 }`"),
                );
                return None;
            }
        }
        match ty {
            Some(mut ty) => {
                if let Some(stripped) = ty.value.strip_suffix('?') {
                    ty.value = stripped.trim_end().to_owned();
                    field.optional = true;
                }
                field.ty = ty;
            }
            None => {
                if matches!(node, Node::Mapping(_)) {
                    self.problem(
                        Diagnostic::new(field.name.loc, format!("{context} has no `type`"))
                            .hint("add `type: string` (or int, uuid, datetime, ...)"),
                    );
                }
                return None;
            }
        }
        Some(field)
    }

    fn default(&mut self, node: &Node) -> Option<Spanned<DefaultSpec>> {
        let loc = node_loc(node);
        match node {
            Node::Scalar(s) => Some(Spanned::new(
                DefaultSpec::Scalar(s.as_str().to_owned()),
                loc,
            )),
            structured => Some(Spanned::new(
                DefaultSpec::Structured(to_json(structured)),
                loc,
            )),
        }
    }
}

/// Structured YAML (a `json` field's default) as JSON. Scalars become booleans, numbers or null where they read
/// as such, and strings otherwise.
fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value;
    match node {
        Node::Scalar(s) => scalar_to_json(s.as_str()),
        Node::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        Node::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.as_str().to_owned(), to_json(v)))
                .collect(),
        ),
    }
}

pub(crate) fn scalar_to_json(s: &str) -> serde_json::Value {
    use serde_json::Value;
    match s {
        "null" | "~" => Value::Null,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => {
            if let Ok(i) = s.parse::<i64>() {
                Value::from(i)
            } else if let Some(n) = s.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                Value::Number(n)
            } else {
                Value::String(s.to_owned())
            }
        }
    }
}
