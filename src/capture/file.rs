//! pcap / pcapng files (optionally gzip-compressed) through `pcap-parser`'s
//! bounded streaming reader. TODO(helper): implement.

use std::path::{Path, PathBuf};

use super::{RawPacket, Source};

/// A capture file could not be read. Always names the file and where.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: byte offset {offset} (after packet {packet}): {reason}")]
    Corrupt {
        path: PathBuf,
        /// Byte offset in the (decompressed) stream where the damage starts.
        offset: u64,
        /// Packets of this file read successfully before the damage.
        packet: u64,
        reason: String,
    },
}

/// Reads one pcap or pcapng file, plain or gzip-compressed.
pub struct FileSource {
    _path: PathBuf,
}

impl FileSource {
    pub fn open(path: &Path) -> Result<FileSource, CaptureError> {
        Ok(FileSource {
            _path: path.to_path_buf(),
        })
    }
}

impl Source for FileSource {
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError> {
        Ok(None)
    }
}
