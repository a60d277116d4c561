//! The keys of one of our JSON dumps, read back whole, one record at a time.

use super::duplicates::{is_suspect, DuplicateFinder};
use super::{Source, VisitOptions, Visitor};
use crate::error::{Error, ErrorKind, Integrity, Result};
use crate::event::json::read_dump;
use std::io::BufReader;

pub(super) fn visit(source: &mut Source, opts: &VisitOptions, v: &mut dyn Visitor) -> Result<()> {
    let name = super::name(&source.path);
    let open = || std::fs::File::open(&source.path).map_err(|e| Error::io(e).in_file(&name));
    let file = open()?;
    v.begin(None)?;
    let mut db = None;
    // A dump of a file holding a key twice holds it twice: written as is, the
    // output would be refused. Found as the keys go by; confirmed by name.
    let mut duplicates = DuplicateFinder::new();
    let read = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let counted = Counted { inner: file, read: std::rc::Rc::clone(&read) };
    read_dump(BufReader::with_capacity(1 << 20, counted), |k| {
        // What the parser has taken in: at most a buffer ahead of the key.
        v.progress(read.get());
        if !opts.selects(k.db, &k.key, k.value.key_type(), k.attrs.expire_at_ms) {
            return Ok(());
        }
        duplicates.key(k.db, &k.key);
        if db != Some(k.db) {
            v.select_db(k.db)?;
            db = Some(k.db);
        }
        v.key(k.db, &k.key, &k.full_attrs(), &k.value)
    })
    .map_err(|e| e.in_file(&name))?;
    let suspects = duplicates.suspects()?;
    if !suspects.is_empty() {
        let mut seen = std::collections::HashSet::new();
        read_dump(BufReader::new(open()?), |k| {
            if opts.selects(k.db, &k.key, k.value.key_type(), k.attrs.expire_at_ms)
                && is_suspect(&suspects, k.db, &k.key)
                && !seen.insert((k.db, k.key.to_vec()))
            {
                return Err(Error::new(ErrorKind::Integrity(Integrity::DuplicateKey)).key(&k.key).detail(format!(
                    "the same key twice in db {}: the server would refuse the output, so none is written",
                    k.db
                )));
            }
            Ok(())
        })
        .map_err(|e| e.in_file(&name))?;
    }
    v.end()
}

/// A reader that counts the bytes it hands out, for progress.
struct Counted<R> {
    inner: R,
    read: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}
