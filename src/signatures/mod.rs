//! Signature packs: loading, checking, compiling to a matcher, and matching
//! names. TODO(helper): implement.

use std::sync::Arc;

/// How sure a match makes us that a product is installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// A person browsing a vendor web site could produce this.
    Low,
    Medium,
    /// Only an installed product would contact this.
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// One compiled signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, e.g. `kaspersky-0001`.
    pub id: String,
    /// The pattern as written in the pack, e.g. `*.upd.kaspersky.com`.
    pub pattern: String,
    /// Vendor (ruleset), e.g. `kaspersky`.
    pub vendor: String,
    /// e.g. `update`, `telemetry_ksn`, `website_browsing`.
    pub category: String,
    pub confidence: Confidence,
    pub source: String,
    pub note: String,
}

/// A compiled, read-only set of signatures shared by all workers.
#[derive(Debug, Default)]
pub struct SignatureSet {
    rules: Vec<Arc<Rule>>,
}

impl SignatureSet {
    /// The most specific rule matching `name` (case-insensitive, trailing dot
    /// ignored). Never allocates.
    pub fn match_name(&self, _name: &[u8]) -> Option<&Arc<Rule>> {
        None
    }

    pub fn rules(&self) -> &[Arc<Rule>] {
        &self.rules
    }
}
