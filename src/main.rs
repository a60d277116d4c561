//! The `rdb-tool` binary: parse arguments, run a command, map the outcome to an
//! exit code. No file format logic here.

mod cli;

use clap::Parser;
use cli::{Cli, Command, ConvertToArg, DiffFormatArg, DumpFormatArg, ReportFormat};
use rdb_tool::cmd::check::aof::{AofCheckOptions, Repair};
use rdb_tool::cmd::check::report;
use rdb_tool::cmd::check::{self, CheckConfig, FileReport, Verdict};
use rdb_tool::cmd::convert::{self, ConvertConfig, ConvertTo};
use rdb_tool::cmd::diff;
use rdb_tool::cmd::dump::{self, DumpConfig, DumpFormat};
use rdb_tool::cmd::fix;
use rdb_tool::error::{Error, ErrorKind};
use rdb_tool::event::ReaderOptions;
use rdb_tool::format::KeyType;
use rdb_tool::source::KeyFilter;
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

/// The exit code of a run that failed with `e`: its verdict, except that a
/// reader of our output that went away (`dump | head`) ends the run quietly
/// and successfully, as a tool killed by SIGPIPE does. That is a convention of
/// the command line, not a judgement of the input, so it lives here: the
/// library reports the broken pipe as the I/O error it is.
fn exit_for(e: &Error) -> Exit {
    match e.kind {
        ErrorKind::Io(std::io::ErrorKind::BrokenPipe) => Exit::Ok,
        kind => kind.verdict().into(),
    }
}

fn usage(msg: String) -> Error {
    Error::new(ErrorKind::Usage("invalid argument")).detail(msg)
}

fn run(cli: Cli) -> Result<Exit, Error> {
    match cli.command {
        Command::Check { files, format, quick, now, read } => {
            let reader = ReaderOptions { check_values: !quick, ..read.options() };
            let cfg = CheckConfig { files, reader, now_ms: now };
            let reports = check::check(&cfg);
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            for r in &reports {
                let written = match (format, r) {
                    (ReportFormat::Text, FileReport::Rdb(r)) => report::write_text(&mut out, r),
                    (ReportFormat::Text, FileReport::Aof(r)) => report::write_aof_text(&mut out, r),
                    (ReportFormat::Json, FileReport::Rdb(r)) => writeln!(out, "{}", report::to_json(r)),
                    (ReportFormat::Json, FileReport::Aof(r)) => writeln!(out, "{}", report::aof_to_json(r)),
                };
                written.map_err(Error::io)?;
                if format == ReportFormat::Text {
                    if let Some(e) = r.error() {
                        eprintln!("rdb-tool: {e}");
                    }
                }
            }
            let worst = reports.iter().map(|r| r.verdict()).max().unwrap_or(Verdict::Valid);
            Ok(worst.into())
        }
        Command::Memory(args) => run_memory(args),
        Command::Dump(args) if args.commands => {
            if args.format != DumpFormatArg::Jsonl
                || !args.keys.is_empty()
                || args.key_regex.is_some()
                || !args.types.is_empty()
                || args.no_expired
                || args.skip_unknown
                || args.now.is_some()
            {
                return Err(usage("--commands writes JSONL and filters only by --db".into()));
            }
            let mut sink: Box<dyn Write> = match &args.output {
                Some(path) => Box::new(std::fs::File::create(path).map_err(Error::io)?),
                None => Box::new(std::io::stdout().lock()),
            };
            dump::dump_commands(&args.file, &args.dbs, args.read.options(), &mut sink)?;
            Ok(Exit::Ok)
        }
        Command::Dump(args) => {
            let cli::DumpArgs {
                file,
                format,
                dbs,
                keys,
                key_regex,
                types,
                no_expired,
                now,
                skip_unknown,
                output,
                read,
                ..
            } = args;
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
                skip_unknown,
                reader: read.options(),
            };
            let stats = match output {
                Some(path) => {
                    let mut f = std::fs::File::create(&path).map_err(Error::io)?;
                    dump::dump(&cfg, &mut f)?
                }
                None => {
                    let stdout = std::io::stdout();
                    dump::dump(&cfg, &mut stdout.lock())?
                }
            };
            if stats.empty_keys > 0 {
                eprintln!("rdb-tool: note: {}", empty_keys_note(stats.empty_keys));
            }
            Ok(Exit::Ok)
        }
        Command::Fix(args) => run_fix(args),
        Command::Salvage(args) => run_salvage(args),
        Command::Diff {
            a,
            b,
            format,
            stat,
            limit,
            ignore_ttl,
            ttl_tolerance,
            dbs,
            keys,
            types,
            memory,
            tmp_dir,
            now,
            read,
        } => {
            let types = types
                .iter()
                .map(|t| KeyType::from_name(t).ok_or_else(|| usage(format!("--type: unknown type {t:?}"))))
                .collect::<Result<Vec<_>, _>>()?;
            let mut cfg = diff::DiffConfig::new(a, b);
            cfg.filter =
                KeyFilter { dbs, globs: keys.into_iter().map(String::into_bytes).collect(), regex: None, types };
            cfg.ignore_ttl = ignore_ttl;
            cfg.ttl_tolerance_ms = ttl_tolerance;
            cfg.reader = read.options();
            cfg.memory_budget = memory.saturating_mul(1 << 20);
            cfg.tmp_dir = tmp_dir;
            if let Some(now) = now {
                cfg.now_ms = now;
            }
            // Errors are exit 2 here, whatever their class (diff(1)).
            let report = match diff::diff(&cfg) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("rdb-tool: {e}");
                    return Ok(Exit::Failed);
                }
            };
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let written = if stat {
                diff::report::write_stat(&mut out, &report)
            } else if format == DiffFormatArg::Jsonl {
                let mut buf = Vec::new();
                for d in &report.diffs {
                    diff::report::write_record(&mut buf, d);
                    buf.push(b'\n');
                }
                out.write_all(&buf)
            } else {
                diff::report::write_text(&mut out, &report, limit)
            };
            written.map_err(Error::io)?;
            Ok(if report.diffs.is_empty() { Exit::Ok } else { Exit::Damaged })
        }
        Command::Convert {
            input,
            to,
            rdb_version,
            drop_unsupported,
            no_compression,
            rdb_preamble,
            batch,
            encoding_limits,
            restore,
            replace,
            skip_unknown,
            now,
            output,
            read,
        } => {
            let mut cfg = ConvertConfig::new(input, convert_to(to));
            cfg.rdb_preamble = rdb_preamble;
            cfg.skip_unknown = skip_unknown;
            cfg.now_ms = now;
            cfg.restore = restore.then_some(replace);
            if let Some(conf) = encoding_limits {
                let text = std::fs::read_to_string(&conf).map_err(|e| Error::io(e).in_file(&conf.as_path().into()))?;
                cfg.limits = rdb_tool::output::rdb::writer::EncodingLimits::from_redis_conf(&text)
                    .map_err(|e| usage(format!("--encoding-limits {}: {e}", conf.display())))?;
            }
            cfg.batch = batch;
            cfg.rdb_version = rdb_version;
            cfg.drop_unsupported = drop_unsupported;
            cfg.compress = !no_compression;
            cfg.reader = read.options();
            let report = match (output, to) {
                (Some(dir), ConvertToArg::AofDir) => convert::convert_to_dir(&cfg, &dir)?,
                (None, ConvertToArg::AofDir) => return Err(usage("--to aof-dir needs -o DIR".into())),
                (Some(path), _) => write_atomically(&path, |out| convert::convert(&cfg, out))?,
                (None, _) => convert::convert(&cfg, &mut std::io::stdout().lock())?,
            };
            for (db, key, why) in &report.dropped {
                eprintln!("rdb-tool: dropped db {db} key \"{}\": {why}", rdb_tool::escape::escape_bytes(key));
            }
            for note in &report.notes {
                eprintln!("rdb-tool: note: {note}");
            }
            if report.empty_keys > 0 {
                eprintln!("rdb-tool: note: {}", empty_keys_note(report.empty_keys));
            }
            Ok(Exit::Ok)
        }
    }
}

fn empty_keys_note(n: u64) -> String {
    format!("{n} empty keys (lists, sets, sorted sets or hashes with no element) left out, as the server skips them on load")
}

/// Write `path` through a temporary file in the same directory, renamed into
/// place only when `write` succeeded: a failed run never leaves half a file.
fn write_atomically<T>(
    path: &std::path::Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T, Error>,
) -> Result<T, Error> {
    write_atomically_then(path, write, |_, _| Ok(()))
}

/// [`write_atomically`], with the written file judged by `accept` before it
/// is renamed into place.
fn write_atomically_then<T>(
    path: &std::path::Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T, Error>,
    accept: impl FnOnce(&T, &std::path::Path) -> Result<(), Error>,
) -> Result<T, Error> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.rdb-tool-tmp.{}", std::process::id()));
    let result = (|| {
        let file = std::fs::File::create(&tmp).map_err(Error::io)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let value = write(&mut out)?;
        let file = out.into_inner().map_err(|e| Error::io(e.into_error()))?;
        // The judging reads what the page cache holds while the disk takes
        // it: for a large output the flush costs as much as the judging.
        let (synced, accepted) = std::thread::scope(|scope| {
            let sync = scope.spawn(|| file.sync_all());
            let accepted = accept(&value, &tmp);
            (sync.join().unwrap_or_else(|_| Err(std::io::Error::other("the flush to disk panicked"))), accepted)
        });
        accepted?;
        synced.map_err(Error::io)?;
        std::fs::rename(&tmp, path).map_err(Error::io)?;
        Ok(value)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Up to `max` bytes as hex + printable text, 16 per line.
fn hex_preview(bytes: &[u8]) -> String {
    let mut out = String::new();
    for line in bytes.chunks(16) {
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        let text: String =
            line.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect();
        out.push_str(&format!("    {:<48} {text}\n", hex.join(" ")));
    }
    out
}

/// `memory`: options to a configuration, rows and the summary to where they
/// were sent; with several inputs, each one that could not be read whole is
/// named on stderr and ranks the exit code.
fn run_memory(args: cli::MemoryArgs) -> Result<Exit, Error> {
    use rdb_tool::cmd::memory::{self, KeysFormat, MemoryConfig};
    use rdb_tool::memory::report::{write_json, write_text, SummaryOptions};
    use rdb_tool::memory::{Allocator, Target};
    let target = args
        .target
        .as_deref()
        .map(|t| Target::from_name(t).ok_or_else(|| usage(format!("--target: unknown server {t:?}"))))
        .transpose()?;
    let allocator = args
        .allocator
        .as_deref()
        .map(|a| Allocator::from_name(a).ok_or_else(|| usage(format!("--allocator: unknown allocator {a:?}"))))
        .transpose()?;
    let limits = match &args.encoding_limits {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(e).in_file(&path.as_path().into()))?;
            let base = target.unwrap_or(Target::Redis70).compiled_limits();
            Some(base.with_redis_conf(&text).map_err(|e| usage(format!("--encoding-limits: {e}")))?)
        }
        None => None,
    };
    let types = args
        .types
        .iter()
        .map(|t| KeyType::from_name(t).ok_or_else(|| usage(format!("--type: unknown type {t:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let filter = KeyFilter {
        dbs: args.dbs,
        globs: args.keys_glob.into_iter().map(String::into_bytes).collect(),
        regex: None,
        types,
    };
    let mut cfg = MemoryConfig::new(args.files);
    cfg.target = target;
    cfg.allocator = allocator;
    cfg.limits = limits;
    cfg.cluster = args.cluster;
    cfg.keys = args.keys.map(|k| match k {
        cli::KeysFormatArg::Csv => KeysFormat::Csv,
        cli::KeysFormatArg::Jsonl => KeysFormat::Jsonl,
    });
    cfg.filter = filter;
    cfg.include_expired = args.include_expired;
    cfg.now_ms = args.now;
    cfg.skip_unknown = args.skip_unknown;
    cfg.reader = args.read.options();
    cfg.summary = SummaryOptions {
        top: args.top,
        separators: args.separators.into_bytes(),
        prefix_depth: args.prefix_depth,
        prefix_cap: args.prefix_cap.max(16),
    };
    let stdout = std::io::stdout();
    let mut keys_sink: Option<Box<dyn Write>> = match (&cfg.keys, &args.keys_output) {
        (None, _) => None,
        (Some(_), Some(path)) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| Error::io(e).in_file(&path.as_path().into()))?,
        ))),
        (Some(_), None) => Some(Box::new(std::io::BufWriter::with_capacity(1 << 16, stdout.lock()))),
    };
    let report = memory::memory(&cfg, keys_sink.as_mut().map(|w| w.as_mut() as &mut dyn Write))?;
    drop(keys_sink);
    let mut text = Vec::new();
    match args.format {
        cli::SummaryFormatArg::Text => write_text(&report.summary, &mut text),
        cli::SummaryFormatArg::Json => write_json(&report.summary, &mut text),
    }
    if let Some(path) = &args.html {
        write_html_report(&report.summary, path)?;
    }
    match (&args.output, cfg.keys.is_some() && args.keys_output.is_none()) {
        (Some(path), _) => std::fs::write(path, &text).map_err(|e| Error::io(e).in_file(&path.as_path().into()))?,
        // The rows took standard output: the summary goes nowhere.
        (None, true) => {}
        (None, false) => std::io::stdout().lock().write_all(&text).map_err(Error::io)?,
    }
    for e in report.summary.files.iter().filter_map(|f| f.error.as_ref()) {
        eprintln!("rdb-tool: {e}");
    }
    Ok(report.verdict.into())
}

#[cfg(feature = "html")]
fn write_html_report(summary: &rdb_tool::memory::report::Summary, path: &std::path::Path) -> Result<(), Error> {
    let page = rdb_tool::memory::html::write_html(summary)
        .map_err(|e| Error::new(rdb_tool::error::ErrorKind::Io(std::io::ErrorKind::Other)).detail(e))?;
    std::fs::write(path, page).map_err(|e| Error::io(e).in_file(&path.into()))
}

#[cfg(not(feature = "html"))]
fn write_html_report(_: &rdb_tool::memory::report::Summary, _: &std::path::Path) -> Result<(), Error> {
    Err(usage("--html: this build has no HTML report (feature `html`)".into()))
}

/// `salvage`: with `--to`, what is saved is written next to the output
/// first, then converted into it (and the intermediate removed).
fn run_salvage(args: cli::SalvageArgs) -> Result<Exit, Error> {
    let (Some(to), Some(output), false) = (args.to, args.output.clone(), args.dry_run) else {
        return run_salvage_as_is(args);
    };
    let dir = output.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let saved = dir.join(format!(".{name}.rdb-tool-salvaged.{}", std::process::id()));
    let (input, now, reader) = (args.input.clone(), args.now, args.read.options());
    let (rdb_version, drop_unsupported) = (args.rdb_version, args.drop_unsupported);
    let result = (|| {
        let shown_output = Some(output.clone());
        let exit = run_salvage_as_is(cli::SalvageArgs { output: Some(saved.clone()), shown_output, ..args })?;
        let mut cfg = ConvertConfig::new(saved.clone(), convert_to(to));
        (cfg.now_ms, cfg.reader, cfg.rdb_version) = (now, reader, rdb_version);
        cfg.drop_unsupported = drop_unsupported;
        let report = match to {
            ConvertToArg::AofDir => convert::convert_to_dir(&cfg, &output)?,
            _ => write_atomically(&output, |out| convert::convert(&cfg, out))?,
        };
        for (db, key, why) in &report.dropped {
            eprintln!("rdb-tool: dropped db {db} key \"{}\": {why}", rdb_tool::escape::escape_bytes(key));
        }
        println!("converted to {to:?} from the salvage of {}", input.display());
        Ok(exit)
    })();
    let _ = std::fs::remove_file(&saved).or_else(|_| std::fs::remove_dir_all(&saved));
    result
}

fn convert_to(to: ConvertToArg) -> ConvertTo {
    match to {
        ConvertToArg::Rdb => ConvertTo::Rdb,
        ConvertToArg::Json => ConvertTo::Json,
        ConvertToArg::Jsonl => ConvertTo::Jsonl,
        ConvertToArg::Resp => ConvertTo::Resp,
        ConvertToArg::Aof => ConvertTo::Aof,
        ConvertToArg::AofDir => ConvertTo::AofDir,
    }
}

fn run_salvage_as_is(args: cli::SalvageArgs) -> Result<Exit, Error> {
    use rdb_tool::cmd::salvage::{self, Outcome, SalvageConfig};
    let cfg = SalvageConfig { input: args.input.clone(), reader: args.read.options(), now_ms: args.now };
    let written = args.output.as_deref().filter(|_| !args.dry_run);
    let source = rdb_tool::source::Source::open(&args.input)?;
    if source.is_pipe() {
        return Err(usage("salvage reads a file, not standard input".into()));
    }
    if source.kind().is_aof() {
        return run_salvage_aof(&args, &cfg, &source, written);
    }
    let report = match written {
        // What exit 1 promises: the output passes the full check and holds
        // the keys the report counts, or it is not put in place.
        Some(path) => write_atomically_then(path, |out| salvage::salvage(&cfg, Some(out)), salvage::verify)?,
        None => salvage::salvage(&cfg, None)?,
    };
    show_salvage(&args, &salvage::to_text(&report), |shown| salvage::to_json(&report, shown), written)?;
    Ok(match report.outcome {
        Outcome::Intact => Exit::Ok,
        Outcome::Repaired(_) | Outcome::Unlocated { .. } | Outcome::Resynced(_) => Exit::Damaged,
    })
}

/// `salvage` of an AOF: a single file into a file, a multi-part set into a
/// new directory, each judged before it is put in place.
fn run_salvage_aof(
    args: &cli::SalvageArgs,
    cfg: &rdb_tool::cmd::salvage::SalvageConfig,
    source: &rdb_tool::source::Source,
    written: Option<&std::path::Path>,
) -> Result<Exit, Error> {
    use rdb_tool::cmd::salvage::aof::{self, AofTarget};
    let multipart = matches!(source.kind(), rdb_tool::source::Kind::MultiPart { .. });
    let report = match written {
        Some(path) if multipart => {
            write_dir_atomically_then(path, |dir| aof::salvage_aof(cfg, source, AofTarget::Dir(dir)), aof::verify)?
        }
        Some(path) => {
            write_atomically_then(path, |out| aof::salvage_aof(cfg, source, AofTarget::File(out)), aof::verify)?
        }
        None => aof::salvage_aof(cfg, source, AofTarget::Nowhere)?,
    };
    show_salvage(args, &aof::to_text(&report), |shown| aof::to_json(&report, shown), written)?;
    Ok(if report.intact() { Exit::Ok } else { Exit::Damaged })
}

/// A salvage's report as text, its JSON in `--report`, and where the
/// output went (the final one, with `--to`).
fn show_salvage(
    args: &cli::SalvageArgs,
    text: &str,
    json: impl FnOnce(Option<&std::path::Path>) -> serde_json::Value,
    written: Option<&std::path::Path>,
) -> Result<(), Error> {
    print!("{text}");
    let shown = args.shown_output.as_deref().or(written);
    if let Some(path) = &args.report {
        write_atomically(path, |out| writeln!(out, "{}", json(shown)).map_err(Error::io))?;
    }
    match shown {
        Some(path) => println!("written to {}", path.display()),
        None => println!("dry run: nothing written"),
    }
    Ok(())
}

/// Write a new directory at `path` through `write`, judged by `accept`
/// before it is renamed into place (a directory that exists is refused:
/// nothing is ever overwritten).
fn write_dir_atomically_then<T>(
    path: &std::path::Path,
    write: impl FnOnce(&std::path::Path) -> Result<T, Error>,
    accept: impl FnOnce(&T, &std::path::Path) -> Result<(), Error>,
) -> Result<T, Error> {
    if path.exists() {
        return Err(usage(format!("{} exists: salvage writes a new directory", path.display())));
    }
    let parent = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!(".{name}.rdb-tool-tmp.{}", std::process::id()));
    let result = (|| {
        std::fs::create_dir(&tmp).map_err(Error::io)?;
        let value = write(&tmp)?;
        std::fs::File::open(&tmp).and_then(|d| d.sync_all()).map_err(Error::io)?;
        accept(&value, &tmp)?;
        std::fs::rename(&tmp, path).map_err(Error::io)?;
        Ok(value)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn run_fix(args: cli::FixArgs) -> Result<Exit, Error> {
    let opts = AofCheckOptions {
        reader: args.read.options(),
        now_ms: None,
        // As redis-check-aof: 0 turns the timestamp logic off.
        to_timestamp: args.truncate_to_timestamp.filter(|&t| t != 0),
    };
    let (report, repair) = fix::plan(&args.file, &opts)?;
    let plan = match repair {
        Repair::NothingToDo => {
            match opts.to_timestamp {
                Some(t) => println!("{}: valid, nothing after timestamp {t}: nothing to cut", args.file.display()),
                None => println!("{}: valid, nothing to fix ({} commands)", args.file.display(), report.commands()),
            }
            return Ok(Exit::Ok);
        }
        Repair::Impossible(why) => {
            report::write_aof_text(&mut std::io::stdout().lock(), &report).map_err(Error::io)?;
            eprintln!("rdb-tool: cannot be fixed safely: {why}");
            return Ok(Exit::Damaged);
        }
        Repair::Truncate(plan) => plan,
    };
    println!("{}", plan.file.display());
    println!("  reason      {}", plan.reason);
    println!("  old size    {} bytes", plan.old_size);
    println!("  new size    {} bytes", plan.new_size);
    println!("  cut         {} bytes", plan.bytes_cut());
    let (head, tail) = fix::preview(&plan, 64)?;
    print!("  first bytes cut:\n{}", hex_preview(&head));
    if !tail.is_empty() {
        print!("  last bytes cut:\n{}", hex_preview(&tail));
    }
    if args.dry_run {
        println!("dry run: nothing changed");
        return Ok(Exit::Ok);
    }
    if !args.yes {
        print!(
            "Cut {} bytes from {}? The cut bytes are saved next to it first. [y/N]: ",
            plan.bytes_cut(),
            plan.file.display()
        );
        std::io::stdout().flush().map_err(Error::io)?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).map_err(Error::io)?;
        if !answer.trim_start().starts_with(['y', 'Y']) {
            println!("aborted: nothing changed");
            return Ok(Exit::Damaged);
        }
    }
    let applied = fix::apply(&plan)?;
    println!("saved the {} cut bytes to {}", plan.bytes_cut(), applied.backup.display());
    println!("truncated {} to {} bytes", plan.file.display(), plan.new_size);
    let after = fix::recheck(&args.file, &opts)?;
    match after.first_error() {
        None => {
            println!("re-check: valid ({} commands)", after.commands());
            Ok(Exit::Ok)
        }
        Some(e) => {
            eprintln!("rdb-tool: re-check after the cut still finds damage: {e}");
            Ok(Exit::Damaged)
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
