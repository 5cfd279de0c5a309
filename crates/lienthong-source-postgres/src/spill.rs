//! Where in-progress transactions the server streams before they commit (pgoutput
//! `streaming`) wait for their commit. A transaction's changes are kept in memory up to a
//! limit, then in a file, so memory stays bounded whatever the transaction's size (and a
//! moderately large transaction costs no file I/O); a StreamAbort drops them (or, for a
//! subtransaction, marks them skipped).
//!
//! Record layout, in memory and on disk alike: u32 length (big-endian) of the pgoutput message,
//! u64 WAL position, message.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Cursor, Read, Write};
use std::path::{Path, PathBuf};

use crate::pgoutput::{Lsn, Xid};

/// The held-back part of one streamed transaction.
#[derive(Debug)]
pub struct Spill {
    path: PathBuf,
    /// Records while they fit in `memory_limit` bytes.
    memory: Vec<u8>,
    memory_limit: usize,
    /// Set once the records outgrew memory: everything is then in the file.
    writer: Option<BufWriter<File>>,
    /// Subtransactions aborted while the transaction was streaming; their changes are skipped.
    pub aborted_subxacts: HashSet<Xid>,
    pub records: u64,
}

impl Spill {
    /// A spill for transaction `xid` keeping up to `memory_limit` bytes in memory before it
    /// moves to a file in `dir`.
    pub fn new(dir: &Path, xid: Xid, memory_limit: usize) -> Self {
        Self {
            path: dir.join(format!("{xid}.spill")),
            memory: Vec::new(),
            memory_limit,
            writer: None,
            aborted_subxacts: HashSet::new(),
            records: 0,
        }
    }

    /// True once the records were moved to a file.
    pub fn on_disk(&self) -> bool {
        self.writer.is_some()
    }

    pub fn append(&mut self, wal_start: Lsn, message: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(message.len()).map_err(std::io::Error::other)?;
        if self.writer.is_none() && self.memory.len() + 12 + message.len() > self.memory_limit {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&self.path)?;
            let mut writer = BufWriter::with_capacity(256 * 1024, file);
            writer.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.writer = Some(writer);
        }
        match self.writer.as_mut() {
            Some(writer) => {
                writer.write_all(&len.to_be_bytes())?;
                writer.write_all(&wal_start.to_be_bytes())?;
                writer.write_all(message)?;
            }
            None => {
                self.memory.extend_from_slice(&len.to_be_bytes());
                self.memory.extend_from_slice(&wal_start.to_be_bytes());
                self.memory.extend_from_slice(message);
            }
        }
        self.records += 1;
        Ok(())
    }

    /// Finishes writing and returns a reader over the records in order.
    pub fn into_reader(mut self) -> std::io::Result<SpillReader> {
        let aborted_subxacts = std::mem::take(&mut self.aborted_subxacts);
        let source = match self.writer.take() {
            Some(mut writer) => {
                writer.flush()?;
                drop(writer);
                let file = File::open(&self.path)?;
                Source::File {
                    path: self.path.clone(),
                    reader: BufReader::with_capacity(256 * 1024, file),
                }
            }
            None => Source::Memory(Cursor::new(std::mem::take(&mut self.memory))),
        };
        Ok(SpillReader {
            source,
            aborted_subxacts,
        })
    }

    /// Drops the records (transaction aborted).
    pub fn discard(mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[derive(Debug)]
enum Source {
    Memory(Cursor<Vec<u8>>),
    File {
        path: PathBuf,
        reader: BufReader<File>,
    },
}

/// Reads a spill back; deletes its file, if any, when dropped.
#[derive(Debug)]
pub struct SpillReader {
    source: Source,
    pub aborted_subxacts: HashSet<Xid>,
}

impl SpillReader {
    /// The next (WAL position, message), or `None` at the end.
    pub fn next_record(&mut self) -> std::io::Result<Option<(Lsn, Vec<u8>)>> {
        let reader: &mut dyn Read = match &mut self.source {
            Source::Memory(cursor) => cursor,
            Source::File { reader, .. } => reader,
        };
        let mut len = [0u8; 4];
        match reader.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut lsn = [0u8; 8];
        reader.read_exact(&mut lsn)?;
        let mut message = vec![0u8; u32::from_be_bytes(len) as usize];
        reader.read_exact(&mut message)?;
        Ok(Some((u64::from_be_bytes(lsn), message)))
    }
}

impl Drop for SpillReader {
    fn drop(&mut self) {
        if let Source::File { path, .. } = &self.source {
            let _ = std::fs::remove_file(path);
        }
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

    fn fill(spill: &mut Spill) {
        for i in 0..1000u64 {
            spill.append(i, format!("message {i}").as_bytes()).unwrap();
        }
    }

    fn read_back(spill: Spill) {
        let mut reader = spill.into_reader().unwrap();
        assert!(reader.aborted_subxacts.contains(&43));
        for i in 0..1000u64 {
            let (lsn, msg) = reader.next_record().unwrap().unwrap();
            assert_eq!(lsn, i);
            assert_eq!(msg, format!("message {i}").as_bytes());
        }
        assert!(reader.next_record().unwrap().is_none());
    }

    #[test]
    fn small_transactions_stay_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(dir.path(), 42, 1 << 20);
        fill(&mut spill);
        spill.aborted_subxacts.insert(43);
        assert!(!spill.on_disk());
        assert!(!dir.path().join("42.spill").exists());
        read_back(spill);
    }

    #[test]
    fn records_beyond_the_limit_move_to_a_file_which_goes_away_after_reading() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(&dir.path().join("source"), 42, 4096);
        fill(&mut spill);
        spill.aborted_subxacts.insert(43);
        assert!(spill.on_disk());
        let path = dir.path().join("source/42.spill");
        assert!(path.exists());
        read_back(spill);
        assert!(!path.exists());
    }

    #[test]
    fn discarded_spills_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(dir.path(), 7, 0);
        spill.append(1, b"x").unwrap();
        assert!(dir.path().join("7.spill").exists());
        spill.discard();
        assert!(!dir.path().join("7.spill").exists());
    }
}
