//! Telling inputs apart by content, never by name: an RDB (or an AOF with an
//! RDB preamble, which starts the same way), a single-file AOF of commands, or
//! a multi-part AOF given by its manifest or its directory.

use super::manifest::{looks_like_manifest, parse_manifest, Manifest, PartRole};
use crate::error::{Error, ErrorKind, InputProblem, Result};
use std::path::{Path, PathBuf};

/// What an input is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Starts with `REDIS`/`VALKEY` (an RDB file, or a preamble AOF), or is
    /// unrecognisable (the RDB reader then says what is wrong).
    Rdb,
    /// RESP commands and annotations: a single-file AOF.
    Aof,
    /// A multi-part AOF: its manifest file.
    MultiPart { manifest: PathBuf },
}

/// How many bytes `classify` looks at.
pub const HEAD_LEN: usize = 4096;

/// Classify the first bytes of a file.
pub fn classify(head: &[u8]) -> Layout {
    match head.first() {
        Some(b'*') => Layout::Aof,
        Some(b'#') if !looks_like_manifest(head) => Layout::Aof,
        Some(_) if looks_like_manifest(head) => Layout::MultiPart { manifest: PathBuf::new() },
        _ => Layout::Rdb,
    }
}

/// Find what `path` is. A directory must hold one manifest (`*.manifest`), or
/// an `appendonlydir/` that does (a Redis data directory).
pub fn sniff(path: &Path) -> Result<Layout> {
    if path == Path::new("-") {
        return Ok(Layout::Rdb);
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::io(e).in_file(&path.into()))?;
    if meta.is_dir() {
        return find_manifest(path).map(|manifest| Layout::MultiPart { manifest });
    }
    if !meta.is_file() {
        return Ok(Layout::Rdb);
    }
    let mut head = Vec::with_capacity(HEAD_LEN);
    use std::io::Read;
    std::fs::File::open(path)
        .and_then(|f| f.take(HEAD_LEN as u64).read_to_end(&mut head))
        .map_err(|e| Error::io(e).in_file(&path.into()))?;
    Ok(match classify(&head) {
        Layout::MultiPart { .. } => Layout::MultiPart { manifest: path.to_path_buf() },
        other => other,
    })
}

fn find_manifest(dir: &Path) -> Result<PathBuf> {
    let name: std::sync::Arc<Path> = dir.into();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(e).in_file(&name))? {
        let entry = entry.map_err(|e| Error::io(e).in_file(&name))?;
        let file_name = entry.file_name();
        let s = file_name.to_string_lossy();
        // temp-*.manifest is a manifest being written; the server ignores it.
        if s.ends_with(".manifest") && !s.starts_with("temp-") && entry.path().is_file() {
            found.push(entry.path());
        }
    }
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 if dir.join("appendonlydir").is_dir() => find_manifest(&dir.join("appendonlydir")),
        0 => Err(Error::new(ErrorKind::Input(InputProblem::NoManifest)).in_file(&name)),
        _ => Err(Error::new(ErrorKind::Input(InputProblem::SeveralManifests))
            .in_file(&name)
            .detail(found.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))),
    }
}

/// A multi-part AOF's files, resolved against the manifest's directory.
#[derive(Debug, Clone)]
pub struct MultiPart {
    pub manifest_path: PathBuf,
    pub manifest: Manifest,
    /// Base then incr files, in load order.
    pub parts: Vec<(PartRole, PathBuf)>,
}

/// Read and parse a manifest; its errors are reported as the server does,
/// with the line.
pub fn load_multipart(manifest_path: &Path) -> Result<MultiPart> {
    let name: std::sync::Arc<Path> = manifest_path.into();
    let bytes = std::fs::read(manifest_path).map_err(|e| Error::io(e).in_file(&name))?;
    let manifest = parse_manifest(&bytes)
        .map_err(|e| Error::new(ErrorKind::BadEncoding("invalid AOF manifest")).in_file(&name).detail(e.to_string()))?;
    let dir = manifest_path.parent().unwrap_or(Path::new("."));
    let parts = manifest.loaded().map(|e| (e.role, dir.join(file_name(&e.file)))).collect();
    Ok(MultiPart { manifest_path: manifest_path.to_path_buf(), manifest, parts })
}

/// File names from a manifest are bytes; on Unix they map one to one.
#[cfg(unix)]
fn file_name(b: &[u8]) -> PathBuf {
    PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b))
}

#[cfg(not(unix))]
fn file_name(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_by_content() {
        assert_eq!(classify(b"REDIS0011\xfa"), Layout::Rdb);
        assert_eq!(classify(b"VALKEY080"), Layout::Rdb);
        assert_eq!(classify(b"*2\r\n$6\r\nSELECT\r\n"), Layout::Aof);
        assert_eq!(classify(b"#TS:1700000000\r\n*1\r\n"), Layout::Aof);
        assert!(matches!(classify(b"file appendonly.aof.1.base.rdb seq 1 type b\n"), Layout::MultiPart { .. }));
        assert!(matches!(classify(b"# hand-edited\nfile a seq 1 type b\n"), Layout::MultiPart { .. }));
        assert_eq!(classify(b""), Layout::Rdb);
        assert_eq!(classify(b"garbage"), Layout::Rdb);
    }
}
