//! Deterministic traffic generator used by the demo, tests and benches.
//! TODO(helper): implement.
