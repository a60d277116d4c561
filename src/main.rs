//! The `rdb-tool` binary: parse arguments, run a command, map the outcome to an
//! exit code. No file format logic here.

mod cli;

use clap::Parser;
use cli::{Cli, Command, DumpFormatArg, ReportFormat};
use rdb_tool::cmd::check::{self, CheckConfig, Verdict};
use rdb_tool::cmd::dump::{self, DumpConfig, DumpFormat};
use rdb_tool::cmd::filter::KeyFilter;
use rdb_tool::error::{Error, ErrorKind};
use rdb_tool::format::KeyType;
use rdb_tool::output::report;
use std::io::Write;
use std::process::ExitCode;

/// Exit codes, documented in `--help` and README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Ok = 0,
    Damaged = 1,
    Failed = 2,
    Unsupported = 3,
}

impl From<Verdict> for Exit {
    fn from(v: Verdict) -> Exit {
        match v {
            Verdict::Valid => Exit::Ok,
            Verdict::Damaged => Exit::Damaged,
            Verdict::Unsupported => Exit::Unsupported,
            Verdict::Failed => Exit::Failed,
        }
    }
}

fn exit_for(e: &Error) -> Exit {
    match e.kind {
        ErrorKind::Io(std::io::ErrorKind::BrokenPipe) => Exit::Ok,
        ErrorKind::Io(_) | ErrorKind::Usage(_) => Exit::Failed,
        ErrorKind::UnsupportedVersion(_) | ErrorKind::Unsupported(_) | ErrorKind::RecordTooLarge => Exit::Unsupported,
        _ => Exit::Damaged,
    }
}

fn usage(msg: String) -> Error {
    Error::new(ErrorKind::Usage("invalid argument")).detail(msg)
}

fn run(cli: Cli) -> Result<Exit, Error> {
    match cli.command {
        Command::Check { files, format, now, read } => {
            let cfg = CheckConfig { files, reader: read.options(), now_ms: now };
            let reports = check::check(&cfg);
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            for r in &reports {
                let written = match format {
                    ReportFormat::Text => report::write_text(&mut out, r),
                    ReportFormat::Json => writeln!(out, "{}", report::to_json(r)),
                };
                written.map_err(Error::io)?;
                if format == ReportFormat::Text {
                    if let Some(e) = &r.error {
                        eprintln!("rdb-tool: {e}");
                    }
                }
            }
            let worst = reports.iter().map(|r| r.verdict()).max().unwrap_or(Verdict::Valid);
            Ok(worst.into())
        }
        Command::Dump { file, format, dbs, keys, key_regex, types, no_expired, now, output, read } => {
            let regex = key_regex
                .map(|r| regex::bytes::Regex::new(&r).map_err(|e| usage(format!("--key-regex: {e}"))))
                .transpose()?;
            let types = types
                .iter()
                .map(|t| KeyType::from_name(t).ok_or_else(|| usage(format!("--type: unknown type {t:?}"))))
                .collect::<Result<Vec<_>, _>>()?;
            let filter = KeyFilter { dbs, globs: keys.into_iter().map(String::into_bytes).collect(), regex, types };
            let cfg = DumpConfig {
                input: file,
                format: match format {
                    DumpFormatArg::Jsonl => DumpFormat::Jsonl,
                    DumpFormatArg::Json => DumpFormat::Json,
                },
                filter,
                no_expired,
                now_ms: now,
                reader: read.options(),
            };
            match output {
                Some(path) => {
                    let mut f = std::fs::File::create(&path).map_err(Error::io)?;
                    dump::dump(&cfg, &mut f)?;
                }
                None => {
                    let stdout = std::io::stdout();
                    dump::dump(&cfg, &mut stdout.lock())?;
                }
            }
            Ok(Exit::Ok)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let code = exit_for(&e);
            if code != Exit::Ok {
                eprintln!("rdb-tool: {e}");
            }
            code
        }
    };
    ExitCode::from(code as u8)
}
