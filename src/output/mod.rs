//! I/O out: ECS JSON lines, inventory files, the human summary.
//!
//! Every string that reaches an output went through the one name escaping
//! in [`escape`]; each format adds its own quoting on top. The schema of
//! everything written here is docs/SCHEMA.md, version
//! [`json::SCHEMA_VERSION`].

pub mod cef;
pub mod delivery;
pub mod escape;
pub mod hec;
pub mod inventory_file;
pub mod json;
pub mod policy;
pub mod sink;
pub mod spool;
pub mod summary;
pub mod syslog;
pub mod time;
pub mod tls;

use std::path::PathBuf;

pub use delivery::{AlertSink, DeliveryError, SinkOptions, SyslogFormat, open_sink};
pub use inventory_file::{InventoryFormat, write_inventory_file};
pub use policy::{AlertPolicy, Decision, Rollup, RollupReport};
pub use sink::{EventSink, Filter, JsonLinesSink};
pub use summary::{Totals, write_summary};

/// Errors at the output edge; each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create output file {}: {source} (check the directory exists and is writable)", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write output file {}: {source} (check free disk space)", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("inventory file {}: unknown format; name it *.json or *.csv", path.display())]
    UnknownInventoryFormat { path: PathBuf },
}
