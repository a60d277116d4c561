//! insta snapshots of command output for every bundled fixture: the `check`
//! report of every file in testdata/rdb (valid and damaged), and the `dump`
//! output of the small peer files. Each snapshot was reviewed by hand against
//! the fixture's documented content (testdata/README.md, shared/corpus/peers).

use rdb_tool::cmd::check::check_file;
use rdb_tool::cmd::check::report;
use rdb_tool::cmd::dump::{dump, DumpConfig, DumpFormat};
use rdb_tool::event::ReaderOptions;
use std::path::Path;

/// A fixed "now" (2027-01-15) so "already expired" counts do not drift.
const NOW_MS: i64 = 1_800_000_000_000;

fn relative(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

#[test]
fn check_report_of_every_fixture() {
    insta::glob!("../../testdata/rdb", "**/*.rdb", |path| {
        let mut r = check_file(path, ReaderOptions::default(), Some(NOW_MS));
        r.file = relative(path).into();
        let mut out = Vec::new();
        report::write_text(&mut out, &r).expect("write report");
        insta::assert_snapshot!(String::from_utf8(out).expect("utf-8"));
    });
}

#[test]
fn dump_of_small_peer_fixtures() {
    insta::glob!("../../testdata/rdb/peers", "*.rdb", |path| {
        let cfg = DumpConfig::new(path, DumpFormat::Jsonl);
        let mut out = Vec::new();
        let text = match dump(&cfg, &mut out) {
            Ok(_) => String::from_utf8(out).expect("utf-8"),
            Err(mut e) => {
                e.file = None;
                format!("{}ERROR: {e}\n", String::from_utf8_lossy(&out))
            }
        };
        insta::assert_snapshot!(text);
    });
}

/// The `check` report (text) of the bundled AOFs: a plain Redis 6.2 AOF, a
/// 6.2 preamble AOF cut inside a bulk string, and a Redis 7.0 multi-part set
/// with two incr files (testdata/README.md).
#[test]
fn check_report_of_every_aof_fixture() {
    use rdb_tool::cmd::check::aof::{check_aof, AofCheckOptions};
    use rdb_tool::source::Source;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/aof");
    for name in ["plain_v62.aof", "preamble_v62_truncated_mid_bulk.aof", "multipart_v70"] {
        let path = root.join(name);
        let opts = AofCheckOptions { now_ms: Some(NOW_MS), ..Default::default() };
        // Relative, as the snapshots show paths (cargo runs tests in the package root).
        let rel = relative(&path);
        let r = check_aof(&Source::open(Path::new(&rel)).unwrap(), &opts);
        let mut out = Vec::new();
        report::write_aof_text(&mut out, &r).expect("write report");
        insta::assert_snapshot!(format!("check_aof@{name}"), String::from_utf8(out).expect("utf-8"));
    }
}
