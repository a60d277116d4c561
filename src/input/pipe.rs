//! A bounded window over a pipe. Records up to `in_memory` bytes are held in a
//! buffer that grows only as data arrives; a larger record is written to a
//! private temporary file while it arrives and read through a map of that file,
//! so the readers see one contiguous slice either way and memory stays bounded
//! whatever the record's size. Once the window is back to small records it
//! returns to memory.

use crate::error::{Error, ErrorKind, Result};
use memmap2::Mmap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// Default largest record read from a pipe (`--max-record`): no limit.
pub const DEFAULT_MAX_RECORD: usize = usize::MAX;
/// Default bytes of a pipe held in memory before spilling (`--pipe-memory`).
pub const DEFAULT_PIPE_MEMORY: usize = 16 << 20;
pub(super) const INITIAL_WINDOW: usize = 64 * 1024;
/// Bytes read from the pipe per write into a spill file.
const SPILL_CHUNK: usize = 1 << 20;

/// How much of a pipe a window may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeLimits {
    /// Largest record read at all; a larger one is `RecordTooLarge`.
    pub max_record: usize,
    /// Beyond this many bytes a record is held in a temporary file.
    pub in_memory: usize,
}

impl Default for PipeLimits {
    fn default() -> Self {
        PipeLimits { max_record: DEFAULT_MAX_RECORD, in_memory: DEFAULT_PIPE_MEMORY }
    }
}

/// Bytes of a spill file that outlive the window (a batch of records handed to
/// other threads keeps the file's map alive, not a copy of the record).
#[derive(Clone)]
pub struct SharedBytes {
    map: Arc<Mmap>,
    start: usize,
    len: usize,
}

impl std::ops::Deref for SharedBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map[self.start..self.start + self.len]
    }
}

/// A new read-write file in `dir` that has no name (Linux O_TMPFILE, where
/// the kernel and file system allow it) or loses it at once: nothing is left
/// behind, even by a killed run. `what` names it while it has a name.
pub(crate) fn unnamed_temp_file(dir: &std::path::Path, what: &str) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    #[cfg(target_os = "linux")]
    if let Ok(file) =
        std::fs::OpenOptions::new().read(true).write(true).mode(0o600).custom_flags(libc::O_TMPFILE).open(dir)
    {
        return Ok(file);
    }
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    loop {
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("rdb-tool-{what}-{}-{n}", std::process::id()));
        // create_new: never open a file someone else placed there.
        match std::fs::OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(&path) {
            Ok(file) => {
                let _ = std::fs::remove_file(&path);
                return Ok(file);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1_000_000 => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A temporary file in the system's temporary directory (`TMPDIR`) that has
/// no name (or loses it as soon as it is created): nothing is left behind,
/// even by a killed run.
struct SpillFile {
    file: File,
    dir: PathBuf,
    /// Covers the whole file once `remap` has run after the last append.
    map: Option<Arc<Mmap>>,
    len: usize,
}

impl SpillFile {
    fn create() -> Result<SpillFile> {
        let dir = std::env::temp_dir();
        let file = unnamed_temp_file(&dir, "pipe").map_err(|e| spill_error(&dir, e))?;
        Ok(SpillFile { file, dir, map: None, len: 0 })
    }

    fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.file.write_all(bytes).map_err(|e| spill_error(&self.dir, e))?;
        self.len += bytes.len();
        Ok(())
    }

    /// Map what has been appended (a map cannot grow; a new one replaces it,
    /// and holders of the old one keep theirs).
    fn remap(&mut self) -> Result<()> {
        if self.len > 0 && self.map.as_ref().map_or(0, |m| m.len()) < self.len {
            // SAFETY: the file is private to this process (unlinked, never
            // shared) and only ever appended to, so mapped bytes never change.
            let map = unsafe { Mmap::map(&self.file) }.map_err(|e| spill_error(&self.dir, e))?;
            let _ = map.advise(memmap2::Advice::Sequential);
            self.map = Some(Arc::new(map));
        }
        Ok(())
    }

    /// Let the kernel drop our mapping of the pages of `from..to` (they are
    /// file pages, so this only shrinks the resident set; holders of the map
    /// that read them again fault them back in).
    fn release(&self, from: usize, to: usize) {
        if let Some(map) = &self.map {
            // SAFETY: a read-only map of our private file, alive here.
            unsafe { super::release_file_pages(&map[from.min(map.len())..to.min(map.len())]) };
        }
    }

    /// What the map covers (all that was appended, once remapped).
    fn bytes(&self) -> &[u8] {
        match &self.map {
            Some(m) => &m[..self.len.min(m.len())],
            None => &[],
        }
    }
}

fn spill_error(dir: &std::path::Path, e: std::io::Error) -> Error {
    Error::io(e).detail(format!(
        "holding a large record in a temporary file in {} (set TMPDIR to use another directory, or --max-record to refuse such records)",
        dir.display()
    ))
}

/// A sliding window over a pipe.
pub struct PipeWindow<'s> {
    reader: &'s mut (dyn Read + Send),
    buf: Vec<u8>,
    /// When set, the window's bytes are in this file instead of `buf`.
    spill: Option<Box<SpillFile>>,
    start: usize,
    end: usize,
    /// Bytes dropped from the front so far (absolute offset of `start`).
    consumed: u64,
    /// Bytes read past the window and thrown away by `skip_ahead`.
    skipped: u64,
    eof: bool,
    limits: PipeLimits,
}

impl<'s> PipeWindow<'s> {
    pub(super) fn new(reader: &'s mut (dyn Read + Send), limits: PipeLimits) -> Self {
        let limits = PipeLimits { in_memory: limits.in_memory.max(1), ..limits };
        PipeWindow {
            reader,
            buf: Vec::new(),
            spill: None,
            start: 0,
            end: 0,
            consumed: 0,
            skipped: 0,
            eof: false,
            limits,
        }
    }

    pub fn avail(&self) -> &[u8] {
        match &self.spill {
            Some(s) => &s.bytes()[self.start..self.end],
            None => &self.buf[self.start..self.end],
        }
    }

    pub fn offset(&self) -> u64 {
        self.consumed
    }

    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        if let Some(spill) = &self.spill {
            spill.release(self.start, self.start + n);
        }
        self.start += n;
        self.consumed += n as u64;
    }

    pub fn at_eof(&self) -> bool {
        self.eof
    }

    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The first `len` bytes of `avail()` as bytes that outlive the window,
    /// when they are held in a spill file.
    pub fn shared(&self, len: usize) -> Option<SharedBytes> {
        let spill = self.spill.as_ref()?;
        let map = spill.map.as_ref()?;
        (self.start + len <= self.end).then(|| SharedBytes { map: Arc::clone(map), start: self.start, len })
    }

    /// Drop our mapping of the spill-file pages of the absolute range
    /// `from..to` (see [`super::Window::release`]).
    pub fn release(&self, from: u64, to: u64) {
        if let Some(spill) = &self.spill {
            let rel = |abs: u64| (abs.saturating_sub(self.consumed) as usize).saturating_add(self.start).min(self.end);
            spill.release(rel(from), rel(to));
        }
    }

    /// The map of the spill file the window is held in now, if any.
    pub fn spill_map(&self) -> Option<&[u8]> {
        Some(&self.spill.as_ref()?.map.as_ref()?[..])
    }

    /// Whether the window is held in a spill file now (tests).
    pub fn is_spilled(&self) -> bool {
        self.spill.is_some()
    }

    /// See [`super::Window::skip_ahead`].
    pub fn skip_ahead(&mut self, required: usize) -> Result<bool> {
        let mut seen = (self.end - self.start) as u64;
        let mut scratch = vec![0u8; 64 * 1024];
        while seen < required as u64 && !self.eof {
            match self.reader.read(&mut scratch) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    seen += n as u64;
                    self.skipped += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(e)),
            }
        }
        Ok(seen >= required as u64)
    }

    /// See [`super::Window::fill`].
    pub fn fill(&mut self, want: usize) -> Result<bool> {
        if want > self.limits.max_record {
            return Err(Error::new(ErrorKind::RecordTooLarge));
        }
        if self.end - self.start >= want || self.eof {
            return Ok(self.end - self.start >= want);
        }
        let small = want <= self.limits.in_memory;
        match &self.spill {
            Some(_) if small => self.unspill(),
            // What was consumed is dropped with the old file.
            Some(_) if self.start > 0 => self.respill()?,
            None if !small => self.respill()?,
            _ => {}
        }
        match &self.spill {
            Some(spill) => {
                // A reader asks for more after a parse attempt that walked all
                // it had, and will walk it again: drop those pages meanwhile.
                if self.end - self.start > super::HUGE_STEP {
                    spill.release(self.start, self.end);
                }
                self.read_into_spill(want)?
            }
            None => self.read_into_memory(want)?,
        }
        Ok(self.end - self.start >= want)
    }

    /// Move the unconsumed bytes into memory and drop the spill file.
    fn unspill(&mut self) {
        if let Some(spill) = self.spill.take() {
            self.buf.clear();
            self.buf.extend_from_slice(&spill.bytes()[self.start..self.end]);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Start a new spill file holding the unconsumed bytes.
    fn respill(&mut self) -> Result<()> {
        let mut fresh = SpillFile::create()?;
        fresh.append(self.avail())?;
        self.end -= self.start;
        self.start = 0;
        self.spill = Some(Box::new(fresh));
        // The memory buffer is not needed while spilled.
        self.buf = Vec::new();
        Ok(())
    }

    fn read_more(&mut self, into: &mut [u8]) -> Result<usize> {
        loop {
            match self.reader.read(into) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(0);
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(e)),
            }
        }
    }

    fn read_into_spill(&mut self, want: usize) -> Result<()> {
        let mut scratch = vec![0u8; SPILL_CHUNK];
        // `end` moves only once the map covers the new bytes: after a failed
        // write the window still shows what it held.
        let mut end = self.end;
        while end - self.start < want && !self.eof {
            // Gather what is still needed (up to a chunk) before writing: a
            // pipe may hand out a few bytes per read.
            let need = (want - (end - self.start)).min(SPILL_CHUNK);
            let mut got = 0;
            while got < need && !self.eof {
                got += self.read_more(&mut scratch[got..])?;
            }
            if let Some(spill) = &mut self.spill {
                spill.append(&scratch[..got])?;
            }
            end += got;
        }
        if let Some(spill) = &mut self.spill {
            spill.remap()?;
        }
        self.end = end;
        Ok(())
    }

    fn read_into_memory(&mut self, want: usize) -> Result<()> {
        while self.end - self.start < want && !self.eof {
            let (start, end) = (self.start, self.end);
            if start > 0 && (start >= self.buf.len() / 2 || self.buf.len() - start < want) {
                self.buf.copy_within(start..end, 0);
                self.end -= start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                // Grow only as data arrives, at most doubling: a length field
                // alone can never make us allocate, and re-parsing a large
                // record after each refill stays linear overall.
                let target = (self.buf.len() * 2).max(INITIAL_WINDOW).min(self.start + want).max(self.end + 1);
                self.buf.resize(target, 0);
            }
            let mut buf = std::mem::take(&mut self.buf);
            let end = self.end;
            let got = self.read_more(&mut buf[end..]);
            self.buf = buf;
            self.end += got?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out one byte per read, like the slowest pipe.
    struct OneByte(std::io::Cursor<Vec<u8>>);
    impl Read for OneByte {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn a_record_over_the_memory_limit_is_held_in_a_file_and_the_window_returns_to_memory() {
        let bytes = data(10_000);
        let mut pipe = OneByte(std::io::Cursor::new(bytes.clone()));
        let mut win = PipeWindow::new(&mut pipe, PipeLimits { max_record: usize::MAX, in_memory: 100 });
        assert!(win.fill(50).unwrap());
        assert!(!win.is_spilled());
        assert_eq!(win.avail(), &bytes[..win.avail().len()]);
        win.consume(10);
        // A record of 3000 bytes from offset 10: spilled, contiguous, exact.
        assert!(win.fill(3000).unwrap());
        assert!(win.is_spilled());
        assert_eq!(&win.avail()[..3000], &bytes[10..3010]);
        let shared = win.shared(3000).unwrap();
        win.consume(3000);
        assert_eq!(win.offset(), 3010);
        // Another large record after consuming: a fresh file with only the tail.
        assert!(win.fill(5000).unwrap());
        assert!(win.is_spilled());
        assert_eq!(&win.avail()[..5000], &bytes[3010..8010]);
        // The first record's bytes outlive the window's move to another file.
        assert_eq!(&shared[..], &bytes[10..3010]);
        win.consume(5000);
        // Small again: back in memory, up to the end.
        assert!(win.fill(20).unwrap());
        assert!(!win.is_spilled());
        assert_eq!(&win.avail()[..20], &bytes[8010..8030]);
        assert!(!win.fill(10_000).unwrap());
        assert_eq!(win.avail(), &bytes[8010..]);
        assert!(win.at_eof());
    }

    #[test]
    fn max_record_still_refuses_and_the_spill_file_is_never_left_behind() {
        let dir = std::env::temp_dir();
        let before = spill_files(&dir);
        let bytes = data(5000);
        let mut pipe = std::io::Cursor::new(bytes.clone());
        let mut win = PipeWindow::new(&mut pipe, PipeLimits { max_record: 4000, in_memory: 100 });
        assert!(win.fill(3000).unwrap());
        assert!(win.is_spilled());
        assert_eq!(spill_files(&dir), before, "the spill file is unlinked as soon as it is created");
        assert_eq!(win.fill(4001).unwrap_err().kind, ErrorKind::RecordTooLarge);
    }

    fn spill_files(dir: &std::path::Path) -> usize {
        let me = format!("rdb-tool-pipe-{}-", std::process::id());
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(&me))
            .count()
    }
}
