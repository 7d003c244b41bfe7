//! Load errors. Every error that concerns a place in a pack carries that
//! place as `file:line`, and displays as `file:line: message` so editors
//! and CI logs can jump to it.

use std::fmt;

use super::pattern::PatternError;

/// A place in a pack: the file as the user named it (or
/// `<builtin>/kaspersky.toml` for the embedded pack) and a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One problem found while loading packs.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: file is {size} bytes, larger than the {limit}-byte limit for a pack")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("{path}: directory holds no *.toml pack")]
    EmptyDirectory { path: String },
    /// TOML syntax, a missing or unknown field, a value of the wrong type.
    #[error("{at}: {message}")]
    Syntax { at: Location, message: String },
    #[error("{at}: [pack] {field}: {message}")]
    Header {
        at: Location,
        field: &'static str,
        message: String,
    },
    #[error("{at}: invalid id `{id}` (lowercase letters, digits, '-', '_', '.'; 1-64 characters)")]
    InvalidId { at: Location, id: String },
    #[error("{at}: duplicate id `{id}` (first defined at {first})")]
    DuplicateId {
        at: Location,
        id: String,
        first: Location,
    },
    #[error("{at}: invalid pattern `{pattern}`: {reason}")]
    InvalidPattern {
        at: Location,
        pattern: String,
        reason: PatternError,
    },
    #[error("{at}: duplicate pattern `{pattern}` (first defined at {first})")]
    DuplicatePattern {
        at: Location,
        pattern: String,
        first: Location,
    },
    #[error("{at}: bad confidence `{value}` (expected low, medium or high)")]
    BadConfidence { at: Location, value: String },
    #[error("{at}: invalid category `{value}` (lowercase letters, digits, '_'; 1-64 characters)")]
    InvalidCategory { at: Location, value: String },
    #[error("{at}: `{field}` must not be empty")]
    EmptyField { at: Location, field: &'static str },
    #[error("{at}: bad kind `{value}` for [[{table}]] (expected {expected})")]
    BadKind {
        at: Location,
        table: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{at}: invalid value `{value}`: {reason}")]
    InvalidValue {
        at: Location,
        value: String,
        reason: String,
    },
    #[error("{at}: duplicate {table} indicator `{value}` (first defined at {first})")]
    DuplicateIndicator {
        at: Location,
        table: &'static str,
        value: String,
        first: Location,
    },
    #[error("{at}: more than {limit} rules in the loaded packs")]
    TooManyRules { at: Location, limit: usize },
}

impl PackError {
    /// The place in a pack the error concerns, when there is one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            PackError::Read { .. }
            | PackError::TooLarge { .. }
            | PackError::EmptyDirectory { .. } => None,
            PackError::Syntax { at, .. }
            | PackError::Header { at, .. }
            | PackError::InvalidId { at, .. }
            | PackError::DuplicateId { at, .. }
            | PackError::InvalidPattern { at, .. }
            | PackError::DuplicatePattern { at, .. }
            | PackError::BadConfidence { at, .. }
            | PackError::InvalidCategory { at, .. }
            | PackError::EmptyField { at, .. }
            | PackError::BadKind { at, .. }
            | PackError::InvalidValue { at, .. }
            | PackError::DuplicateIndicator { at, .. }
            | PackError::TooManyRules { at, .. } => Some(at),
        }
    }
}

/// Every problem found while loading, in file order. Displays one error a
/// line.
#[derive(Debug)]
pub struct LoadErrors(pub Vec<PackError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}
