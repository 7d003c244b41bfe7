//! The on-disk spool of a network sink (`--spool-dir`): records the
//! collector could not take yet, kept in order until it can.
//!
//! # File format
//!
//! `DIR/NAME.spool` is a sequence of records, each a 4-byte big-endian
//! length followed by that many bytes (the formatted message, exactly as
//! it will be sent). `DIR/NAME.spool.off` holds, as decimal text, the
//! offset of the first record not yet delivered; it is rewritten (write
//! to a temporary file, then rename) after every delivered batch, so a
//! crash re-sends at most one batch. When every record is delivered both
//! files are emptied.
//!
//! Guarantees:
//! - The file never grows past its byte cap: a record that would cross it
//!   is refused ([`PushError::Full`]) and the caller counts it dropped.
//! - A spool left by an earlier run is picked up at open and delivered
//!   first. A torn last record (a crash mid-write) or a length over
//!   [`limits::SPOOL_MAX_RECORD`] cuts the spool there, counted in
//!   [`Spool::damaged`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::config::limits;

/// Why a record could not be spooled.
#[derive(Debug)]
pub enum PushError {
    /// The spool is at its byte cap.
    Full,
    Io(io::Error),
}

/// One sink's spool (see the module documentation).
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    off_path: PathBuf,
    file: File,
    /// File length (all records, delivered or not).
    len: u64,
    /// Offset of the first undelivered record.
    read_off: u64,
    /// Undelivered records.
    pending: u64,
    max_bytes: u64,
    damaged: u64,
}

impl Spool {
    /// Opens (creating `dir` and the files if needed) the spool `name` in
    /// `dir`, capped at `max_bytes`, and recovers what an earlier run left.
    pub fn open(dir: &Path, name: &str, max_bytes: u64) -> io::Result<Spool> {
        fs::create_dir_all(dir)?;
        let path = dir.join(format!("{name}.spool"));
        let off_path = dir.join(format!("{name}.spool.off"));
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let len = file.metadata()?.len();
        let read_off = fs::read_to_string(&off_path)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|&o| o <= len)
            .unwrap_or(0);
        let mut sp = Spool {
            path,
            off_path,
            file,
            len,
            read_off,
            pending: 0,
            max_bytes,
            damaged: 0,
        };
        sp.recover()?;
        Ok(sp)
    }

    /// Counts the undelivered records; cuts the file at the first damaged
    /// one.
    fn recover(&mut self) -> io::Result<()> {
        let mut off = self.read_off;
        let mut n = 0u64;
        self.file.seek(SeekFrom::Start(off))?;
        let mut r = io::BufReader::new(&self.file);
        loop {
            let mut hdr = [0u8; 4];
            match read_full(&mut r, &mut hdr)? {
                0 => break,
                4 => {}
                _ => {
                    self.damaged += 1;
                    break;
                }
            }
            let rec_len = u64::from(u32::from_be_bytes(hdr));
            if rec_len > limits::SPOOL_MAX_RECORD as u64 || off + 4 + rec_len > self.len {
                self.damaged += 1;
                break;
            }
            io::copy(&mut (&mut r).take(rec_len), &mut io::sink())?;
            off += 4 + rec_len;
            n += 1;
        }
        if off < self.len {
            self.file.set_len(off)?;
            self.len = off;
        }
        self.pending = n;
        if n == 0 {
            self.reset()?;
        }
        Ok(())
    }

    /// Appends one record.
    pub fn push(&mut self, rec: &[u8]) -> Result<(), PushError> {
        let add = 4 + rec.len() as u64;
        if rec.len() > limits::SPOOL_MAX_RECORD || self.len + add > self.max_bytes {
            return Err(PushError::Full);
        }
        let hdr = (rec.len() as u32).to_be_bytes();
        let mut whole = Vec::with_capacity(rec.len() + 4);
        whole.extend_from_slice(&hdr);
        whole.extend_from_slice(rec);
        // One write of the whole record, so a crash tears at most the last.
        if let Err(e) = self.file.write_all(&whole) {
            // Cut a partial record off again.
            let _ = self.file.set_len(self.len);
            return Err(PushError::Io(e));
        }
        self.len += add;
        self.pending += 1;
        Ok(())
    }

    /// Reads up to `max` undelivered records, oldest first, into `out`
    /// (cleared first), without consuming them; returns their total size
    /// on disk, to pass to [`Spool::commit`].
    pub fn peek(&mut self, max: usize, out: &mut Vec<Vec<u8>>) -> io::Result<u64> {
        out.clear();
        self.file.seek(SeekFrom::Start(self.read_off))?;
        let mut r = io::BufReader::new(&self.file);
        let mut used = 0u64;
        while out.len() < max && self.read_off + used < self.len {
            let mut hdr = [0u8; 4];
            r.read_exact(&mut hdr)?;
            let n = u32::from_be_bytes(hdr) as usize;
            if n > limits::SPOOL_MAX_RECORD {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "spool record too long",
                ));
            }
            let mut rec = vec![0u8; n];
            r.read_exact(&mut rec)?;
            used += 4 + n as u64;
            out.push(rec);
        }
        Ok(used)
    }

    /// Marks `records` records of `bytes` bytes (from [`Spool::peek`]) as
    /// delivered; empties the files once everything is.
    pub fn commit(&mut self, records: u64, bytes: u64) -> io::Result<()> {
        self.read_off = self.read_off.saturating_add(bytes).min(self.len);
        self.pending = self.pending.saturating_sub(records);
        if self.pending == 0 || self.read_off >= self.len {
            self.pending = 0;
            return self.reset();
        }
        let tmp = self.off_path.with_extension("off.tmp");
        fs::write(&tmp, self.read_off.to_string())?;
        fs::rename(&tmp, &self.off_path)
    }

    fn reset(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.len = 0;
        self.read_off = 0;
        match fs::remove_file(&self.off_path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Records not yet delivered.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.len
    }

    /// Damaged tails cut off at open.
    pub fn damaged(&self) -> u64 {
        self.damaged
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads until `buf` is full or end of file; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..) {
        if rest.is_empty() {
            break;
        }
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "phonehome-spool-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn records_come_back_in_order_and_commit_empties() {
        let d = tmpdir("order");
        let mut s = Spool::open(&d, "t", 1 << 20).expect("open");
        for i in 0..10u8 {
            s.push(&[i; 3]).expect("push");
        }
        assert_eq!(s.pending(), 10);
        let mut out = Vec::new();
        let used = s.peek(4, &mut out).expect("peek");
        assert_eq!(out, [[0u8; 3], [1; 3], [2; 3], [3; 3]]);
        assert_eq!(used, 4 * 7);
        s.commit(4, used).expect("commit");
        let used = s.peek(100, &mut out).expect("peek");
        assert_eq!(out.len(), 6);
        assert_eq!(out[0], [4u8; 3]);
        s.commit(6, used).expect("commit");
        assert_eq!((s.pending(), s.bytes()), (0, 0));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn cap_refuses_records_that_would_cross_it() {
        let d = tmpdir("cap");
        // Two records of 4 + 10 bytes fit in 30, a third does not.
        let mut s = Spool::open(&d, "t", 30).expect("open");
        s.push(&[1; 10]).expect("first");
        s.push(&[2; 10]).expect("second");
        assert!(matches!(s.push(&[3; 10]), Err(PushError::Full)));
        assert_eq!(s.pending(), 2);
        // Delivering frees the space again.
        let mut out = Vec::new();
        let used = s.peek(10, &mut out).expect("peek");
        s.commit(2, used).expect("commit");
        s.push(&[3; 10]).expect("fits after delivery");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn reopen_resumes_after_the_delivered_records_and_cuts_torn_tail() {
        let d = tmpdir("reopen");
        {
            let mut s = Spool::open(&d, "t", 1 << 20).expect("open");
            for i in 0..5u8 {
                s.push(&[i; 2]).expect("push");
            }
            let mut out = Vec::new();
            let used = s.peek(2, &mut out).expect("peek");
            s.commit(2, used).expect("commit");
        }
        // A crash mid-write leaves half a record.
        let mut f = OpenOptions::new()
            .append(true)
            .open(d.join("t.spool"))
            .expect("append");
        f.write_all(&[0, 0, 0, 9, 1, 2]).expect("torn write");
        drop(f);
        let mut s = Spool::open(&d, "t", 1 << 20).expect("reopen");
        assert_eq!(s.pending(), 3);
        assert_eq!(s.damaged(), 1);
        let mut out = Vec::new();
        s.peek(10, &mut out).expect("peek");
        assert_eq!(out, [[2u8; 2], [3; 2], [4; 2]]);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn committing_past_the_end_empties_instead_of_overflowing() {
        let d = tmpdir("past-end");
        let mut s = Spool::open(&d, "t", 1 << 20).expect("open");
        s.push(b"abc").expect("push");
        s.push(b"def").expect("push");
        s.commit(2, u64::MAX).expect("commit");
        assert_eq!((s.pending(), s.bytes()), (0, 0));
        let mut out = Vec::new();
        assert_eq!(s.peek(10, &mut out).expect("peek"), 0);
        assert!(out.is_empty());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn absurd_length_prefix_is_damage_not_an_allocation() {
        let d = tmpdir("absurd");
        fs::create_dir_all(&d).expect("dir");
        fs::write(d.join("t.spool"), [0xff, 0xff, 0xff, 0xff, 0]).expect("write");
        let s = Spool::open(&d, "t", 1 << 20).expect("open");
        assert_eq!((s.pending(), s.damaged(), s.bytes()), (0, 1, 0));
        let _ = fs::remove_dir_all(&d);
    }
}
