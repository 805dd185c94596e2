//! What the schema says about its own history, for migrations: the names models and fields had before
//! (`renamedFrom:`), the values existing rows get when a field becomes required (`backfill:`), and where each
//! model and field is written, so that a refused migration points at the line to change.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::DefaultValue;
use crate::diagnostics::{Diagnostic, Diagnostics, Loc};
use crate::schema::Spanned;

/// Migration hints of a whole schema. Not part of any template's view of the graph.
#[derive(Debug, Clone, std::default::Default)]
pub struct Hints {
    /// The schema file and its text, for located reports; set by `crate::load` (absent for a graph built from a
    /// `Schema` in memory).
    pub source: Option<Arc<Source>>,
    /// Where `models:` is written: a model that is no longer there is reported here.
    pub models_loc: Loc,
    /// By model name.
    pub models: BTreeMap<String, ModelHints>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub file: String,
    pub text: String,
}

#[derive(Debug, Clone, std::default::Default)]
pub struct ModelHints {
    /// Where the model's name is written.
    pub loc: Loc,
    pub renamed_from: Option<Spanned<String>>,
    /// By field name.
    pub fields: BTreeMap<String, FieldHints>,
}

#[derive(Debug, Clone, std::default::Default)]
pub struct FieldHints {
    /// Where the field's name is written.
    pub loc: Loc,
    /// Where its type is written.
    pub type_loc: Loc,
    pub renamed_from: Option<Spanned<String>>,
    /// Checked like a default: a literal, `now` or `uuid` (a new one per row).
    pub backfill: Option<Spanned<DefaultValue>>,
}

impl Hints {
    /// Problems found in this schema, reported like every other schema error (file, line, column, hint).
    pub fn report(&self, items: Vec<Diagnostic>) -> Diagnostics {
        match &self.source {
            Some(source) => Diagnostics::new(source.file.clone(), source.text.clone(), items),
            None => Diagnostics::new("schema", "", items),
        }
    }

    pub fn model(&self, name: &str) -> Option<&ModelHints> {
        self.models.get(name)
    }

    pub fn field(&self, model: &str, field: &str) -> Option<&FieldHints> {
        self.models.get(model).and_then(|m| m.fields.get(field))
    }

    /// Where a model is written, or `models:` when it is not (any more).
    pub fn model_loc(&self, model: &str) -> Loc {
        self.model(model).map_or(self.models_loc, |m| m.loc)
    }
}
