//! Damaged AOFs made from what a real `redis-server` 7.0 writes, compared case by
//! case with `redis-check-aof` 7.0 (Debian's redis-tools).
//!
//! Two servers write a small but varied dataset (every type, EXPIRE, a
//! MULTI/EXEC block, a second database), rewrite their AOF once and keep
//! writing, so there is a base and incr files:
//! - `plain-ts`: `--aof-use-rdb-preamble no --aof-timestamp-enabled yes`; a
//!   second rewrite is killed on purpose, which leaves two incr files;
//! - `preamble`: `--aof-use-rdb-preamble yes` (an RDB base), one incr file.
//!
//! On copies of each set: the last incr file cut at every byte, named damages
//! (mid-bulk, mid-length line, mid-array header, garbage, a lone `*`, an open
//! MULTI, a damaged CRLF, a damaged base, a damaged earlier incr file) and, for
//! `plain-ts`, `--truncate-to-timestamp` at every annotation. For each case our
//! verdict must be `redis-check-aof`'s, our repair plan must cut exactly where
//! its `--fix` cut (or refuse where it refused), and `rdb-tool fix --yes` must
//! leave the same bytes. For one case of each kind, both repaired copies are
//! loaded by a real server and compared with `DEBUG DIGEST` and the key counts
//! (and with the live server's, when the damage was appended to an intact set);
//! what both refuse to repair, the server refuses to load.
//!
//! Also: the corpus's AOFs with timestamps cut by `redis-check-aof
//! --truncate-to-timestamp` at every annotation, and by our plan.
//!
//! One deliberate difference: a record with argc < 1 (`*\r\n`, `*0\r\n`,
//! `*-1\r\n`) passes redis-check-aof but the server refuses to load it; we call
//! it damage and cut it off (the `argc-below-one-*` cases assert exactly that).

use crate::common;

use common::{copy_tree, Scratch};

use common::redis::{Client, Reply, Server};
use rdb_tool::cmd::check::aof::{check_aof, plan_repair, AofCheckOptions, Repair};
use rdb_tool::cmd::check::Verdict;
use rdb_tool::cmd::fix;
use rdb_tool::source::Source;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MANIFEST: &str = "appendonly.aof.manifest";

// ---------------------------------------------------------------------------
// Making the AOFs with a real server
// ---------------------------------------------------------------------------

/// A field of `INFO <section>`.
fn info_field(c: &mut Client, section: &str, field: &str) -> String {
    let info = String::from_utf8(c.ok(&["INFO", section]).bytes()).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{info}"))
        .trim()
        .to_string()
}

fn wait_for_rewrite(c: &mut Client) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(c, "persistence", "aof_rewrite_in_progress") != "0"
        || info_field(c, "persistence", "aof_rewrite_scheduled") != "0"
    {
        assert!(Instant::now() < deadline, "the AOF rewrite did not finish in 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The payload of the `SET <tag>:long` of a batch: long enough to cut inside.
fn long_value(tag: &str) -> String {
    format!("{tag}-long-value-abcdefghijklmnopqrstuvwxyz")
}

/// A small batch of every kind of write, keys prefixed with `tag`.
fn write_batch(c: &mut Client, tag: &str) {
    let k = |s: &str| format!("{tag}:{s}");
    c.ok(&["SET", &k("str"), "hello"]);
    c.ok(&["SET", &k("long"), &long_value(tag)]);
    c.ok(&["RPUSH", &k("list"), "a", "b", "c"]);
    c.ok(&["SADD", &k("set"), "x", "y"]);
    c.ok(&["ZADD", &k("zset"), "1.5", "a", "-2", "b"]);
    c.ok(&["HSET", &k("hash"), "f1", "v1", "f2", "v2"]);
    c.ok(&["XADD", &k("stream"), "*", "f", "v"]);
    c.ok(&["EXPIRE", &k("list"), "100000000"]);
    assert_eq!(c.ok(&["MULTI"]), Reply::Status("OK".into()));
    assert_eq!(c.ok(&["SET", &k("tx"), "1"]), Reply::Status("QUEUED".into()));
    assert_eq!(c.ok(&["INCR", &k("counter")]), Reply::Status("QUEUED".into()));
    c.ok(&["EXEC"]);
    c.ok(&["SELECT", "2"]);
    c.ok(&["SET", &k("db2"), "in db 2"]);
    c.ok(&["SELECT", "0"]);
}

/// The live state of a server: `DEBUG DIGEST` and the key counts per database.
fn state_of(c: &mut Client) -> (String, Vec<String>) {
    let digest = String::from_utf8(c.ok(&["DEBUG", "DIGEST"]).bytes()).unwrap();
    let info = String::from_utf8(c.ok(&["INFO", "keyspace"]).bytes()).unwrap();
    // "db0:keys=12,expires=2,avg_ttl=…": avg_ttl moves with the clock.
    let keyspace =
        info.lines().filter(|l| l.starts_with("db")).map(|l| l.split(",avg_ttl").next().unwrap().to_string()).collect();
    (digest, keyspace)
}

/// Kill (SIGKILL) the AOF rewrite child of the server `pid`, found in /proc
/// (its title is `redis-aof-rewrite`); how many were killed.
fn kill_rewrite_child(pid: u32) -> usize {
    let mut killed = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // "<pid> (<comm>) <state> <ppid> …": comm may hold spaces, so split after ')'.
        let ppid = stat.rsplit(')').next().unwrap().split_whitespace().nth(1);
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if ppid == Some(pid.to_string().as_str()) && cmdline.starts_with(b"redis-aof-rewrite") {
            let status = Command::new("kill").args(["-KILL", &name]).status().expect("run kill");
            assert!(status.success(), "kill -KILL {name}");
            killed += 1;
        }
    }
    killed
}

/// An AOF set as the server left it, and the server's state then.
struct Pristine {
    variant: &'static str,
    manifest: Vec<u8>,
    /// Base then incr files, in manifest order, with their contents.
    files: Vec<(String, Vec<u8>)>,
    digest: String,
    keyspace: Vec<String>,
}

impl Pristine {
    fn last(&self) -> &str {
        &self.files.last().unwrap().0
    }

    fn bytes(&self, file: &str) -> &[u8] {
        &self.files.iter().find(|(n, _)| n == file).unwrap().1
    }

    /// Write the set under `root/appendonlydir/`, `file` replaced by `bytes`;
    /// returns the manifest's path.
    fn write(&self, root: &Path, replace: Option<(&str, &[u8])>) -> PathBuf {
        let dir = root.join("appendonlydir");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(MANIFEST), &self.manifest).unwrap();
        for (name, bytes) in &self.files {
            let bytes = match replace {
                Some((f, b)) if f == name => b,
                _ => bytes,
            };
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        dir.join(MANIFEST)
    }
}

/// Copy the AOF set of a running server (fsync always: complete on disk).
fn snapshot(variant: &'static str, server: &Server, c: &mut Client) -> Pristine {
    let dir = server.dir.join("appendonlydir");
    let manifest = std::fs::read(dir.join(MANIFEST)).expect("the server wrote no manifest");
    let text = String::from_utf8(manifest.clone()).unwrap();
    let mut files = Vec::new();
    // "file <name> seq <n> type <b|h|i>"; history files are not loaded.
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["file", name, "seq", _, "type", "b" | "i"] => {
                files.push((name.to_string(), std::fs::read(dir.join(name)).unwrap()));
            }
            ["file", _, "seq", _, "type", "h"] => {}
            _ => panic!("{variant}: unexpected manifest line {line:?}"),
        }
    }
    let (digest, keyspace) = state_of(c);
    Pristine { variant, manifest, files, digest, keyspace }
}

const LIVE_ARGS: [&str; 6] = ["--appendonly", "yes", "--appendfsync", "always", "--enable-debug-command", "yes"];

/// No RDB preamble, timestamp annotations, and two incr files: the second
/// rewrite is killed (as by a crash or the OOM killer), so the incr file it
/// opened stays in the manifest after the one before it.
fn make_plain_ts() -> Pristine {
    let mut args = LIVE_ARGS.to_vec();
    args.extend(["--aof-use-rdb-preamble", "no", "--aof-timestamp-enabled", "yes"]);
    let server = Server::start("live-aof-plain-ts", &args);
    let mut c = server.client().expect("connect");
    write_batch(&mut c, "base");
    c.ok(&["BGREWRITEAOF"]);
    wait_for_rewrite(&mut c);
    assert_eq!(info_field(&mut c, "persistence", "aof_last_bgrewrite_status"), "ok");
    // A new second: an annotation in the first incr file too.
    std::thread::sleep(Duration::from_millis(1100));
    write_batch(&mut c, "mid");
    // A rewrite that sleeps 1 s per key, killed while the last batch is written.
    c.ok(&["CONFIG", "SET", "rdb-key-save-delay", "1000000"]);
    c.ok(&["BGREWRITEAOF"]);
    assert_eq!(info_field(&mut c, "persistence", "aof_rewrite_in_progress"), "1");
    write_batch(&mut c, "last");
    // A new second: a `#TS:` annotation in the middle of the last file.
    std::thread::sleep(Duration::from_millis(1100));
    c.ok(&["SET", "late", "after a second"]);
    c.ok(&["MULTI"]);
    c.ok(&["RPUSH", "late:list", "z"]);
    c.ok(&["SADD", "late:set", "z"]);
    c.ok(&["EXEC"]);
    let pid: u32 = info_field(&mut c, "server", "process_id").parse().unwrap();
    assert_eq!(kill_rewrite_child(pid), 1, "plain-ts: the rewrite child to kill");
    wait_for_rewrite(&mut c);
    assert_eq!(info_field(&mut c, "persistence", "aof_last_bgrewrite_status"), "err");
    c.ok(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    let p = snapshot("plain-ts", &server, &mut c);
    let names: Vec<&str> = p.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 3, "plain-ts: expected a base and two incr files: {names:?}");
    assert!(names[0].ends_with(".base.aof"), "plain-ts: {names:?}");
    assert!(p.files[2].1.windows(5).any(|w| w == b"\n#TS:"), "plain-ts: no annotation inside the last file");
    p
}

/// An RDB base and one incr file.
fn make_preamble() -> Pristine {
    let mut args = LIVE_ARGS.to_vec();
    args.extend(["--aof-use-rdb-preamble", "yes"]);
    let server = Server::start("live-aof-preamble", &args);
    let mut c = server.client().expect("connect");
    write_batch(&mut c, "base");
    c.ok(&["BGREWRITEAOF"]);
    wait_for_rewrite(&mut c);
    assert_eq!(info_field(&mut c, "persistence", "aof_last_bgrewrite_status"), "ok");
    write_batch(&mut c, "last");
    let p = snapshot("preamble", &server, &mut c);
    let names: Vec<&str> = p.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 2, "preamble: expected a base and one incr file: {names:?}");
    assert!(names[0].ends_with(".base.rdb"), "preamble: {names:?}");
    p
}

// ---------------------------------------------------------------------------
// Running redis-check-aof, rdb-tool and servers on copies
// ---------------------------------------------------------------------------

/// Run redis-check-aof; its exit code and output.
fn checker(args: &[&str], manifest: &Path, stdin: &[u8]) -> (i32, String) {
    let mut child = common::redis::debian_command("redis-check-aof")
        .args(args)
        .arg(manifest)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run redis-check-aof");
    // It may exit without reading its input.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().expect("redis-check-aof was killed"), text)
}

/// Run `rdb-tool fix --yes [args] <manifest>`; its exit code and output.
fn rdb_tool_fix(args: &[&str], manifest: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rdb-tool"))
        .arg("fix")
        .arg("--yes")
        .args(args)
        .arg(manifest)
        .stdin(Stdio::null())
        .output()
        .expect("run rdb-tool");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let rc = out.status.code().unwrap_or_else(|| panic!("rdb-tool fix {}: {}\n{text}", manifest.display(), out.status));
    (rc, text)
}

/// Files by name, with their contents.
type Files = BTreeMap<String, Vec<u8>>;

/// The files of an `appendonlydir`, and apart our backups of cut bytes.
fn files_of(dir: &Path) -> (Files, Vec<(String, Vec<u8>)>) {
    let mut files = BTreeMap::new();
    let mut backups = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(e.path()).unwrap();
        if name.contains(".cut-at-") {
            backups.push((name, bytes));
        } else {
            files.insert(name, bytes);
        }
    }
    (files, backups)
}

/// File names and sizes, for messages.
fn sizes(files: &Files) -> Vec<(&str, usize)> {
    files.iter().map(|(k, v)| (k.as_str(), v.len())).collect()
}

fn pristine_files(p: &Pristine) -> Files {
    let mut m: Files = p.files.iter().cloned().collect();
    m.insert(MANIFEST.into(), p.manifest.clone());
    m
}

/// Load the AOF under `root` in a real server (refusing truncated files, so a
/// start proves the AOF is complete); its digest and key counts.
fn load(root: &Path, label: &str) -> (String, Vec<String>) {
    let root = root.canonicalize().unwrap();
    let dir = root.display().to_string();
    let args = [
        "--appendonly",
        "yes",
        "--dir",
        &dir,
        "--appenddirname",
        "appendonlydir",
        "--aof-load-truncated",
        "no",
        "--enable-debug-command",
        "yes",
    ];
    let server = Server::start(label, &args);
    let mut c = server.client().expect("connect");
    // The later --dir overrides the one Server::start gives first.
    let got = c.ok(&["CONFIG", "GET", "dir"]).array();
    assert_eq!(got[1].bytes(), dir.as_bytes(), "{label}: the server runs in another directory");
    state_of(&mut c)
}

/// Start a server on the AOF under `root`; it must refuse to load it. Its log.
fn refused_load(root: &Path, label: &str) -> String {
    let log = root.join("refused-load.log");
    let _ = std::fs::remove_file(&log);
    let mut child = common::redis::debian_command("redis-server")
        .args(["--port", "0", "--save", "", "--daemonize", "no", "--appendonly", "yes"])
        .arg("--unixsocket")
        .arg(root.join("refused-load.sock"))
        .args(["--appenddirname", "appendonlydir", "--aof-load-truncated", "no"])
        .arg("--dir")
        .arg(root)
        .arg("--logfile")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redis-server");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(!status.success(), "{label}: the server exited 0 without serving:\n{text}");
            return text;
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("Ready to accept connections") || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{label}: the server loaded an AOF both tools call unloadable:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// Whatever redis-check-aof says, we say.
    AsChecker,
    /// A record with argc < 1 (`*\r\n`, `*0\r\n`, `*-1\r\n`) appended:
    /// redis-check-aof passes it, the server refuses to load it (`argc < 1` is
    /// a format error in loadSingleAppendOnlyFile). We call it damage on
    /// purpose and cut it off; the cut restores the pristine file.
    StricterArgcBelowOne,
}

struct Case {
    name: String,
    /// The damaged file and its damaged content.
    file: String,
    bytes: Vec<u8>,
    expect: Expect,
    /// Also load both repaired copies in a server.
    load: bool,
    /// The damage is appended to an intact set: the repair must restore it.
    appended: bool,
}

impl Case {
    fn new(name: &str, file: &str, bytes: Vec<u8>) -> Case {
        Case { name: name.into(), file: file.into(), bytes, expect: Expect::AsChecker, load: false, appended: false }
    }
    fn load(mut self) -> Case {
        self.load = true;
        self
    }
    fn appended(mut self) -> Case {
        self.appended = true;
        self
    }
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{:?} not found", String::from_utf8_lossy(needle)))
}

/// A cut of `bytes` near its middle that is inside a record: just after a
/// lowercase letter (only keys and values hold those; `#TS:` does not), or
/// anywhere in an RDB.
fn cut_inside(bytes: &[u8]) -> usize {
    if bytes.starts_with(b"REDIS") {
        return bytes.len() / 2;
    }
    (bytes.len() / 2..bytes.len()).find(|&i| bytes[i - 1].is_ascii_lowercase()).expect("a lowercase byte")
}

/// 48 bytes of deterministic noise starting with `first`, without `\n` (so a
/// `#` start stays one annotation line).
fn noise(first: u8) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    let mut out = vec![first];
    while out.len() < 48 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let b = (x >> 24) as u8;
        out.push(if b == b'\n' { b'x' } else { b });
    }
    out
}

/// The named damages of a set (one of each kind; the loaded ones marked).
fn named_cases(p: &Pristine) -> Vec<Case> {
    let last = p.last().to_string();
    let orig = p.bytes(&last).to_vec();
    let value = long_value("last");
    let length_line = format!("${}\r\n", value.len());
    let value_at = find(&orig, format!("{length_line}{value}\r\n").as_bytes()) + length_line.len();
    // "*3\r\n$3\r\nSET\r\n$9\r\nlast:long\r\n$<n>\r\n<value>"
    let set_at = find(&orig, b"*3\r\n$3\r\nSET\r\n$9\r\nlast:long\r\n");
    let cut = |n: usize| orig[..n].to_vec();
    let append = |tail: &[u8]| [&orig[..], tail].concat();
    let replace_crlf = |at: usize| {
        let mut b = orig.clone();
        assert_eq!(&b[at..at + 2], b"\r\n");
        b[at] = b'\n';
        b
    };
    let mut cases = vec![
        Case::new("intact", &last, orig.clone()).load().appended(),
        Case::new("cut-mid-bulk", &last, cut(value_at + 10)).load(),
        Case::new("cut-mid-length-line", &last, cut(value_at - 3)).load(),
        Case::new("cut-mid-array-header", &last, cut(set_at + 2)).load(),
        Case::new("cut-before-array-crlf", &last, cut(set_at + 3)),
        Case::new("garbage-48", &last, append(&noise(b'G'))).load().appended(),
        Case::new("annotation-like-garbage-48", &last, append(&noise(b'#'))).load().appended(),
        Case::new("lone-star", &last, append(b"*")).load().appended(),
        Case::new("lone-star-digit", &last, append(b"*3")).appended(),
        Case::new(
            "unterminated-multi",
            &last,
            append(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"),
        )
        .load()
        .appended(),
        Case::new("nested-multi", &last, append(b"*1\r\n$5\r\nMULTI\r\n*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nEXEC\r\n"))
            .appended(),
        Case::new("exec-without-multi", &last, append(b"*1\r\n$4\r\nEXEC\r\n")).appended(),
        Case::new("crlf-after-bulk-damaged", &last, replace_crlf(value_at + value.len())).load(),
        Case::new("crlf-of-length-line-damaged", &last, replace_crlf(value_at - 2)),
    ];
    if let Some(ts_at) = orig.windows(5).position(|w| w == b"\n#TS:") {
        let eol = ts_at + 1 + find(&orig[ts_at + 1..], b"\r\n");
        cases.push(Case::new("crlf-of-annotation-damaged", &last, replace_crlf(eol)).load());
    }
    for tail in [&b"*\r\n"[..], b"*0\r\n", b"*-1\r\n"] {
        let name = format!("argc-below-one-{}", String::from_utf8_lossy(&tail[1..tail.len() - 2]));
        let mut case = Case::new(&name, &last, append(tail)).appended();
        case.expect = Expect::StricterArgcBelowOne;
        case.load = tail == b"*\r\n";
        cases.push(case);
    }
    // Files that are not the last one: a cut cannot repair them.
    let (base, base_bytes) = &p.files[0];
    cases.push(Case::new("base-cut-in-half", base, base_bytes[..cut_inside(base_bytes)].to_vec()).load());
    for (name, bytes) in &p.files[1..p.files.len() - 1] {
        cases.push(Case::new("earlier-incr-cut-mid-record", name, bytes[..cut_inside(bytes)].to_vec()).load());
    }
    cases
}

/// How a case ended (the same for both tools, or the test failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Valid: nothing to cut.
    Valid,
    /// Cut back to this many bytes.
    Cut(u64),
    /// Both refuse to repair it.
    Refused,
    /// redis-check-aof passes it; we cut (argc < 1).
    StricterCut(u64),
}

/// Compare us with redis-check-aof on one case; `work` is emptied first.
fn run_case(p: &Pristine, case: &Case, work: &Path) -> Outcome {
    let name = format!("{}/{}", p.variant, case.name);
    let _ = std::fs::remove_dir_all(work);
    let theirs = work.join("theirs");
    let ours = work.join("ours");
    let theirs_manifest = p.write(&theirs, Some((&case.file, &case.bytes)));
    let ours_manifest = p.write(&ours, Some((&case.file, &case.bytes)));
    let damaged_len = case.bytes.len() as u64;

    let (check_rc, check_out) = checker(&[], &theirs_manifest, b"");
    let report = check_aof(&Source::open(&ours_manifest).unwrap(), &AofCheckOptions::default());
    let verdict = report.verdict();
    let repair = plan_repair(&report);
    let (fix_rc, fix_out) = checker(&["--fix"], &theirs_manifest, b"y\n");
    let (theirs_files, _) = files_of(&theirs.join("appendonlydir"));
    let theirs_len = theirs_files[&case.file].len() as u64;
    let ctx = || {
        format!("redis-check-aof:\n{check_out}\nredis-check-aof --fix:\n{fix_out}\nours: {:?}", report.first_error())
    };
    assert!(matches!(check_rc, 0 | 1) && matches!(fix_rc, 0 | 1), "{name}: odd exit codes\n{}", ctx());

    // What the repair must do, from redis-check-aof (or our stricter rule).
    let expected_cut = match case.expect {
        Expect::AsChecker => {
            let want = if check_rc == 0 { Verdict::Valid } else { Verdict::Damaged };
            assert_eq!(verdict, want, "{name}: verdict (redis-check-aof exit {check_rc})\n{}", ctx());
            match repair {
                Repair::Impossible(_) => {
                    assert_eq!(fix_rc, 1, "{name}: we refuse, redis-check-aof --fix repaired\n{}", ctx())
                }
                Repair::NothingToDo => assert!(
                    fix_rc == 0 && theirs_len == damaged_len,
                    "{name}: we have nothing to do; redis-check-aof --fix exit {fix_rc}, {damaged_len} -> {theirs_len} \
                     bytes\n{}",
                    ctx()
                ),
                Repair::Truncate(ref plan) => {
                    assert_eq!(fix_rc, 0, "{name}: we cut, redis-check-aof --fix refused: {plan:?}\n{}", ctx());
                    assert_eq!(plan.file.file_name().unwrap().to_str(), Some(case.file.as_str()), "{name}: cut file");
                    assert_eq!(plan.old_size, damaged_len, "{name}: old size");
                    assert_eq!(plan.new_size, theirs_len, "{name}: cut offset\n{}", ctx());
                    assert!(theirs_len < damaged_len, "{name}: {}", ctx());
                }
            }
            (fix_rc == 0).then_some(theirs_len)
        }
        Expect::StricterArgcBelowOne => {
            // The premise: redis-check-aof passes the record and --fix leaves it.
            assert_eq!((check_rc, fix_rc, theirs_len), (0, 0, damaged_len), "{name}: premise\n{}", ctx());
            let cut = p.bytes(&case.file).len() as u64;
            assert_eq!(verdict, Verdict::Damaged, "{name}: argc < 1 must be damage\n{}", ctx());
            let Repair::Truncate(plan) = &repair else { panic!("{name}: expected a cut, got {repair:?}") };
            assert_eq!((plan.new_size, plan.old_size), (cut, damaged_len), "{name}: cut before the record");
            Some(cut)
        }
    };

    // Our binary on the other copy leaves the same bytes as redis-check-aof.
    let (rc, out) = rdb_tool_fix(&[], &ours_manifest);
    let (ours_files, backups) = files_of(&ours.join("appendonlydir"));
    assert_eq!(rc, if expected_cut.is_some() { 0 } else { 1 }, "{name}: rdb-tool fix exit code\n{out}");
    let mut want_files = theirs_files.clone();
    if let Some(cut) = expected_cut {
        want_files.insert(case.file.clone(), case.bytes[..cut as usize].to_vec());
    }
    assert!(
        ours_files == want_files,
        "{name}: rdb-tool fix left {:?}, expected {:?}\n{out}",
        sizes(&ours_files),
        sizes(&want_files)
    );
    match expected_cut.filter(|&c| c < damaged_len) {
        Some(cut) => {
            assert_eq!(backups.len(), 1, "{name}: one backup of the cut bytes");
            assert_eq!(backups[0].1, case.bytes[cut as usize..], "{name}: the backup holds the cut bytes");
        }
        None => assert!(backups.is_empty(), "{name}: nothing cut, but a backup {backups:?}"),
    }
    if case.appended && expected_cut.is_some_and(|c| c < damaged_len) {
        assert!(
            ours_files == pristine_files(p),
            "{name}: the cut must restore the intact set: {:?}",
            sizes(&ours_files)
        );
    }

    if case.load {
        load_check(p, case, &name, &theirs, &ours, expected_cut.is_some());
    }
    let _ = std::fs::remove_dir_all(work);
    match (case.expect, expected_cut) {
        (Expect::StricterArgcBelowOne, Some(cut)) => Outcome::StricterCut(cut),
        (_, None) => Outcome::Refused,
        (_, Some(cut)) if cut == damaged_len => Outcome::Valid,
        (_, Some(cut)) => Outcome::Cut(cut),
    }
}

/// Load both repaired copies in real servers: same digest and key counts (the
/// live server's, when the damage was appended to an intact set); or, when
/// both tools refuse, the server refuses too.
fn load_check(p: &Pristine, case: &Case, name: &str, theirs: &Path, ours: &Path, repaired: bool) {
    let label = format!("live-aof-load-{}-{}", p.variant, case.name);
    if !repaired {
        let log = refused_load(ours, &label);
        // It got as far as loading (not a configuration error), then gave up;
        // an RDB base fails with various messages, RESP files with this one.
        assert!(log.contains("Server initialized"), "{name}: the server did not try to load:\n{log}");
        if case.file.ends_with(".aof") {
            let want = format!("Unexpected end of file reading the append only file {}", case.file);
            assert!(log.contains(&want), "{name}: the server should refuse the damaged file:\n{log}");
        }
        return;
    }
    let ours_state = load(ours, &format!("{label}-ours"));
    if case.expect == Expect::StricterArgcBelowOne {
        // What redis-check-aof passed, the server refuses.
        let log = refused_load(theirs, &format!("{label}-theirs"));
        assert!(log.contains("Bad file format"), "{name}: the server should refuse argc < 1:\n{log}");
    } else {
        let theirs_state = load(theirs, &format!("{label}-theirs"));
        assert_eq!(ours_state, theirs_state, "{name}: loaded state, ours vs redis-check-aof's repair");
    }
    if case.appended {
        assert_eq!(ours_state, (p.digest.clone(), p.keyspace.clone()), "{name}: loaded state vs the live server");
    }
}

/// Cut the last incr file at every byte (new length 0..len), comparing each
/// cut; how many cuts ended how. Two threads: most of the time is spent waiting
/// for processes and fsync (rdb-tool syncs its backup before cutting).
fn every_byte_cut(p: &Pristine, work: &Path) -> (usize, BTreeMap<Outcome, usize>) {
    const THREADS: usize = 2;
    let last = p.last().to_string();
    let orig = p.bytes(&last);
    let tallies: Vec<BTreeMap<Outcome, usize>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (last, work) = (&last, work.join(format!("cuts-{t}")));
                scope.spawn(move || {
                    let mut tally = BTreeMap::new();
                    for n in (t..orig.len()).step_by(THREADS) {
                        let case = Case::new(&format!("cut-at-{n}"), last, orig[..n].to_vec());
                        *tally.entry(run_case(p, &case, &work)).or_insert(0) += 1;
                    }
                    tally
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    let mut tally = BTreeMap::new();
    for (outcome, n) in tallies.into_iter().flatten() {
        *tally.entry(outcome).or_insert(0) += n;
    }
    (orig.len(), tally)
}

/// `#TS:` annotation values, each at the start of a line, in every file.
fn annotations(p: &Pristine) -> Vec<i64> {
    let mut ts = Vec::new();
    for (_, bytes) in &p.files {
        for (i, _) in bytes.iter().enumerate() {
            if (i == 0 || bytes[i - 1] == b'\n') && bytes[i..].starts_with(b"#TS:") {
                let end = i + find(&bytes[i..], b"\r\n");
                ts.push(std::str::from_utf8(&bytes[i + 4..end]).unwrap().parse().unwrap());
            }
        }
    }
    ts
}

/// Point-in-time: `--truncate-to-timestamp T` for T just before and at every
/// annotation; our plan and `fix --truncate-to-timestamp` against redis-check-aof's.
fn timestamp_cases(p: &Pristine, work: &Path) -> BTreeMap<&'static str, usize> {
    let stamps = annotations(p);
    assert!(stamps.len() >= 3, "{}: an annotation in every file expected: {stamps:?}", p.variant);
    let mut limits: Vec<i64> = stamps.iter().flat_map(|&t| [t - 1, t]).collect();
    limits.sort();
    limits.dedup();
    let last = p.last();
    let full = p.bytes(last).len() as u64;
    let mut tally = BTreeMap::new();
    for &t in &limits {
        let name = format!("{}/truncate-to-timestamp-{t}", p.variant);
        let _ = std::fs::remove_dir_all(work);
        let theirs = work.join("theirs");
        let ours = work.join("ours");
        let theirs_manifest = p.write(&theirs, None);
        let ours_manifest = p.write(&ours, None);
        let ts = t.to_string();
        let (rc, out) = checker(&["--truncate-to-timestamp", &ts], &theirs_manifest, b"");
        let (theirs_files, _) = files_of(&theirs.join("appendonlydir"));
        let theirs_len = theirs_files[last].len() as u64;
        let opts = AofCheckOptions { to_timestamp: Some(t), ..Default::default() };
        let report = check_aof(&Source::open(&ours_manifest).unwrap(), &opts);
        assert_eq!(report.verdict(), Verdict::Valid, "{name}: {:?}", report.first_error());
        let repair = plan_repair(&report);
        let kind = match (&repair, rc) {
            // Nothing before the limit, or the annotation is in an earlier file.
            (Repair::Impossible(_), 1) => "refused",
            (Repair::NothingToDo, 0) => {
                assert_eq!(theirs_len, full, "{name}: redis-check-aof cut\n{out}");
                "nothing to cut"
            }
            (Repair::Truncate(plan), 0) => {
                assert_eq!(plan.file.file_name().unwrap().to_str(), Some(last), "{name}: cut file");
                assert_eq!((plan.old_size, plan.new_size), (full, theirs_len), "{name}: cut offset\n{out}");
                assert!(theirs_len < full, "{name}: redis-check-aof did not cut\n{out}");
                "cut"
            }
            _ => panic!("{name}: we plan {repair:?}, redis-check-aof exit {rc}\n{out}"),
        };
        *tally.entry(kind).or_insert(0) += 1;
        let (our_rc, our_out) = rdb_tool_fix(&["--truncate-to-timestamp", &ts], &ours_manifest);
        assert_eq!(our_rc, rc, "{name}: rdb-tool fix exit code\n{our_out}");
        let (ours_files, _) = files_of(&ours.join("appendonlydir"));
        assert!(
            ours_files == theirs_files,
            "{name}: rdb-tool fix left {:?}, redis-check-aof {:?}\n{our_out}",
            sizes(&ours_files),
            sizes(&theirs_files)
        );
        if kind == "cut" && tally[kind] == 1 {
            let label = format!("live-aof-load-{}-ts-{t}", p.variant);
            let ours_state = load(&ours, &format!("{label}-ours"));
            let theirs_state = load(&theirs, &format!("{label}-theirs"));
            assert_eq!(ours_state, theirs_state, "{name}: loaded state, ours vs redis-check-aof's cut");
            assert_ne!(ours_state.0, p.digest, "{name}: the cut should have dropped writes");
        }
    }
    let _ = std::fs::remove_dir_all(work);
    tally
}

fn run_variant(p: &Pristine) {
    let started = Instant::now();
    let scratch = Scratch::new(p.variant);
    let work = scratch.0.join("case");
    let named = named_cases(p);
    for case in &named {
        let outcome = run_case(p, case, &work);
        eprintln!("{}/{}: {outcome:?}", p.variant, case.name);
    }
    let (cuts, tally) = every_byte_cut(p, &work);
    // Not vacuous: the empty file and the record boundaries outside MULTI
    // are valid, the other cuts go back to one of them.
    let valid = tally.get(&Outcome::Valid).copied().unwrap_or(0);
    assert!(valid >= 8 && tally.len() >= 8, "{}: too few distinct outcomes: {tally:?}", p.variant);
    assert!(!tally.contains_key(&Outcome::Refused), "{}: a cut of the last file refused: {tally:?}", p.variant);
    let mut stamps = BTreeMap::new();
    if p.variant == "plain-ts" {
        stamps = timestamp_cases(p, &work);
        // The limits cover: before everything, inside an earlier file, inside
        // the last file, after everything.
        assert_eq!(stamps.keys().copied().collect::<Vec<_>>(), ["cut", "nothing to cut", "refused"], "{stamps:?}");
        assert!(stamps["refused"] >= 2, "{stamps:?}");
    }
    eprintln!(
        "{}: {} named cases, {cuts} byte cuts ({valid} valid, the rest cut back to {} distinct offsets), \
         timestamp limits {stamps:?}, in {:.1?}",
        p.variant,
        named.len(),
        tally.len() - 1,
        started.elapsed()
    );
}

#[test]
fn plain_aof_with_timestamps_and_two_incr_files_matches_redis_check_aof() {
    let p = make_plain_ts();
    run_variant(&p);
}

#[test]
fn rdb_preamble_aof_matches_redis_check_aof() {
    let p = make_preamble();
    run_variant(&p);
}

// ---------------------------------------------------------------------------
// The corpus's AOFs, cut by `redis-check-aof --truncate-to-timestamp` here
// ---------------------------------------------------------------------------

/// Point-in-time recovery against `redis-check-aof --truncate-to-timestamp`:
/// for every timestamp around the annotations of the real servers' AOFs with
/// `aof-timestamp-enabled`, the same verdict and the same resulting length.
#[test]
fn truncate_to_timestamp_matches_redis_check_aof() {
    let mut compared = 0;
    let (mut nothing, mut cut, mut refused) = (0, 0, 0);
    for vdir in common::version_dirs() {
        let dir = vdir.join("aof-plain-ts/appendonlydir");
        if !dir.is_dir() {
            continue;
        }
        let mut stamps: Vec<i64> = Vec::new();
        for f in std::fs::read_dir(&dir).unwrap() {
            let bytes = std::fs::read(f.unwrap().path()).unwrap();
            for w in bytes.windows(4).enumerate().filter(|(_, w)| w == b"#TS:") {
                let digits: String =
                    bytes[w.0 + 4..].iter().take_while(|c| c.is_ascii_digit()).map(|&c| c as char).collect();
                stamps.push(digits.parse().unwrap());
            }
        }
        stamps.sort();
        let mut limits: Vec<i64> = stamps.iter().flat_map(|&t| [t - 1, t]).collect();
        limits.push(stamps.last().unwrap() + 1);
        limits.dedup();
        for limit in limits {
            let name = format!("{}-ts-{limit}", vdir.file_name().unwrap().to_string_lossy());
            let theirs = Scratch::new(&format!("{name}-theirs"));
            let ours = Scratch::new(&format!("{name}-ours"));
            copy_tree(&dir, &theirs.0);
            copy_tree(&dir, &ours.0);
            let out = common::redis::debian_command("redis-check-aof")
                .args(["--truncate-to-timestamp", &limit.to_string(), "appendonly.aof.manifest"])
                .current_dir(&theirs.0)
                .output()
                .unwrap();
            let opts = AofCheckOptions { to_timestamp: Some(limit), ..Default::default() };
            let manifest = ours.0.join("appendonly.aof.manifest");
            let report = check_aof(&Source::open(&manifest).unwrap(), &opts);
            let repair = plan_repair(&report);
            let incr = "appendonly.aof.2.incr.aof";
            let their_len = std::fs::metadata(theirs.0.join(incr)).unwrap().len();
            let original_len = std::fs::metadata(dir.join(incr)).unwrap().len();
            match out.status.code() {
                Some(0) if their_len == original_len => {
                    nothing += 1;
                    assert_eq!(repair, Repair::NothingToDo, "{name}")
                }
                Some(0) => {
                    cut += 1;
                    let Repair::Truncate(plan) = &repair else { panic!("{name}: expected a cut, got {repair:?}") };
                    assert_eq!(plan.new_size, their_len, "{name}");
                    assert_eq!(plan.file, ours.0.join(incr), "{name}");
                    fix::apply(plan).unwrap();
                    assert_eq!(std::fs::read(ours.0.join(incr)).unwrap(), std::fs::read(theirs.0.join(incr)).unwrap());
                }
                _ => assert!(
                    {
                        refused += 1;
                        matches!(repair, Repair::Impossible(_))
                    },
                    "{name}: redis-check-aof refused ({}), we plan {repair:?}",
                    String::from_utf8_lossy(&out.stdout)
                ),
            }
            compared += 1;
        }
    }
    assert!(compared >= 12, "only {compared} timestamp cases");
    assert!(nothing > 0 && cut > 0 && refused > 0, "cases: {nothing} nothing to cut, {cut} cut, {refused} refused");
}
