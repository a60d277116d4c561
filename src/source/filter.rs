//! Which keys a command looks at: databases, Redis glob patterns, a regex, types,
//! and expiry.

use crate::event::KeyEvent;
use crate::format::KeyType;

/// Redis glob matching (`stringmatchlen`): `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`.
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    glob_at(pattern, s, 0)
}

fn glob_at(p: &[u8], s: &[u8], depth: u32) -> bool {
    // Bound recursion the way Redis does against pathological patterns.
    if depth > 1000 {
        return false;
    }
    let (mut pi, mut si) = (0, 0);
    while pi < p.len() {
        match p[pi] {
            b'*' => {
                while pi + 1 < p.len() && p[pi + 1] == b'*' {
                    pi += 1;
                }
                if pi + 1 == p.len() {
                    return true;
                }
                for start in si..=s.len() {
                    if glob_at(&p[pi + 1..], &s[start..], depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if si >= s.len() {
                    return false;
                }
                si += 1;
            }
            b'[' => {
                if si >= s.len() {
                    return false;
                }
                pi += 1;
                let not = p.get(pi) == Some(&b'^');
                if not {
                    pi += 1;
                }
                let mut matched = false;
                loop {
                    match p.get(pi) {
                        None => {
                            pi -= 1;
                            break;
                        }
                        Some(b'\\') if pi + 1 < p.len() => {
                            pi += 1;
                            if p[pi] == s[si] {
                                matched = true;
                            }
                        }
                        Some(b']') => break,
                        Some(&a) if p.get(pi + 1) == Some(&b'-') && pi + 2 < p.len() => {
                            let (mut lo, mut hi) = (a, p[pi + 2]);
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            pi += 2;
                            if (lo..=hi).contains(&s[si]) {
                                matched = true;
                            }
                        }
                        Some(&c) => {
                            if c == s[si] {
                                matched = true;
                            }
                        }
                    }
                    pi += 1;
                }
                if matched == not {
                    return false;
                }
                si += 1;
            }
            b'\\' if pi + 1 < p.len() => {
                pi += 1;
                if si >= s.len() || p[pi] != s[si] {
                    return false;
                }
                si += 1;
            }
            c => {
                if si >= s.len() || c != s[si] {
                    return false;
                }
                si += 1;
            }
        }
        pi += 1;
    }
    si == s.len()
}

/// Selection of keys.
#[derive(Debug, Default, Clone)]
pub struct KeyFilter {
    pub dbs: Vec<u64>,
    pub globs: Vec<Vec<u8>>,
    pub regex: Option<regex::bytes::Regex>,
    pub types: Vec<KeyType>,
}

impl KeyFilter {
    pub fn matches(&self, key: &KeyEvent<'_>) -> bool {
        self.selects(key.db, &key.key, key.value.key_type())
    }

    /// The same test on a key from any source.
    pub fn selects(&self, db: u64, key: &[u8], kind: KeyType) -> bool {
        (self.dbs.is_empty() || self.dbs.contains(&db))
            && (self.types.is_empty() || self.types.contains(&kind))
            && (self.globs.is_empty() || self.globs.iter().any(|g| glob_match(g, key)))
            && self.regex.as_ref().is_none_or(|r| r.is_match(key))
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match as g;

    #[test]
    fn redis_glob_rules() {
        assert!(g(b"*", b""));
        assert!(g(b"user:*", b"user:1"));
        assert!(!g(b"user:*", b"usr:1"));
        assert!(g(b"h?llo", b"hello"));
        assert!(g(b"h[ae]llo", b"hallo"));
        assert!(!g(b"h[^e]llo", b"hello"));
        assert!(g(b"h[a-b]llo", b"hbllo"));
        assert!(g(b"h\\*llo", b"h*llo"));
        assert!(!g(b"h\\*llo", b"hello"));
        assert!(g(b"*:*:end", b"a:b:c:end"));
        assert!(!g(b"a*b", b"acd"));
    }
}
