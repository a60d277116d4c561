//! The AOF command stream (docs/format/aof.md, "Command stream"; aof.c
//! `loadSingleAppendOnlyFile`, redis-check-aof.c `processRESP`): at a record
//! boundary either an annotation line (`#…`, e.g. `#TS:<unix-seconds>`) or a
//! command, a RESP array of bulk strings `*<argc>\r\n` then argc ×
//! `$<len>\r\n<len bytes>\r\n`.
//!
//! The rules are `redis-check-aof`'s (src/redis-check-aof.c), because its verdict
//! and its `--fix` offset are what operators compare against:
//! - `*`/`$` lines are read like `fgets` into a 128-byte buffer (at most 127
//!   bytes, through the first `\n`) and the number like `strtol` (leading white
//!   space, a sign, decimal digits, clamped on overflow), which must be followed
//!   by exactly `\r\n`;
//! - a bulk length must be in `0..=LONG_MAX-2` and its payload followed by `\r\n`;
//! - an annotation is read like `fgets` into 1024 bytes: its remainder, if longer,
//!   is parsed as the next item.
//!
//! One stricter rule than the checker: a command with `argc < 1` is refused, as
//! the server's loader refuses it ("Bad file format").

use super::{fail, TResult, TokenError};
use crate::error::ErrorKind;
use memchr::memchr;

/// `fgets` buffer of `readLong` in redis-check-aof: 127 bytes plus the NUL.
const NUMBER_LINE_MAX: usize = 127;
/// `AOF_ANNOTATION_LINE_MAX_LEN` (1024) minus the NUL.
const ANNOTATION_LINE_MAX: usize = 1023;

/// One top-level item of an AOF command stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AofItem<'a> {
    /// A line starting with `#`, as read (including its `\r\n` if any).
    Annotation(&'a [u8]),
    Command(CommandFrame<'a>),
}

/// A complete, validated command record; arguments are walked on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandFrame<'a> {
    pub argc: u64,
    /// The whole record, `*` to the last `\r\n`.
    pub raw: &'a [u8],
    /// The first argument (the command name).
    pub name: &'a [u8],
}

impl<'a> CommandFrame<'a> {
    /// The arguments in order (the record is known to be well formed).
    pub fn args(&self) -> Args<'a> {
        let (rest, _) = parse_number_line(self.raw, b'*').expect("validated record");
        Args { rest, left: self.argc }
    }
}

/// Iterator over the arguments of a [`CommandFrame`].
#[derive(Debug, Clone)]
pub struct Args<'a> {
    rest: &'a [u8],
    left: u64,
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (rest, arg) = parse_bulk(self.rest).ok()?;
        self.rest = rest;
        Some(arg)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.left).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

/// Parse the item at the start of `i`. `Incomplete` means more bytes are needed
/// (at the end of the input: the item is cut short, except that an annotation
/// may end without its newline).
pub fn parse_aof_item(i: &[u8]) -> TResult<'_, AofItem<'_>> {
    match i.first() {
        None => Err(nom::Err::Incomplete(nom::Needed::new(1))),
        Some(b'#') => {
            let (line, rest) = split_line(i, ANNOTATION_LINE_MAX)?;
            Ok((rest, AofItem::Annotation(line)))
        }
        Some(b'*') => {
            let (rest, frame) = parse_command(i)?;
            Ok((rest, AofItem::Command(frame)))
        }
        Some(_) => fail(i, ErrorKind::BadEncoding("expected '*' (a command) or '#' (an annotation)")),
    }
}

/// Parse one command record.
pub fn parse_command(i: &[u8]) -> TResult<'_, CommandFrame<'_>> {
    let (mut rest, argc) = parse_number_line(i, b'*')?;
    if argc < 1 {
        return fail(i, ErrorKind::BadLength("command with no arguments (argc < 1)"));
    }
    let mut name: &[u8] = &[];
    for n in 0..argc {
        let (after, arg) = parse_bulk(rest)?;
        if n == 0 {
            name = arg;
        }
        rest = after;
    }
    let len = i.len() - rest.len();
    Ok((rest, CommandFrame { argc: argc as u64, raw: &i[..len], name }))
}

/// What can be read of a command record that does not parse whole (in a
/// damaged span of an AOF): its argument count, if its header reads, and
/// the arguments that read in order before the first that does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialCommand<'a> {
    pub argc: Option<i64>,
    pub args: Vec<&'a [u8]>,
    /// Every argument read: the record is whole.
    pub whole: bool,
    /// Where what was read starts: 0, or past a count's line that did not
    /// read.
    pub from: usize,
    /// Where what was read ends.
    pub len: usize,
}

/// Read as much of a command record at the start of `i` as parses, never
/// past `i` (the caller bounds it to the damaged span).
pub fn parse_partial_command(i: &[u8]) -> PartialCommand<'_> {
    let mut partial = PartialCommand { argc: None, args: Vec::new(), whole: false, from: 0, len: 0 };
    let Ok((mut rest, argc)) = parse_number_line(i, b'*') else {
        // A damaged count: the arguments may still read after its line.
        if let Some(line_end) = memchr(b'\n', &i[..i.len().min(NUMBER_LINE_MAX)]) {
            let (args, used) = parse_bulk_run(&i[line_end + 1..]);
            partial.args = args;
            partial.from = line_end + 1;
            partial.len = line_end + 1 + used;
        }
        return partial;
    };
    partial.argc = Some(argc);
    while (partial.args.len() as i64) < argc {
        match parse_bulk(rest) {
            Ok((after, arg)) => {
                partial.args.push(arg);
                rest = after;
            }
            Err(_) => break,
        }
    }
    partial.whole = argc >= 1 && partial.args.len() as i64 == argc;
    partial.len = i.len() - rest.len();
    partial
}

/// The bulk strings that read one after the other from the start of `i`,
/// and the bytes they take: the intact end of a command whose start was
/// damaged.
pub fn parse_bulk_run(i: &[u8]) -> (Vec<&[u8]>, usize) {
    let (mut rest, mut args) = (i, Vec::new());
    while let Ok((after, arg)) = parse_bulk(rest) {
        args.push(arg);
        rest = after;
    }
    (args, i.len() - rest.len())
}

/// `$<len>\r\n<payload>\r\n`.
fn parse_bulk(i: &[u8]) -> TResult<'_, &[u8]> {
    let (rest, len) = parse_number_line(i, b'$')?;
    if !(0..=i64::MAX - 2).contains(&len) {
        return fail(i, ErrorKind::BadLength("bulk string length out of range"));
    }
    let need = len as u64 + 2;
    if (rest.len() as u64) < need {
        return Err(nom::Err::Incomplete(nom::Needed::new((need - rest.len() as u64).min(usize::MAX as u64) as usize)));
    }
    let len = len as usize;
    if &rest[len..len + 2] != b"\r\n" {
        return fail(rest, ErrorKind::BadEncoding("expected \\r\\n after the bulk string payload"));
    }
    Ok((&rest[len + 2..], &rest[..len]))
}

/// A line as `fgets` with a buffer of `max` + 1 bytes reads it: through the
/// first `\n`, or `max` bytes. Returns (line, rest).
fn split_line(i: &[u8], max: usize) -> Result<(&[u8], &[u8]), nom::Err<TokenError>> {
    let window = &i[..i.len().min(max)];
    match memchr(b'\n', window) {
        Some(p) => Ok(i.split_at(p + 1)),
        None if window.len() == max => Ok(i.split_at(max)),
        None => Err(nom::Err::Incomplete(nom::Needed::new(1))),
    }
}

/// `<prefix><strtol number>\r\n`, as redis-check-aof's `readLong`.
#[inline]
fn parse_number_line(i: &[u8], prefix: u8) -> TResult<'_, i64> {
    // Fast path for what writers produce: prefix, 1 to 18 digits, CRLF. The
    // same bytes give the same value and length on the general path below.
    if i.first() == Some(&prefix) {
        let mut value: i64 = 0;
        let mut p = 1;
        while p < i.len() && p <= 18 && i[p].is_ascii_digit() {
            value = value * 10 + i64::from(i[p] - b'0');
            p += 1;
        }
        if p > 1 && i.get(p) == Some(&b'\r') && i.get(p + 1) == Some(&b'\n') {
            return Ok((&i[p + 2..], value));
        }
    }
    parse_number_line_general(i, prefix)
}

fn parse_number_line_general(i: &[u8], prefix: u8) -> TResult<'_, i64> {
    let (line, rest) = split_line(i, NUMBER_LINE_MAX)?;
    if line[0] != prefix {
        let what = if prefix == b'*' {
            "expected '*' (a command's argument count)"
        } else {
            "expected '$' (a bulk string length)"
        };
        return fail(i, ErrorKind::BadEncoding(what));
    }
    let (value, end) = strtol(&line[1..]);
    if &line[1 + end..] != b"\r\n" {
        return fail(i, ErrorKind::BadEncoding("expected a decimal number followed by \\r\\n"));
    }
    Ok((rest, value))
}

/// C `strtol(s, &end, 10)` on a line: leading white space, optional sign,
/// digits; no digits means value 0 and `end` 0; overflow clamps.
fn strtol(s: &[u8]) -> (i64, usize) {
    let mut p = 0;
    while p < s.len() && matches!(s[p], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        p += 1;
    }
    let negative = match s.get(p) {
        Some(b'-') => {
            p += 1;
            true
        }
        Some(b'+') => {
            p += 1;
            false
        }
        _ => false,
    };
    let digits_start = p;
    let mut value: i64 = 0;
    let mut overflow = false;
    while let Some(d) = s.get(p).filter(|c| c.is_ascii_digit()) {
        let d = i64::from(d - b'0');
        match value.checked_mul(10).and_then(|v| if negative { v.checked_sub(d) } else { v.checked_add(d) }) {
            Some(v) => value = v,
            None => overflow = true,
        }
        p += 1;
    }
    if p == digits_start {
        return (0, 0);
    }
    if overflow {
        value = if negative { i64::MIN } else { i64::MAX };
    }
    (value, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(i: &[u8]) -> TResult<'_, AofItem<'_>> {
        parse_aof_item(i)
    }

    #[test]
    fn parses_a_command_and_its_arguments() {
        let rec = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*1";
        let (rest, item) = cmd(rec).unwrap();
        assert_eq!(rest, b"*1");
        let AofItem::Command(f) = item else { panic!() };
        assert_eq!(f.argc, 3);
        assert_eq!(f.name, b"SET");
        assert_eq!(f.args().collect::<Vec<_>>(), vec![&b"SET"[..], b"k", b""]);
        assert_eq!(f.raw.len(), rec.len() - 2);
    }

    #[test]
    fn binary_payloads_may_hold_crlf() {
        let (_, item) = cmd(b"*1\r\n$4\r\n\r\n\r\n\r\n").unwrap();
        let AofItem::Command(f) = item else { panic!() };
        assert_eq!(f.name, b"\r\n\r\n");
    }

    #[test]
    fn annotations_are_lines() {
        let (rest, item) = cmd(b"#TS:1700000000\r\n*1").unwrap();
        assert_eq!(item, AofItem::Annotation(b"#TS:1700000000\r\n"));
        assert_eq!(rest, b"*1");
        // Longer than the checker's buffer: the remainder is the next item.
        let long = [b"#".as_slice(), &[b'x'; 2000], b"\r\n"].concat();
        let (rest, _) = cmd(&long).unwrap();
        assert_eq!(rest.len(), long.len() - 1023);
    }

    #[test]
    fn cut_records_are_incomplete() {
        let rec = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        for cut in 0..rec.len() {
            assert!(matches!(cmd(&rec[..cut]), Err(nom::Err::Incomplete(_))), "cut at {cut}");
        }
    }

    #[test]
    fn checker_number_rules() {
        // strtol: leading white space and a sign are accepted.
        assert!(cmd(b"* 1\r\n$+1\r\nx\r\n").is_ok());
        // "*\r\n" is argc 0 for strtol: the checker passes it, the server refuses it; so do we.
        assert!(matches!(cmd(b"*\r\n"), Err(nom::Err::Failure(_))));
        assert!(matches!(cmd(b"*0\r\n"), Err(nom::Err::Failure(_))));
        assert!(matches!(cmd(b"*-1\r\n"), Err(nom::Err::Failure(_))));
        // Something between the digits and CRLF.
        assert!(matches!(cmd(b"*1 \r\n$1\r\nx\r\n"), Err(nom::Err::Failure(_))));
        // LF alone.
        assert!(matches!(cmd(b"*1\n$1\r\nx\r\n"), Err(nom::Err::Failure(_))));
        // Payload not followed by CRLF: reported at the payload, as the checker does.
        let e = cmd(b"*1\r\n$1\r\nxy\r\n").unwrap_err();
        assert!(matches!(e, nom::Err::Failure(TokenError { remaining: 4, .. })), "{e:?}");
        // Negative and huge lengths.
        assert!(matches!(cmd(b"*1\r\n$-1\r\n"), Err(nom::Err::Failure(_))));
        assert!(matches!(cmd(b"*1\r\n$99999999999999999999\r\n"), Err(nom::Err::Failure(_))));
        // A number line longer than 127 bytes never ends well.
        let long = [b"*".as_slice(), &[b'0'; 200], b"1\r\n"].concat();
        assert!(matches!(cmd(&long), Err(nom::Err::Failure(_))));
        // Neither '*' nor '#'.
        assert!(matches!(cmd(b"\r\n"), Err(nom::Err::Failure(_))));
        assert!(matches!(cmd(b"*1\r\n!1\r\nx\r\n"), Err(nom::Err::Failure(TokenError { remaining: 7, .. }))));
    }

    #[test]
    fn fast_and_general_number_paths_agree() {
        let lines: [&[u8]; 10] = [
            b"*3\r\n",
            b"*0\r\n",
            b"*123456789012345678\r\n",
            b"*1234567890123456789\r\n",
            b"* 3\r\n",
            b"*3\n",
            b"*3",
            b"*\r\n",
            b"*-2\r\n",
            b"*99999999999999999999\r\n",
        ];
        for l in lines {
            let fast = parse_number_line(l, b'*').map(|(r, v)| (r.len(), v)).map_err(|e| format!("{e:?}"));
            let general = parse_number_line_general(l, b'*').map(|(r, v)| (r.len(), v)).map_err(|e| format!("{e:?}"));
            assert_eq!(fast, general, "{:?}", String::from_utf8_lossy(l));
        }
    }

    #[test]
    fn partial_commands_read_up_to_the_damage() {
        let p = parse_partial_command(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$9\r\nshort");
        assert_eq!((p.argc, p.args, p.whole), (Some(3), vec![&b"SET"[..], b"k"], false));
        let p = parse_partial_command(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        assert_eq!((p.argc, p.args.len(), p.whole), (Some(2), 2, true));
        // A damaged count: the arguments after it.
        let p = parse_partial_command(b"!2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n");
        assert_eq!((p.argc, p.args, p.whole), (None, vec![&b"GET"[..], b"k"], false));
        let p = parse_partial_command(b"!!!");
        assert_eq!((p.argc, p.args.len(), p.whole), (None, 0, false));
        // A huge count does not allocate: arguments are pushed as they read.
        let p = parse_partial_command(b"*999999999999\r\n$1\r\nx\r\n");
        assert_eq!((p.argc, p.args.len(), p.whole), (Some(999_999_999_999), 1, false));
    }

    #[test]
    fn strtol_like_c() {
        assert_eq!(strtol(b"12\r\n"), (12, 2));
        assert_eq!(strtol(b"\r\n"), (0, 0));
        assert_eq!(strtol(b"-\r\n"), (0, 0));
        assert_eq!(strtol(b"  -7x"), (-7, 4));
        assert_eq!(strtol(b"99999999999999999999"), (i64::MAX, 20));
        assert_eq!(strtol(b"-99999999999999999999"), (i64::MIN, 21));
    }
}
