//! Configuration and limits.

pub mod limits;
