//! `dump`: one JSON record per key, in file order, streamed.

use super::filter::KeyFilter;
use crate::error::{Error, Result};
use crate::event::{Event, RdbReader, ReaderOptions};
use crate::input::Input;
use crate::output::record::write_key_record;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    /// One JSON object per line.
    Jsonl,
    /// One JSON array of the same objects.
    Json,
}

#[derive(Debug, Clone)]
pub struct DumpConfig {
    pub input: PathBuf,
    pub format: DumpFormat,
    pub filter: KeyFilter,
    /// `--no-expired`: drop keys expired at `now_ms`, or at the file's `ctime`
    /// aux field when `now_ms` is not given.
    pub no_expired: bool,
    pub now_ms: Option<i64>,
    pub reader: ReaderOptions,
}

/// What a dump wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DumpStats {
    pub keys_read: u64,
    pub keys_written: u64,
}

fn ctime_ms(value: &[u8]) -> Option<i64> {
    std::str::from_utf8(value).ok()?.parse::<i64>().ok()?.checked_mul(1000)
}

/// Dump the keys of `cfg.input` to `out`.
pub fn dump(cfg: &DumpConfig, out: &mut dyn Write) -> Result<DumpStats> {
    let mut input = Input::open(&cfg.input)?;
    let name = input.name.clone();
    let mut reader = RdbReader::new(&mut input, cfg.reader);
    let mut filter = cfg.filter.clone();
    if cfg.no_expired {
        filter.expired_before_ms = cfg.now_ms;
    }
    let mut stats = DumpStats::default();
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, out);
    let io = |e: std::io::Error| Error::io(e);
    if cfg.format == DumpFormat::Json {
        out.write_all(b"[").map_err(io)?;
    }
    while let Some(event) = reader.next()? {
        match event {
            Event::Aux { key, value } if cfg.no_expired && filter.expired_before_ms.is_none() && &*key == b"ctime" => {
                filter.expired_before_ms = ctime_ms(&value);
            }
            Event::Key(key) => {
                stats.keys_read += 1;
                if cfg.no_expired && filter.expired_before_ms.is_none() {
                    // No --now and no ctime aux: use the current time.
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as i64);
                    filter.expired_before_ms = Some(now);
                }
                if !filter.matches(&key) {
                    continue;
                }
                if cfg.format == DumpFormat::Json && stats.keys_written > 0 {
                    out.write_all(b",\n").map_err(io)?;
                }
                write_key_record(&mut out, &key).map_err(|e| e.in_file(&name).key(&key.key))?;
                if cfg.format == DumpFormat::Jsonl {
                    out.write_all(b"\n").map_err(io)?;
                }
                stats.keys_written += 1;
            }
            _ => {}
        }
    }
    if cfg.format == DumpFormat::Json {
        out.write_all(b"]\n").map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(stats)
}
