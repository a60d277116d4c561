//! The multi-part AOF manifest (Redis 7.0+, docs/format/aof.md, "Manifest"),
//! parsed exactly as the server and `redis-check-aof` parse it
//! (`aofLoadManifestFromFile` in src/aof.c): 1024-byte lines, `#` comments,
//! `sdssplitargs` tokens with quotes, key/value pairs with `file`, `seq`, `type`
//! required and unknown keys ignored.

use std::fmt;

/// `MANIFEST_MAX_LINE` in src/aof.c.
const MAX_LINE: usize = 1024;

/// What a manifest entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PartRole {
    Base,
    Incr,
    History,
}

/// One `file … seq … type …` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    pub file: Vec<u8>,
    pub seq: i64,
    pub role: PartRole,
    /// 1-based line number in the manifest.
    pub line: usize,
}

/// A parsed manifest, in load order: the base (if any) and then the incr files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<ManifestEntry>,
    pub incrs: Vec<ManifestEntry>,
    pub history: Vec<ManifestEntry>,
}

impl Manifest {
    /// Base then incr files: what the server loads, in order.
    pub fn loaded(&self) -> impl Iterator<Item = &ManifestEntry> {
        self.base.iter().chain(self.incrs.iter())
    }
}

/// Why the server would refuse a manifest ("*** FATAL AOF MANIFEST FILE ERROR ***").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// 1-based line number (0 when the file has no lines).
    pub line: usize,
    /// The offending line, trimmed, when there is one.
    pub text: Option<Vec<u8>>,
    /// The server's own message.
    pub message: &'static str,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if self.line > 0 {
            write!(f, " at line {}", self.line)?;
        }
        if let Some(t) = &self.text {
            write!(f, ": '{}'", crate::escape::escape_bytes(t))?;
        }
        Ok(())
    }
}

/// Does this look like a manifest? The first line that is not a comment
/// starts with `file` (redis-check-aof's `fileIsManifest`, which however reads
/// the whole file and is fooled by any later line starting with `file`).
pub fn looks_like_manifest(head: &[u8]) -> bool {
    let mut rest = head;
    while !rest.is_empty() {
        let (line, after) = fgets(rest);
        if line[0] != b'#' {
            return line.starts_with(b"file");
        }
        rest = after;
    }
    false
}

/// Parse a whole manifest.
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, ManifestError> {
    let mut m = Manifest::default();
    let mut rest = bytes;
    let mut line_no = 0;
    let mut max_incr_seq = 0i64;
    if bytes.is_empty() {
        return Err(ManifestError { line: 0, text: None, message: "Found an empty AOF manifest" });
    }
    while !rest.is_empty() {
        let (chunk, after) = fgets(rest);
        rest = after;
        line_no += 1;
        if chunk[0] == b'#' {
            continue;
        }
        // C string functions stop at a NUL byte.
        let chunk = &chunk[..memchr::memchr(0, chunk).unwrap_or(chunk.len())];
        let err = |message, text: &[u8]| ManifestError { line: line_no, text: Some(text.to_vec()), message };
        if memchr::memchr(b'\n', chunk).is_none() {
            return Err(err("The AOF manifest file contains too long line", chunk));
        }
        let line = trim(chunk);
        if line.is_empty() {
            return Err(err("Invalid AOF manifest file format", line));
        }
        let args = split_args(line).ok_or_else(|| err("Invalid AOF manifest file format", line))?;
        if args.len() < 6 || args.len() % 2 != 0 {
            return Err(err("Invalid AOF manifest file format", line));
        }
        let (mut file, mut seq, mut role_byte) = (None, 0i64, 0u8);
        for pair in args.chunks(2) {
            let key = cstr(&pair[0]);
            let value = cstr(&pair[1]);
            if key.eq_ignore_ascii_case(b"file") {
                if value.contains(&b'/') || value.contains(&b'\\') {
                    return Err(err("File can't be a path, just a filename", line));
                }
                file = Some(value.to_vec());
            } else if key.eq_ignore_ascii_case(b"seq") {
                seq = atoll(value);
            } else if key.eq_ignore_ascii_case(b"type") {
                role_byte = value.first().copied().unwrap_or(0);
            }
        }
        let file = match file {
            Some(f) if !f.is_empty() && seq != 0 && role_byte != 0 => f,
            _ => return Err(err("Invalid AOF manifest file format", line)),
        };
        let role = match role_byte {
            b'b' => PartRole::Base,
            b'i' => PartRole::Incr,
            b'h' => PartRole::History,
            _ => return Err(err("Unknown AOF file type", line)),
        };
        let entry = ManifestEntry { file, seq, role, line: line_no };
        match role {
            PartRole::Base if m.base.is_some() => return Err(err("Found duplicate base file information", line)),
            PartRole::Base => m.base = Some(entry),
            PartRole::History => m.history.push(entry),
            PartRole::Incr => {
                if seq <= max_incr_seq {
                    return Err(err("Found a non-monotonic sequence number", line));
                }
                max_incr_seq = seq;
                m.incrs.push(entry);
            }
        }
    }
    Ok(m)
}

/// `fgets(buf, MAX_LINE + 1, fp)`: through the first `\n`, at most 1024 bytes.
fn fgets(i: &[u8]) -> (&[u8], &[u8]) {
    let window = &i[..i.len().min(MAX_LINE)];
    let end = memchr::memchr(b'\n', window).map_or(window.len(), |p| p + 1);
    i.split_at(end)
}

/// `sdstrim(s, " \t\r\n")`.
fn trim(mut s: &[u8]) -> &[u8] {
    let strip = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    while s.first().is_some_and(strip) {
        s = &s[1..];
    }
    while s.last().is_some_and(strip) {
        s = &s[..s.len() - 1];
    }
    s
}

/// `sdsnew(argv[i])` and `strcasecmp` see a token up to its first NUL.
fn cstr(b: &[u8]) -> &[u8] {
    &b[..memchr::memchr(0, b).unwrap_or(b.len())]
}

/// `atoll`: leading white space, sign, digits; anything else ends the number.
fn atoll(s: &[u8]) -> i64 {
    let mut p = 0;
    while p < s.len() && matches!(s[p], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        p += 1;
    }
    let negative = s.get(p) == Some(&b'-');
    if matches!(s.get(p), Some(b'-' | b'+')) {
        p += 1;
    }
    let mut v: i64 = 0;
    while let Some(d) = s.get(p).filter(|c| c.is_ascii_digit()) {
        v = v.wrapping_mul(10).wrapping_add(i64::from(d - b'0'));
        p += 1;
    }
    if negative {
        v.wrapping_neg()
    } else {
        v
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// `sdssplitargs` (src/sds.c): white-space separated tokens, double quotes with
/// `\n \r \t \b \a \\ \" \xHH` escapes, single quotes with `\'`; a closing quote
/// must be followed by white space or the end. `None` on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut p = 0;
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(out);
        }
        let (mut in_double, mut in_single) = (false, false);
        let mut current = Vec::new();
        loop {
            let c = at(p);
            if in_double {
                if c == b'\\' && at(p + 1) == b'x' && at(p + 2).is_ascii_hexdigit() && at(p + 3).is_ascii_hexdigit() {
                    let hex = |h: u8| (h as char).to_digit(16).unwrap_or(0) as u8;
                    current.push(hex(at(p + 2)) * 16 + hex(at(p + 3)));
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if p >= line.len() {
                    return None;
                } else {
                    current.push(c);
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if p >= line.len() {
                    return None;
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    0 if p >= line.len() => break,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => current.push(c),
                }
            }
            p += 1;
        }
        out.push(current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(m: &Manifest) -> Vec<String> {
        m.loaded().map(|e| String::from_utf8_lossy(&e.file).into_owned()).collect()
    }

    #[test]
    fn real_manifests() {
        let m = parse_manifest(
            b"file appendonly.aof.2.base.rdb seq 2 type b\n\
              file appendonly.aof.2.incr.aof seq 2 type i startoffset 439\n\
              file appendonly.aof.3.incr.aof seq 3 type i startoffset 482 endoffset 504\n",
        )
        .unwrap();
        assert_eq!(names(&m), ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", "appendonly.aof.3.incr.aof"]);
        assert_eq!(m.base.as_ref().unwrap().seq, 2);
    }

    #[test]
    fn history_comments_quotes_and_case() {
        let m = parse_manifest(
            b"# written by hand\n\
              FILE \"my file\\x21.aof\" SEQ 1 TYPE base\n\
              file old.aof seq 7 type h\n\
              file 'it\\'s.aof' seq 3 type incr extra key\n",
        )
        .unwrap();
        assert_eq!(names(&m), ["my file!.aof", "it's.aof"]);
        assert_eq!(m.history.len(), 1);
        assert_eq!(m.incrs[0].line, 4);
    }

    #[test]
    fn the_servers_errors() {
        let msg = |b: &[u8]| parse_manifest(b).unwrap_err().message;
        assert_eq!(msg(b""), "Found an empty AOF manifest");
        assert_eq!(msg(b"file a seq 1 type b"), "The AOF manifest file contains too long line");
        assert_eq!(msg(b"\n"), "Invalid AOF manifest file format");
        assert_eq!(msg(b"file a seq 1\n"), "Invalid AOF manifest file format");
        assert_eq!(msg(b"file a seq 1 type\n"), "Invalid AOF manifest file format");
        assert_eq!(msg(b"file a seq 0 type b\n"), "Invalid AOF manifest file format");
        assert_eq!(msg(b"file a seq abc type b\n"), "Invalid AOF manifest file format");
        assert_eq!(msg(b"file \"a seq 1 type b\n"), "Invalid AOF manifest file format");
        assert_eq!(msg(b"file \"a\"b seq 1 type b\n"), "Invalid AOF manifest file format");
        assert_eq!(msg(b"file d/a seq 1 type b\n"), "File can't be a path, just a filename");
        assert_eq!(msg(b"file a seq 1 type x\n"), "Unknown AOF file type");
        assert_eq!(msg(b"file a seq 1 type b\nfile b seq 2 type b\n"), "Found duplicate base file information");
        assert_eq!(msg(b"file a seq 2 type i\nfile b seq 2 type i\n"), "Found a non-monotonic sequence number");
        let long = [b"file ".as_slice(), &[b'a'; 1100], b" seq 1 type b\n"].concat();
        assert_eq!(msg(&long), "The AOF manifest file contains too long line");
        // A negative seq is accepted for a base; an incr must exceed 0 (and its predecessors).
        assert!(parse_manifest(b"file a seq -3 type b\n").is_ok());
        assert_eq!(msg(b"file a seq -3 type i\n"), "Found a non-monotonic sequence number");
        // A comment-only manifest has no files.
        assert_eq!(parse_manifest(b"# nothing\n").unwrap(), Manifest::default());
        // A last comment line without a newline is fine.
        assert!(parse_manifest(b"file a seq 1 type b\n# end").is_ok());
    }

    #[test]
    fn sniffing() {
        assert!(looks_like_manifest(b"# c\nfile a seq 1 type b\n"));
        assert!(!looks_like_manifest(b"*1\r\n$4\r\nPING\r\n"));
        assert!(!looks_like_manifest(b"#TS:1\r\n*1\r\n"));
        assert!(!looks_like_manifest(b"REDIS0011"));
    }
}
