//! The one table of RDB versions: which server releases write each, which
//! Redis version's encodings it uses, and whether our writer produces it.
//! Both directions (a server release → the version it writes; a version →
//! the release named in the files we write) and the reader's and writer's
//! limits are read from it, so a new RDB version is one row.
//!
//! Sources: `RDB_VERSION` in each release's `src/rdb.h` (Redis, Valkey), as
//! summarised in this repository's docs/ and checked against the corpus
//! (every corpus directory names the release that wrote its files).

use super::Dialect;

/// Which project's version numbers a release range speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Project {
    Redis,
    Valkey,
}

/// Releases `major.minor_lo` to `major.minor_hi` (any patch) of a project.
#[derive(Debug, Clone, Copy)]
pub struct Releases {
    pub project: Project,
    pub major: u32,
    pub minors: (u32, u32),
}

/// Any minor release.
const ANY: u32 = u32::MAX;

const fn redis(major: u32, minor_lo: u32, minor_hi: u32) -> Releases {
    Releases { project: Project::Redis, major, minors: (minor_lo, minor_hi) }
}

const fn valkey(major: u32) -> Releases {
    Releases { project: Project::Valkey, major, minors: (0, ANY) }
}

/// One RDB version.
#[derive(Debug, Clone, Copy)]
pub struct RdbVersion {
    /// As in the header (`REDIS0012` is 12, `VALKEY080` is 80).
    pub version: u32,
    pub dialect: Dialect,
    /// The released servers known to write it. Valkey 9.1 can also write RDB
    /// 11 for old replicas, so only Valkey 7.x/8.x name RDB 11 for certain.
    pub written_by: &'static [Releases],
    /// The version aux field our writer puts in a file of this version: a
    /// release that writes it, so readers comparing the two agree.
    pub release_aux: (&'static str, &'static str),
    /// The Redis RDB version whose encodings it uses (Valkey's 80 is RDB 11
    /// plus its HASH_2).
    pub encoding_level: u32,
    /// Our writer produces it.
    pub writable: bool,
}

const fn row(version: u32, written_by: &'static [Releases], release: &'static str, writable: bool) -> RdbVersion {
    RdbVersion {
        version,
        dialect: Dialect::Redis,
        written_by,
        release_aux: ("redis-ver", release),
        encoding_level: version,
        writable,
    }
}

/// Every version this crate knows, oldest first.
pub const RDB_VERSIONS: &[RdbVersion] = &[
    row(1, &[], "2.8.0", false),
    row(2, &[], "2.8.0", false),
    row(3, &[], "2.8.0", false),
    row(4, &[], "2.8.0", false),
    // RDB 5 is the first with a checksum; the writer starts one later.
    row(5, &[], "2.8.0", false),
    row(6, &[], "2.8.0", true),
    row(7, &[redis(3, 2, 2)], "3.2.0", true),
    row(8, &[redis(4, 0, ANY)], "4.0.0", true),
    row(9, &[redis(5, 0, ANY), redis(6, 0, ANY)], "6.2.0", true),
    row(10, &[redis(7, 0, 0)], "7.0.0", true),
    row(11, &[redis(7, 2, 2), valkey(7), valkey(8)], "7.2.0", true),
    row(12, &[redis(7, 4, 4), redis(8, 0, 4)], "7.4.0", true),
    row(13, &[redis(8, 6, 6)], "8.6.0", true),
    row(14, &[redis(8, 8, 8)], "8.8.0", true),
    // RDB 15 (Redis 8.10) only adds hash templates, an optional sharing of
    // field names its loader does not require: written as a 14 file.
    row(15, &[redis(8, 10, 10)], "8.10.0", true),
    RdbVersion {
        version: 80,
        dialect: Dialect::Valkey,
        written_by: &[],
        release_aux: ("valkey-ver", "9.0.0"),
        encoding_level: 11,
        writable: true,
    },
];

/// The row of `version`, if it is one this crate knows.
pub fn rdb_version(version: u32) -> Option<&'static RdbVersion> {
    RDB_VERSIONS.iter().find(|r| r.version == version)
}

/// The newest version of a dialect that the table holds (`writable`: that
/// the writer produces).
pub const fn newest(dialect: Dialect, writable: bool) -> u32 {
    let mut i = 0;
    let mut max = 0;
    while i < RDB_VERSIONS.len() {
        let r = &RDB_VERSIONS[i];
        if r.dialect as u8 == dialect as u8 && (r.writable || !writable) && r.version > max {
            max = r.version;
        }
        i += 1;
    }
    max
}

/// The oldest version the writer produces.
pub const fn oldest_writable() -> u32 {
    let mut i = 0;
    while i < RDB_VERSIONS.len() {
        if RDB_VERSIONS[i].writable {
            return RDB_VERSIONS[i].version;
        }
        i += 1;
    }
    0
}

/// The RDB version a released server writes, from its `redis-ver` /
/// `valkey-ver` aux field. `None` for development builds (255.255.255,
/// 999.999.999) and versions we have no record of.
pub fn rdb_version_written_by(aux_key: &[u8], version: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(version).ok()?;
    let mut parts = text.split('.').map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next()??, parts.next()??);
    // x.9.y are release candidates of the next major (4.9.101 = 5.0 RC, 6.9.240
    // = 7.0 RC, 7.9.224 = 8.0-M01): too early to know their format for sure.
    if minor == 9 {
        return None;
    }
    let project = match aux_key {
        b"redis-ver" => Project::Redis,
        b"valkey-ver" => Project::Valkey,
        _ => return None,
    };
    RDB_VERSIONS
        .iter()
        .find(|r| {
            r.written_by
                .iter()
                .any(|w| w.project == project && w.major == major && (w.minors.0..=w.minors.1).contains(&minor))
        })
        .map(|r| r.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_map_to_the_versions_they_write() {
        let v = |k: &[u8], s: &[u8]| rdb_version_written_by(k, s);
        assert_eq!(v(b"redis-ver", b"3.2.12"), Some(7));
        assert_eq!(v(b"redis-ver", b"4.0.14"), Some(8));
        assert_eq!(v(b"redis-ver", b"5.0.7"), Some(9));
        assert_eq!(v(b"redis-ver", b"6.2.16"), Some(9));
        assert_eq!(v(b"redis-ver", b"7.0.15"), Some(10));
        assert_eq!(v(b"redis-ver", b"7.2.6"), Some(11));
        assert_eq!(v(b"redis-ver", b"7.4.1"), Some(12));
        assert_eq!(v(b"redis-ver", b"8.0.2"), Some(12));
        assert_eq!(v(b"redis-ver", b"8.4.0"), Some(12));
        assert_eq!(v(b"redis-ver", b"8.6.3"), Some(13));
        assert_eq!(v(b"redis-ver", b"8.8.0"), Some(14));
        assert_eq!(v(b"redis-ver", b"8.10.1"), Some(15));
        assert_eq!(v(b"valkey-ver", b"8.0.1"), Some(11));
        assert_eq!(v(b"valkey-ver", b"7.2.5"), Some(11));
        // Release candidates, development builds, unknown releases.
        assert_eq!(v(b"redis-ver", b"6.9.240"), None);
        assert_eq!(v(b"redis-ver", b"255.255.255"), None);
        assert_eq!(v(b"redis-ver", b"3.0.7"), None);
        assert_eq!(v(b"redis-ver", b"2.8.24"), None);
        assert_eq!(v(b"valkey-ver", b"9.0.0"), None);
        assert_eq!(v(b"other-ver", b"7.0.0"), None);
    }

    #[test]
    fn every_release_writes_one_version_and_our_files_name_a_release_that_writes_theirs() {
        for r in RDB_VERSIONS.iter().filter(|r| r.writable) {
            let (key, release) = r.release_aux;
            match rdb_version_written_by(key.as_bytes(), release.as_bytes()) {
                // The release we name writes this very version …
                Some(v) => assert_eq!(v, r.version, "{release}"),
                // … or is one the table cannot be sure of (Valkey 9, Redis 2.8).
                None => assert!(r.version == 80 || r.version <= 6, "{release}"),
            }
        }
        assert_eq!(newest(Dialect::Redis, false), 15);
        assert_eq!(newest(Dialect::Valkey, true), 80);
        assert_eq!(oldest_writable(), 6);
    }
}
