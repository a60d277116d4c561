//! `convert`: rewrite what a file holds in another format or RDB version. This
//! first part covers RDB input to RDB output (any version the writer knows) and
//! to the JSON dump formats; values are re-encoded as the target version's
//! Redis would write them, never copied blindly.

use super::dump::{self, DumpConfig, DumpFormat};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, RdbReader, ReaderOptions};
use crate::format::KeyType;
use crate::input::Input;
use crate::output::rdb::writer::{EncodingLimits, KeyMeta, RdbWriter, MAX_WRITE_VERSION};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvertTo {
    Rdb,
    Json,
    Jsonl,
}

#[derive(Debug, Clone)]
pub struct ConvertConfig {
    pub input: PathBuf,
    pub to: ConvertTo,
    /// Target RDB version (default: the source's, capped at what the writer knows).
    pub rdb_version: Option<u32>,
    pub limits: EncodingLimits,
    /// LZF-compress strings as Redis does with `rdbcompression yes`.
    pub compress: bool,
    /// Leave out data the target cannot hold (each dropped key is reported)
    /// instead of refusing the conversion.
    pub drop_unsupported: bool,
    pub reader: ReaderOptions,
}

impl ConvertConfig {
    pub fn new(input: impl Into<PathBuf>, to: ConvertTo) -> Self {
        ConvertConfig {
            input: input.into(),
            to,
            rdb_version: None,
            limits: EncodingLimits::default(),
            compress: true,
            drop_unsupported: false,
            reader: ReaderOptions::default(),
        }
    }
}

/// What a conversion did.
#[derive(Debug, Clone, Default)]
pub struct ConvertReport {
    pub version: Option<u32>,
    pub keys: u64,
    /// Keys (db, name, why) left out with `--drop-unsupported`.
    pub dropped: Vec<(u64, Vec<u8>, String)>,
    /// Other things left out (module aux data, functions…).
    pub notes: Vec<String>,
}

/// The `redis-ver` aux value written for a target version: a release that
/// writes that version, so readers that compare the two agree.
fn redis_ver_for(version: u32) -> &'static str {
    match version {
        ..=6 => "2.8.0",
        7 => "3.2.0",
        8 => "4.0.0",
        9 => "6.2.0",
        10 => "7.0.0",
        11 => "7.2.0",
        _ => "7.4.0",
    }
}

/// Run a conversion, writing the result to `out`.
pub fn convert(cfg: &ConvertConfig, out: &mut dyn Write) -> Result<ConvertReport> {
    match cfg.to {
        ConvertTo::Json | ConvertTo::Jsonl => {
            let format = if cfg.to == ConvertTo::Json { DumpFormat::Json } else { DumpFormat::Jsonl };
            let mut d = DumpConfig::new(cfg.input.clone(), format);
            d.reader = cfg.reader;
            dump::dump(&d, out)?;
            Ok(ConvertReport::default())
        }
        ConvertTo::Rdb => rdb_to_rdb(cfg, out),
    }
}

fn rdb_to_rdb(cfg: &ConvertConfig, out: &mut dyn Write) -> Result<ConvertReport> {
    let mut input = Input::open(&cfg.input)?;
    let name = input.name.clone();
    let mut reader = RdbReader::new(&mut input, cfg.reader);
    let mut report = ConvertReport::default();
    let mut writer: Option<RdbWriter<&mut dyn Write>> = None;
    let mut out = Some(out);
    while let Some(event) = reader.next()? {
        if let Event::Header { version, .. } = event {
            let target = cfg.rdb_version.unwrap_or(version.min(MAX_WRITE_VERSION));
            let mut w = RdbWriter::new(out.take().expect("one header"), target, cfg.limits, cfg.compress)?;
            w.lossy = cfg.drop_unsupported;
            w.aux(b"redis-ver", redis_ver_for(target).as_bytes())?;
            report.version = Some(target);
            writer = Some(w);
            continue;
        }
        let w = writer.as_mut().ok_or_else(|| Error::new(ErrorKind::Integrity("no header")))?;
        match event {
            // The writer's own version stands in for the source's.
            Event::Aux { key, .. } if matches!(&*key, b"redis-ver" | b"valkey-ver") => {}
            Event::Aux { key, value } => w.aux(&key, &value)?,
            Event::Function { code } => {
                if let Err(e) = w.function(&code) {
                    if !cfg.drop_unsupported {
                        return Err(e.in_file(&name).detail("a function library (--drop-unsupported leaves it out)"));
                    }
                    report.notes.push(format!("function library left out: {e}"));
                }
            }
            Event::SelectDb { db } => w.select_db(db)?,
            Event::ResizeDb { keys, expires } => w.resize_db(keys, expires)?,
            Event::ModuleAux { module, .. } => report.notes.push(format!("module aux data of {module} left out")),
            Event::Key(k) => {
                let meta = KeyMeta { expire_at_ms: k.expire_at_ms, idle_s: k.idle_s, freq: k.freq };
                let written = w.key(&k.key, &meta, &k.value);
                for note in w.take_notes() {
                    report.notes.push(format!("db {} key \"{}\": {note}", k.db, crate::escape::escape_bytes(&k.key)));
                }
                match written {
                    Ok(()) => report.keys += 1,
                    Err(e) if matches!(e.kind, ErrorKind::Unsupported(_)) && cfg.drop_unsupported => {
                        report.dropped.push((k.db, k.key.to_vec(), e.kind.to_string()));
                    }
                    Err(e) if matches!(e.kind, ErrorKind::Unsupported(_)) => {
                        return Err(e.in_file(&name).at(k.offset).detail(format!(
                            "RDB {} cannot hold this {} (--drop-unsupported leaves such keys out)",
                            w.version(),
                            k.value.key_type().name()
                        )));
                    }
                    Err(e) => return Err(e.in_file(&name)),
                }
                if k.value.key_type() == KeyType::Module {
                    report.notes.push("module values are copied raw; the target server needs the same module".into());
                }
            }
            Event::End { .. } => {
                writer.take().expect("writer").finish()?;
                report.notes.dedup();
                return Ok(report);
            }
            _ => {}
        }
    }
    Err(Error::new(ErrorKind::Truncated).in_file(&name))
}
