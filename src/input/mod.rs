//! Opening inputs: memory-mapped files, or pipes (`-` = stdin) read through a
//! bounded window. Nothing here knows what the bytes mean beyond magic numbers.

pub mod layout;
pub mod manifest;

use crate::error::{Error, ErrorKind, Result};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Default largest record a pipe window may hold (`--max-record`).
pub const DEFAULT_MAX_RECORD: usize = 1 << 30;
const INITIAL_WINDOW: usize = 64 * 1024;

/// Where bytes come from.
pub enum Source {
    Mapped(memmap2::Mmap),
    /// A file of length zero cannot be mapped; it is simply empty.
    Empty,
    Pipe(Box<dyn Read + Send>),
}

/// An opened input with the name used in messages.
pub struct Input {
    pub name: Arc<Path>,
    pub source: Source,
}

impl Input {
    /// Open a path for reading; `-` is standard input, read as a pipe.
    pub fn open(path: &Path) -> Result<Input> {
        let name: Arc<Path> = Arc::from(path);
        if path == Path::new("-") {
            return Ok(Input {
                name: Arc::from(PathBuf::from("<stdin>").as_path()),
                source: Source::Pipe(Box::new(std::io::stdin())),
            });
        }
        let file = File::open(path).map_err(|e| Error::io(e).in_file(&name))?;
        let meta = file.metadata().map_err(|e| Error::io(e).in_file(&name))?;
        if meta.is_dir() {
            return Err(Error::new(ErrorKind::Usage("is a directory")).in_file(&name));
        }
        if !meta.is_file() {
            // FIFOs, character devices: stream them.
            return Ok(Input { name, source: Source::Pipe(Box::new(file)) });
        }
        if meta.len() == 0 {
            return Ok(Input { name, source: Source::Empty });
        }
        // SAFETY: the map is read-only and private to this process. If another
        // process truncates the file while we read it, accesses past the new end
        // raise SIGBUS; that is the accepted trade-off of mapped input (ripgrep
        // makes the same one) and we never write through the map.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(e).in_file(&name))?;
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Input { name, source: Source::Mapped(map) })
    }

    /// Wrap any reader as a pipe input (tests use this for 1-byte reads).
    pub fn from_reader(name: &str, r: impl Read + Send + 'static) -> Input {
        Input { name: Arc::from(Path::new(name)), source: Source::Pipe(Box::new(r)) }
    }

    /// The first `n` bytes (fewer if the input is shorter), left unconsumed:
    /// a pipe keeps them in front of the rest of its stream.
    pub fn peek(&mut self, n: usize) -> Result<Vec<u8>> {
        match &mut self.source {
            Source::Mapped(m) => Ok(m[..n.min(m.len())].to_vec()),
            Source::Empty => Ok(Vec::new()),
            Source::Pipe(r) => {
                let mut head = Vec::new();
                r.by_ref().take(n as u64).read_to_end(&mut head).map_err(|e| Error::io(e).in_file(&self.name))?;
                let rest = std::mem::replace(r, Box::new(std::io::empty()));
                *r = Box::new(std::io::Cursor::new(head.clone()).chain(rest));
                Ok(head)
            }
        }
    }

    /// A window over this input.
    pub fn window(&mut self, max_record: usize) -> Window<'_> {
        match &mut self.source {
            Source::Mapped(m) => Window::Slice { all: &m[..], pos: 0, map: Some(&*m) },
            Source::Empty => Window::Slice { all: &[], pos: 0, map: None },
            Source::Pipe(r) => Window::Buffer {
                reader: r.as_mut(),
                buf: Vec::new(),
                start: 0,
                end: 0,
                consumed: 0,
                skipped: 0,
                eof: false,
                max: max_record.max(INITIAL_WINDOW),
            },
        }
    }
}

/// The bytes available to a reader: all of a map, or a sliding buffer over a pipe.
pub enum Window<'s> {
    Slice {
        all: &'s [u8],
        pos: usize,
        map: Option<&'s memmap2::Mmap>,
    },
    Buffer {
        reader: &'s mut (dyn Read + Send),
        buf: Vec<u8>,
        start: usize,
        end: usize,
        /// Bytes dropped from the front so far (absolute offset of `start`).
        consumed: u64,
        /// Bytes read past the window and thrown away by `skip_ahead`.
        skipped: u64,
        eof: bool,
        max: usize,
    },
}

impl<'s> Window<'s> {
    /// The bytes not yet consumed that are in memory now.
    pub fn avail(&self) -> &[u8] {
        match self {
            Window::Slice { all, pos, .. } => &all[*pos..],
            Window::Buffer { buf, start, end, .. } => &buf[*start..*end],
        }
    }

    /// Absolute offset of the first byte of `avail()`.
    pub fn offset(&self) -> u64 {
        match self {
            Window::Slice { pos, .. } => *pos as u64,
            Window::Buffer { consumed, .. } => *consumed,
        }
    }

    /// Mark `n` bytes as used.
    pub fn consume(&mut self, n: usize) {
        match self {
            Window::Slice { pos, all, .. } => *pos = (*pos + n).min(all.len()),
            Window::Buffer { start, end, consumed, .. } => {
                let n = n.min(*end - *start);
                *start += n;
                *consumed += n as u64;
            }
        }
    }

    /// The whole input when it is mapped: its bytes live as long as the input.
    pub fn mapped(&self) -> Option<&'s [u8]> {
        match self {
            Window::Slice { all, .. } => Some(all),
            Window::Buffer { .. } => None,
        }
    }

    /// Let the kernel drop the mapped pages of `from..to` from our
    /// resident set (they stay in the page cache), so a long sequential read of
    /// a huge file keeps a small RSS. No-op for pipes, whose window is already
    /// bounded.
    pub fn release(&self, from: u64, to: u64) {
        if let Window::Slice { map: Some(map), .. } = self {
            let page = 4096;
            // Whole pages only; one shared with bytes before `from` may go too
            // (a later access just faults it back in).
            let start = (from as usize).min(map.len()) / page * page;
            let end = (to as usize).min(map.len()) / page * page;
            if end > start {
                // SAFETY: the map is read-only and file-backed; MADV_DONTNEED only
                // drops our page mappings, and any later access faults the same
                // file bytes back in. No pointer into the map is invalidated.
                let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start) };
            }
        }
    }

    /// Read and throw away input until `required` bytes past the window start
    /// have been seen or the input ends: `true` if they were there. Only for a
    /// record that is failing anyway (too large to buffer), to tell a damaged
    /// length from a real one. Maps have nothing to skip.
    pub fn skip_ahead(&mut self, required: usize) -> Result<bool> {
        match self {
            Window::Slice { all, pos, .. } => Ok(all.len() - *pos >= required),
            Window::Buffer { reader, start, end, eof, skipped, .. } => {
                let mut seen = (*end - *start) as u64;
                let mut scratch = vec![0u8; 64 * 1024];
                while seen < required as u64 && !*eof {
                    match reader.read(&mut scratch) {
                        Ok(0) => *eof = true,
                        Ok(n) => {
                            seen += n as u64;
                            *skipped += n as u64;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(Error::io(e)),
                    }
                }
                Ok(seen >= required as u64)
            }
        }
    }

    /// Bytes thrown away by `skip_ahead` (they follow `avail()`).
    pub fn skipped(&self) -> u64 {
        match self {
            Window::Slice { .. } => 0,
            Window::Buffer { skipped, .. } => *skipped,
        }
    }

    /// True when no more bytes can ever arrive beyond `avail()`.
    pub fn at_eof(&self) -> bool {
        match self {
            Window::Slice { .. } => true,
            Window::Buffer { eof, .. } => *eof,
        }
    }

    /// Make at least `want` bytes available if the input has them. Returns
    /// `Ok(false)` when the input ended first; `RecordTooLarge` when `want` is
    /// beyond the window limit.
    pub fn fill(&mut self, want: usize) -> Result<bool> {
        match self {
            Window::Slice { all, pos, .. } => Ok(all.len() - *pos >= want),
            Window::Buffer { reader, buf, start, end, eof, max, .. } => {
                if want > *max {
                    return Err(Error::new(ErrorKind::RecordTooLarge));
                }
                while *end - *start < want && !*eof {
                    if *start > 0 && (*start >= buf.len() / 2 || buf.len() - *start < want) {
                        buf.copy_within(*start..*end, 0);
                        *end -= *start;
                        *start = 0;
                    }
                    if *end == buf.len() {
                        // Grow only as data arrives, at most doubling: a length
                        // field alone can never make us allocate, and re-parsing a
                        // large record after each refill stays linear overall.
                        let target = (buf.len() * 2).max(INITIAL_WINDOW).min(*start + want).max(*end + 1);
                        buf.resize(target, 0);
                    }
                    let spare = buf.len() - *end;
                    let got = loop {
                        match reader.read(&mut buf[*end..*end + spare]) {
                            Ok(n) => break n,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                            Err(e) => return Err(Error::io(e)),
                        }
                    };
                    if got == 0 {
                        *eof = true;
                    }
                    *end += got;
                }
                Ok(*end - *start >= want)
            }
        }
    }
}
