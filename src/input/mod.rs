//! Opening inputs: memory-mapped files, or pipes (`-` = stdin) read through a
//! bounded window. Nothing here knows what the bytes mean beyond magic numbers.

pub mod layout;
pub mod manifest;
internal_mod!(pipe);

pub use pipe::{PipeLimits, PipeWindow, SharedBytes, DEFAULT_MAX_RECORD, DEFAULT_PIPE_MEMORY};

use crate::error::{Error, ErrorKind, InputProblem, Result};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Let the kernel drop our mapping of the whole pages inside `bytes`, so a
/// walk through a value of gigabytes keeps a small resident set.
///
/// # Safety
/// `bytes` must lie inside a read-only, file-backed map (a mapped input or a
/// pipe's spill file): then MADV_DONTNEED only drops page mappings and a later
/// access reads the same file bytes back. On anonymous memory it would zero
/// them.
pub(crate) unsafe fn release_file_pages(bytes: &[u8]) {
    let page = page_size();
    let start = (bytes.as_ptr() as usize).div_ceil(page) * page;
    let end = (bytes.as_ptr() as usize + bytes.len()) / page * page;
    if end > start {
        // SAFETY: the range is page-aligned and inside `bytes`; the caller
        // guarantees what backs it.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}

/// A record longer than this is walked in steps of this size, each dropped
/// from memory once walked when the record is in a file-backed map (see
/// [`release_file_pages`]): a record can be gigabytes.
pub(crate) const HUGE_STEP: usize = 8 << 20;

/// The kernel's page size (4 KiB on most, 16 or 64 KiB on some ARM kernels).
fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *PAGE.get_or_init(|| usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096).max(1))
}

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
            return Err(Error::new(ErrorKind::Input(InputProblem::IsADirectory)).in_file(&name));
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
    pub fn window(&mut self, limits: PipeLimits) -> Window<'_> {
        match &mut self.source {
            Source::Mapped(m) => Window::Slice { all: &m[..], pos: 0, map: Some(&*m) },
            Source::Empty => Window::Slice { all: &[], pos: 0, map: None },
            Source::Pipe(r) => Window::Pipe(PipeWindow::new(r.as_mut(), limits)),
        }
    }
}

/// The bytes available to a reader: all of a map, or a sliding window over a pipe.
pub enum Window<'s> {
    Slice { all: &'s [u8], pos: usize, map: Option<&'s memmap2::Mmap> },
    Pipe(PipeWindow<'s>),
}

impl<'s> Window<'s> {
    /// The bytes not yet consumed that are in memory now.
    pub fn avail(&self) -> &[u8] {
        match self {
            Window::Slice { all, pos, .. } => &all[*pos..],
            Window::Pipe(p) => p.avail(),
        }
    }

    /// Absolute offset of the first byte of `avail()`.
    pub fn offset(&self) -> u64 {
        match self {
            Window::Slice { pos, .. } => *pos as u64,
            Window::Pipe(p) => p.offset(),
        }
    }

    /// Mark `n` bytes as used.
    pub fn consume(&mut self, n: usize) {
        match self {
            Window::Slice { pos, all, .. } => *pos = (*pos + n).min(all.len()),
            Window::Pipe(p) => p.consume(n),
        }
    }

    /// The whole input when it is mapped: its bytes live as long as the input.
    pub fn mapped(&self) -> Option<&'s [u8]> {
        match self {
            Window::Slice { all, .. } => Some(all),
            Window::Pipe(_) => None,
        }
    }

    /// The read-only file-backed map that `avail()` lies in, if any (see
    /// `release_file_pages`).
    pub fn file_map(&self) -> Option<&[u8]> {
        match self {
            Window::Slice { map, .. } => map.map(|m| &m[..]),
            Window::Pipe(p) => p.spill_map(),
        }
    }

    /// The first `len` bytes of `avail()` as bytes that outlive the window,
    /// when a pipe holds them in a spill file (see `input::pipe`).
    pub fn shared(&self, len: usize) -> Option<SharedBytes> {
        match self {
            Window::Slice { .. } => None,
            Window::Pipe(p) => p.shared(len),
        }
    }

    /// Let the kernel drop the mapped pages of `from..to` from our
    /// resident set (they stay in the page cache), so a long sequential read of
    /// a huge file keeps a small RSS. For pipes, only bytes not yet consumed
    /// and held in a spill file have pages to drop.
    pub fn release(&self, from: u64, to: u64) {
        if let Window::Pipe(p) = self {
            return p.release(from, to);
        }
        if let Window::Slice { map: Some(map), .. } = self {
            let (from, to) = ((from as usize).min(map.len()), (to as usize).min(map.len()));
            // SAFETY: the input's map is read-only, file-backed and alive here.
            unsafe { release_file_pages(&map[from..to.max(from)]) };
        }
    }

    /// Read and throw away input until `required` bytes past the window start
    /// have been seen or the input ends: `true` if they were there. Only for a
    /// record that is failing anyway (over `--max-record`), to tell a damaged
    /// length from a real one. Maps have nothing to skip.
    pub fn skip_ahead(&mut self, required: usize) -> Result<bool> {
        match self {
            Window::Slice { all, pos, .. } => Ok(all.len() - *pos >= required),
            Window::Pipe(p) => p.skip_ahead(required),
        }
    }

    /// Bytes thrown away by `skip_ahead` (they follow `avail()`).
    pub fn skipped(&self) -> u64 {
        match self {
            Window::Slice { .. } => 0,
            Window::Pipe(p) => p.skipped(),
        }
    }

    /// True when no more bytes can ever arrive beyond `avail()`.
    pub fn at_eof(&self) -> bool {
        match self {
            Window::Slice { .. } => true,
            Window::Pipe(p) => p.at_eof(),
        }
    }

    /// Make at least `want` bytes available if the input has them. Returns
    /// `Ok(false)` when the input ended first; `RecordTooLarge` when `want` is
    /// beyond `--max-record`.
    pub fn fill(&mut self, want: usize) -> Result<bool> {
        match self {
            Window::Slice { all, pos, .. } => Ok(all.len() - *pos >= want),
            Window::Pipe(p) => p.fill(want),
        }
    }
}
