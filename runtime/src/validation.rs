//! Bounds checks from the schema (`min`/`max` on text length and on numbers), run by the inputs' `validate()`.

/// One violated bound.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    /// The field's name on the wire.
    pub field: String,
    /// `too_short`, `too_long`, `too_small` or `too_large`.
    pub code: String,
    /// For people (`must be at most 200 characters long, is 250`).
    pub message: String,
}

/// Every violated bound of one input.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ValidationErrors {
    /// In field order; empty when the input is valid.
    pub errors: Vec<FieldError>,
}

impl ValidationErrors {
    fn push(&mut self, field: &str, code: &str, message: String) {
        self.errors.push(FieldError {
            field: field.to_owned(),
            code: code.to_owned(),
            message,
        });
    }

    /// Checks a text's length in characters (not bytes), as the database's `length()` counts it.
    pub fn check_length(
        &mut self,
        field: &str,
        value: &str,
        min: Option<usize>,
        max: Option<usize>,
    ) {
        let length = value.chars().count();
        if let Some(min) = min {
            if length < min {
                self.push(
                    field,
                    "too_short",
                    format!("must be at least {min} characters long, is {length}"),
                );
            }
        }
        if let Some(max) = max {
            if length > max {
                self.push(
                    field,
                    "too_long",
                    format!("must be at most {max} characters long, is {length}"),
                );
            }
        }
    }

    /// Checks a number against inclusive bounds.
    pub fn check_range<T: PartialOrd + std::fmt::Display>(
        &mut self,
        field: &str,
        value: T,
        min: Option<T>,
        max: Option<T>,
    ) {
        if let Some(min) = min {
            if value < min {
                self.push(
                    field,
                    "too_small",
                    format!("must be at least {min}, is {value}"),
                );
            }
        }
        if let Some(max) = max {
            if value > max {
                self.push(
                    field,
                    "too_large",
                    format!("must be at most {max}, is {value}"),
                );
            }
        }
    }

    /// Whether no bound was violated.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok` when no bound was violated, else the errors.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.field, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// An input whose schema bounds can be checked: every create, replace and patch input implements it.
pub trait Validate {
    /// Checks the schema's length and range bounds, returning every violation at once.
    fn validate(&self) -> Result<(), ValidationErrors>;
}

/// Reads a patch field that may be absent (`None`, via `#[serde(default)]`) but not `null`: a required field cannot
/// be cleared, so `null` is a type error instead of silently meaning "leave unchanged".
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}
