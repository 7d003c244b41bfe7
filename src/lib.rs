//! phonehome: a passive sensor that finds hosts still phoning home to a
//! banned vendor (Kaspersky first).
//!
//! Data flow, one module per stage:
//!
//! ```text
//! capture → dispatch → decode → flow → extract → match → event → output
//!                                                   ↘ inventory / stats
//! ```
//!
//! Only [`capture`] and [`output`] touch files, sockets and clocks; the stages
//! between them are pure functions of bytes and state. See ARCHITECTURE.md.
// `deny`, not `forbid`: `capture::afpacket` (the FFI edge for live capture)
// is the one module that opts back in with `#![allow(unsafe_code)]`.
#![deny(unsafe_code)]

pub mod attribution;
pub mod capture;
pub mod config;
pub mod decode;
pub mod event;
pub mod extract;
pub mod flow;
pub mod inventory;
pub mod output;
pub mod report;
pub mod runtime;
pub mod signatures;
pub mod stats;
pub mod traffic;
