//! Printable forms of binary strings for messages: printable ASCII as is, the
//! rest as `\n`, `\xNN` (like redis-cli); and the dump's binary-safe string
//! rule, shared by its writer (`output::json`) and its reader (`event::json`).

/// Dump strings that are not UTF-8 (or start with this) are this + base64.
pub const BASE64_PREFIX: &str = "base64:";

/// Decode a dump string back into bytes.
pub fn decode_bytes(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    match s.strip_prefix(BASE64_PREFIX) {
        Some(b64) => base64::engine::general_purpose::STANDARD.decode(b64).ok(),
        None => Some(s.as_bytes().to_vec()),
    }
}

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
