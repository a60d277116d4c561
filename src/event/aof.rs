//! Reading AOF files into events: [`RespReader`] turns one file's command stream
//! (or the tail after an RDB preamble) into `Command` and `Annotation` events;
//! [`AofReader`] walks every file of an AOF in load order (a single file, or the
//! base and incr files of a multi-part set), reading an RDB preamble or base
//! with the RDB reader and the rest as commands.
//!
//! Each file is replayed by the server with a fresh client, so the selected db
//! starts at 0 in every file; the timestamp annotation in force carries over.

use super::{Event, RdbReader, ReaderOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::input::{Input, PipeLimits, Window};
use crate::token::resp::{parse_aof_item, AofItem, Args, CommandFrame};
use std::path::Path;
use std::sync::Arc;

/// What a file is within its AOF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum AofRole {
    /// A single-file AOF (`appendonly.aof`, Redis ≤ 6.2 style).
    Single,
    /// The base of a multi-part set (`*.base.rdb` or `*.base.aof`).
    Base,
    /// An incr file of a multi-part set.
    Incr,
}

impl AofRole {
    pub fn name(self) -> &'static str {
        match self {
            AofRole::Single => "single",
            AofRole::Base => "base",
            AofRole::Incr => "incr",
        }
    }
}

/// A logged command.
#[derive(Debug, Clone)]
pub struct CommandEvent<'a> {
    /// Offset of the record's `*` in its file.
    pub offset: u64,
    /// 0-based position among the commands of its file.
    pub index: u64,
    /// The database selected when the command runs (a `SELECT` event already
    /// carries the db it selects).
    pub db: u64,
    /// The last `#TS:` annotation before it, in Unix seconds.
    pub ts: Option<i64>,
    pub frame: CommandFrame<'a>,
}

impl<'a> CommandEvent<'a> {
    /// The command name as logged (case as typed).
    pub fn name(&self) -> &'a [u8] {
        self.frame.name
    }
    pub fn args(&self) -> Args<'a> {
        self.frame.args()
    }
    /// Length of the record in bytes.
    pub fn len(&self) -> u64 {
        self.frame.raw.len() as u64
    }
    pub fn is_empty(&self) -> bool {
        self.frame.raw.is_empty()
    }
    /// Offset just past the record.
    pub fn end(&self) -> u64 {
        self.offset + self.len()
    }
}

/// An annotation line.
#[derive(Debug, Clone, Copy)]
pub struct AnnotationEvent<'a> {
    pub offset: u64,
    /// The line as read, including its terminator if any.
    pub line: &'a [u8],
    /// The value of a well-formed `#TS:<seconds>` line.
    pub timestamp: Option<i64>,
}

impl AnnotationEvent<'_> {
    pub fn end(&self) -> u64 {
        self.offset + self.line.len() as u64
    }
}

/// `#TS:<decimal>` followed by `\r` (redis-check-aof's rule), or by the end of
/// the line.
fn parse_timestamp(line: &[u8]) -> Option<i64> {
    let digits = line.strip_prefix(b"#TS:")?;
    let end = digits.iter().position(|c| !c.is_ascii_digit()).unwrap_or(digits.len());
    if end == 0 || !matches!(digits.get(end), None | Some(b'\r') | Some(b'\n')) {
        return None;
    }
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

/// `SELECT <db>` as the server reads its argument.
fn selected_db(frame: &CommandFrame<'_>) -> Option<u64> {
    if frame.argc != 2 || !frame.name.eq_ignore_ascii_case(b"select") {
        return None;
    }
    let arg = frame.args().nth(1)?;
    std::str::from_utf8(arg).ok()?.parse().ok()
}

/// One item of a command stream.
#[derive(Debug, Clone)]
pub enum Record<'a> {
    Command(CommandEvent<'a>),
    Annotation(AnnotationEvent<'a>),
}

/// How often mapped pages behind the reader are released.
const RELEASE_STEP: u64 = 32 << 20;

/// The command stream of one file.
pub struct RespReader<'s> {
    name: Arc<Path>,
    win: Window<'s>,
    max_record: usize,
    /// Bytes of the last returned item, consumed at the next call.
    pending: usize,
    commands: u64,
    db: u64,
    ts: Option<i64>,
    released: u64,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Finished,
    Failed,
}

impl<'s> RespReader<'s> {
    /// Read commands from the window's current position (the start of a file,
    /// or just after an RDB preamble), with `ts` the annotation in force.
    pub fn from_window(name: Arc<Path>, win: Window<'s>, max_record: usize, ts: Option<i64>) -> Self {
        RespReader { name, win, max_record, pending: 0, commands: 0, db: 0, ts, released: 0, state: State::Running }
    }

    pub fn new(input: &'s mut Input, limits: PipeLimits) -> Self {
        let name = input.name.clone();
        let win = input.window(limits);
        RespReader::from_window(name, win, limits.max_record, None)
    }

    pub fn name(&self) -> &Arc<Path> {
        &self.name
    }

    /// Offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.win.offset() + self.pending as u64
    }

    /// Commands returned so far.
    pub fn commands(&self) -> u64 {
        self.commands
    }

    /// The timestamp annotation in force.
    pub fn timestamp(&self) -> Option<i64> {
        self.ts
    }

    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    pub fn is_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// Is there nothing more to read? (Refills a pipe window to find out.)
    pub fn at_end(&mut self) -> Result<bool> {
        if self.state != State::Running {
            return Ok(true);
        }
        self.win.consume(self.pending);
        self.pending = 0;
        if self.win.avail().is_empty() && !self.win.fill(1).map_err(|e| e.in_file(&self.name))? {
            self.state = State::Finished;
            return Ok(true);
        }
        Ok(false)
    }

    fn fail(&mut self, e: Error) -> Error {
        self.state = State::Failed;
        e.in_file(&self.name)
    }

    /// Over a pipe, refill until the next item parses or cannot (too large,
    /// or the input ended). Over a map this returns at once.
    fn ensure_complete(&mut self) -> Result<()> {
        while !self.win.at_eof() {
            let avail = self.win.avail();
            let needed = match parse_aof_item(avail) {
                Err(nom::Err::Incomplete(n)) => match n {
                    nom::Needed::Size(s) => s.get(),
                    nom::Needed::Unknown => 1,
                },
                _ => return Ok(()),
            };
            let have = avail.len();
            let required = have.saturating_add(needed);
            if required > self.max_record {
                return match self.win.skip_ahead(required)? {
                    true => Err(Error::new(ErrorKind::RecordTooLarge)
                        .detail(format!("a command needs {required} bytes; --max-record is {}", self.max_record))),
                    false => Ok(()),
                };
            }
            let want = required.max(have.saturating_mul(2)).max(4096).min(self.max_record);
            self.win.fill(want)?;
        }
        Ok(())
    }

    /// The next command or annotation as an [`Event`]; `None` at the end of the file.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Event<'_>>> {
        Ok(self.read()?.map(|r| match r {
            Record::Command(c) => Event::Command(c),
            Record::Annotation(a) => Event::Annotation(a),
        }))
    }

    /// The next command or annotation; `None` at the end of the file. Same as
    /// [`RespReader::next`] in a smaller type, for loops that run per command.
    pub fn read(&mut self) -> Result<Option<Record<'_>>> {
        if self.state != State::Running {
            return Ok(None);
        }
        self.win.consume(self.pending);
        self.pending = 0;
        let start = self.win.offset();
        if start >= self.released + RELEASE_STEP {
            self.win.release(0, start);
            self.released = start;
        }
        if let Err(e) = self.ensure_complete() {
            return Err(self.fail(e.at(start)));
        }
        let avail = self.win.avail();
        if avail.is_empty() {
            self.state = State::Finished;
            return Ok(None);
        }
        let item = match parse_aof_item(avail) {
            Ok((rest, item)) => Ok((avail.len() - rest.len(), item)),
            // At the end of the input an annotation may lack its newline.
            Err(nom::Err::Incomplete(_)) if avail[0] == b'#' => Ok((avail.len(), AofItem::Annotation(avail))),
            Err(e) => Err(e),
        };
        let (len, item) = match item {
            Ok(v) => v,
            Err(e) => {
                let (index, skipped) = (self.commands, self.win.skipped());
                let err = match e {
                    nom::Err::Incomplete(_) => Error::new(ErrorKind::Truncated)
                        .at(start + avail.len() as u64 + skipped)
                        .detail(format!("command #{index} at offset {start} is cut short")),
                    nom::Err::Error(t) | nom::Err::Failure(t) => Error::new(t.kind)
                        .at(start + (avail.len() - t.remaining.min(avail.len())) as u64)
                        .detail(format!("in command #{index} at offset {start}")),
                };
                // Fields, not `self.fail`: `avail` still borrows the window.
                self.state = State::Failed;
                return Err(err.in_file(&self.name));
            }
        };
        self.pending = len;
        Ok(Some(match item {
            AofItem::Annotation(line) => {
                let line = &line[..len];
                let timestamp = parse_timestamp(line);
                if timestamp.is_some() {
                    self.ts = timestamp;
                }
                Record::Annotation(AnnotationEvent { offset: start, line, timestamp })
            }
            AofItem::Command(frame) => {
                if let Some(db) = selected_db(&frame) {
                    self.db = db;
                }
                let index = self.commands;
                self.commands += 1;
                Record::Command(CommandEvent { offset: start, index, db: self.db, ts: self.ts, frame })
            }
        }))
    }

    /// Give the window back.
    pub fn into_window(mut self) -> Window<'s> {
        self.win.consume(self.pending);
        self.win
    }
}

/// Does a file start with an RDB (a preamble or an RDB base)? Redis checks
/// `REDIS`; Valkey 9 servers also write and load `VALKEY`.
pub fn starts_with_rdb(head: &[u8]) -> bool {
    head.starts_with(b"REDIS") || head.starts_with(b"VALKEY")
}

/// One file of an AOF, opened.
pub struct AofFile {
    pub role: AofRole,
    pub input: Input,
}

enum Current<'s> {
    Between,
    Rdb(Box<RdbReader<'s>>),
    Resp(RespReader<'s>),
}

/// Every file of an AOF in load order, as one event stream: for each file an
/// `Event::AofFile`, then its RDB events if it starts with an RDB, then its
/// commands and annotations.
pub struct AofReader<'s> {
    files: std::slice::IterMut<'s, AofFile>,
    opts: ReaderOptions,
    current: Current<'s>,
    ts: Option<i64>,
    failed: bool,
}

impl<'s> AofReader<'s> {
    pub fn new(files: &'s mut [AofFile], opts: ReaderOptions) -> Self {
        AofReader { files: files.iter_mut(), opts, current: Current::Between, ts: None, failed: false }
    }

    /// The offset reached in the current file.
    pub fn offset(&self) -> u64 {
        match &self.current {
            Current::Rdb(r) => r.offset(),
            Current::Resp(r) => r.offset(),
            Current::Between => 0,
        }
    }

    /// Move between files and from an RDB preamble to its command tail.
    /// `Some(event)` for the start of a new file; `None` when the current reader
    /// has more to give (or everything ended).
    fn advance(&mut self) -> Result<Option<Event<'static>>> {
        loop {
            match &mut self.current {
                Current::Rdb(r) => {
                    if r.is_failed() {
                        self.failed = true;
                    }
                    if !r.is_finished() {
                        return Ok(None);
                    }
                    let Current::Rdb(r) = std::mem::replace(&mut self.current, Current::Between) else {
                        unreachable!()
                    };
                    let name = r.name().clone();
                    let win = (*r).into_window();
                    self.current = Current::Resp(RespReader::from_window(name, win, self.opts.max_record, self.ts));
                }
                Current::Resp(r) => {
                    if r.is_failed() {
                        self.failed = true;
                        return Ok(None);
                    }
                    if !r.at_end()? {
                        return Ok(None);
                    }
                    self.ts = r.timestamp();
                    self.current = Current::Between;
                }
                Current::Between => {
                    let Some(file) = self.files.next() else {
                        return Ok(None);
                    };
                    let name = file.input.name.clone();
                    let role = file.role;
                    let mut win = file.input.window(self.opts.pipe_limits());
                    win.fill(6).map_err(|e| e.in_file(&name))?;
                    self.current = if starts_with_rdb(win.avail()) {
                        Current::Rdb(Box::new(RdbReader::from_window(name.clone(), win, self.opts)))
                    } else {
                        Current::Resp(RespReader::from_window(name.clone(), win, self.opts.max_record, self.ts))
                    };
                    return Ok(Some(Event::AofFile { name, role }));
                }
            }
        }
    }

    /// The next event of the AOF, or `None` at its end (or after an error).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Event<'_>>> {
        if self.failed {
            return Ok(None);
        }
        if let Some(ev) = self.advance()? {
            return Ok(Some(ev));
        }
        if self.failed {
            return Ok(None);
        }
        match &mut self.current {
            Current::Rdb(r) => {
                // A base or preamble can be most of the AOF: as the RESP part
                // does, drop the pages read so far.
                r.next_releasing()
            }
            Current::Resp(r) => r.next(),
            Current::Between => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp(b"#TS:1700000000\r\n"), Some(1_700_000_000));
        assert_eq!(parse_timestamp(b"#TS:17"), Some(17));
        assert_eq!(parse_timestamp(b"#TS:\r\n"), None);
        assert_eq!(parse_timestamp(b"#TS:12x\r\n"), None);
        assert_eq!(parse_timestamp(b"#XX:12\r\n"), None);
    }
}
