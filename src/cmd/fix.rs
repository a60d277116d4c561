//! `fix`: apply a [`TruncatePlan`] without ever losing data. The bytes to be cut
//! are first copied to a backup file next to the AOF (created new, written,
//! fsynced, directory fsynced); only then is the AOF truncated and fsynced, and
//! the result checked again. A failure before the truncation leaves the AOF
//! untouched; the truncation itself is one `ftruncate`.
//!
//! Prompts and printing belong to the CLI; this module only plans and applies.

use super::check::aof::{check_aof, plan_repair, AofCheckOptions, AofReport, Repair, TruncatePlan};
use crate::error::{Error, ErrorKind, InputProblem, Result};
use crate::source::Source;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Check the AOF at `path` and work out what a fix would do.
pub fn plan(path: &Path, opts: &AofCheckOptions) -> Result<(AofReport, Repair)> {
    let source = Source::open(path)?;
    if source.is_pipe() {
        return Err(Error::new(ErrorKind::Input(InputProblem::FixOfPipe)));
    }
    if !source.kind().is_aof() {
        return Err(Error::new(ErrorKind::Input(InputProblem::FixOfRdb)).in_file(&path.into()));
    }
    let report = check_aof(&source, opts);
    let repair = plan_repair(&report);
    Ok((report, repair))
}

/// The first and last bytes that a plan cuts, for showing before confirming.
pub fn preview(plan: &TruncatePlan, max: usize) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut f = File::open(&plan.file).map_err(|e| Error::io(e).in_file(&plan.file.as_path().into()))?;
    let cut = plan.bytes_cut();
    let head_len = cut.min(max as u64) as usize;
    let mut head = vec![0; head_len];
    f.seek(SeekFrom::Start(plan.new_size))?;
    f.read_exact(&mut head)?;
    let tail_len = cut.saturating_sub(head_len as u64).min(max as u64) as usize;
    let mut tail = vec![0; tail_len];
    f.seek(SeekFrom::Start(plan.old_size - tail_len as u64))?;
    f.read_exact(&mut tail)?;
    Ok((head, tail))
}

/// Where the cut bytes of `file` are saved: next to it, never overwriting.
fn backup_path(file: &Path, new_size: u64) -> PathBuf {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let base = format!("{name}.cut-at-{new_size}.{stamp}");
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut candidate = dir.join(&base);
    let mut n = 1;
    while candidate.exists() {
        candidate = dir.join(format!("{base}.{n}"));
        n += 1;
    }
    candidate
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// The outcome of an applied plan.
#[derive(Debug, Clone)]
pub struct Applied {
    /// Holds exactly the bytes that were cut, in order.
    pub backup: PathBuf,
}

/// Apply `plan`: back up the cut bytes, truncate, fsync.
pub fn apply(plan: &TruncatePlan) -> Result<Applied> {
    let name: std::sync::Arc<Path> = plan.file.as_path().into();
    let io = |e: std::io::Error| Error::io(e).in_file(&name);
    let mut aof = OpenOptions::new().read(true).write(true).open(&plan.file).map_err(io)?;
    let size = aof.metadata().map_err(io)?.len();
    if size != plan.old_size || plan.new_size > size {
        return Err(Error::new(ErrorKind::Input(InputProblem::ChangedSinceCheck))
            .in_file(&name)
            .detail(format!("expected {} bytes, found {size}", plan.old_size)));
    }
    let backup = backup_path(&plan.file, plan.new_size);
    let saved = (|| -> std::io::Result<()> {
        let mut out = OpenOptions::new().write(true).create_new(true).open(&backup)?;
        aof.seek(SeekFrom::Start(plan.new_size))?;
        let copied = std::io::copy(&mut (&mut aof).take(plan.bytes_cut()), &mut out)?;
        if copied != plan.bytes_cut() {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the AOF shrank while copying"));
        }
        out.flush()?;
        out.sync_all()?;
        sync_dir(backup.parent().unwrap_or(Path::new(".")))
    })();
    if let Err(e) = saved {
        let _ = std::fs::remove_file(&backup);
        return Err(Error::io(e)
            .in_file(&name)
            .detail(format!("could not save the bytes to cut in {}; nothing was changed", backup.display())));
    }
    aof.set_len(plan.new_size).map_err(io)?;
    aof.sync_all().map_err(io)?;
    Ok(Applied { backup })
}

/// After a fix: check the AOF again (same options); the report must be clean.
pub fn recheck(path: &Path, opts: &AofCheckOptions) -> Result<AofReport> {
    let opts = AofCheckOptions { to_timestamp: None, ..*opts };
    Ok(check_aof(&Source::open(path)?, &opts))
}
