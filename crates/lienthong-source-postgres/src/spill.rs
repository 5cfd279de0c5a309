//! Spill files for in-progress transactions the server streams before they commit (pgoutput
//! `streaming`). A transaction's changes wait on disk until its StreamCommit, so memory stays
//! bounded whatever the transaction's size; a StreamAbort deletes them (or, for a
//! subtransaction, marks them skipped).
//!
//! Record layout: u32 length (big-endian) of the pgoutput message, u64 WAL position, message.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::pgoutput::{Lsn, Xid};

/// The spilled part of one streamed transaction.
#[derive(Debug)]
pub struct Spill {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    /// Subtransactions aborted while the transaction was streaming; their changes are skipped.
    pub aborted_subxacts: HashSet<Xid>,
    pub records: u64,
}

impl Spill {
    pub fn create(dir: &Path, xid: Xid) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{xid}.spill"));
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)?;
        Ok(Self {
            path,
            writer: Some(BufWriter::with_capacity(256 * 1024, file)),
            aborted_subxacts: HashSet::new(),
            records: 0,
        })
    }

    pub fn append(&mut self, wal_start: Lsn, message: &[u8]) -> std::io::Result<()> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| std::io::Error::other("spill file already closed"))?;
        let len = u32::try_from(message.len()).map_err(std::io::Error::other)?;
        writer.write_all(&len.to_be_bytes())?;
        writer.write_all(&wal_start.to_be_bytes())?;
        writer.write_all(message)?;
        self.records += 1;
        Ok(())
    }

    /// Finishes writing and returns a reader over the records in order.
    pub fn into_reader(mut self) -> std::io::Result<SpillReader> {
        if let Some(mut w) = self.writer.take() {
            w.flush()?;
        }
        let file = File::open(&self.path)?;
        Ok(SpillReader {
            path: self.path.clone(),
            reader: BufReader::with_capacity(256 * 1024, file),
            aborted_subxacts: std::mem::take(&mut self.aborted_subxacts),
        })
    }

    /// Deletes the file (transaction aborted).
    pub fn discard(mut self) {
        self.writer.take();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads a spill file back; deletes it when dropped.
#[derive(Debug)]
pub struct SpillReader {
    path: PathBuf,
    reader: BufReader<File>,
    pub aborted_subxacts: HashSet<Xid>,
}

impl SpillReader {
    /// The next (WAL position, message), or `None` at the end.
    pub fn next_record(&mut self) -> std::io::Result<Option<(Lsn, Vec<u8>)>> {
        let mut len = [0u8; 4];
        match self.reader.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut lsn = [0u8; 8];
        self.reader.read_exact(&mut lsn)?;
        let mut message = vec![0u8; u32::from_be_bytes(len) as usize];
        self.reader.read_exact(&mut message)?;
        Ok(Some((u64::from_be_bytes(lsn), message)))
    }
}

impl Drop for SpillReader {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Removes spill files left by a previous run (their transactions will be streamed again).
pub fn clear(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_in_order_and_the_file_goes_away() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::create(dir.path(), 42).unwrap();
        for i in 0..1000u64 {
            spill.append(i, format!("message {i}").as_bytes()).unwrap();
        }
        spill.aborted_subxacts.insert(43);
        let path = dir.path().join("42.spill");
        assert!(path.exists());
        {
            let mut reader = spill.into_reader().unwrap();
            assert!(reader.aborted_subxacts.contains(&43));
            for i in 0..1000u64 {
                let (lsn, msg) = reader.next_record().unwrap().unwrap();
                assert_eq!(lsn, i);
                assert_eq!(msg, format!("message {i}").as_bytes());
            }
            assert!(reader.next_record().unwrap().is_none());
        }
        assert!(!path.exists());
    }

    #[test]
    fn discarded_spills_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::create(dir.path(), 7).unwrap();
        spill.append(1, b"x").unwrap();
        spill.discard();
        assert!(!dir.path().join("7.spill").exists());
    }
}
