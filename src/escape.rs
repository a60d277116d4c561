//! Printable forms of binary strings for messages: printable ASCII as is, the
//! rest as `\n`, `\xNN` (like redis-cli).

/// Escape bytes for display inside double quotes.
pub fn escape_bytes(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes() {
        assert_eq!(super::escape_bytes(b"bin\0key\xff\r\n\"q\""), "bin\\x00key\\xff\\r\\n\\\"q\\\"");
    }
}
