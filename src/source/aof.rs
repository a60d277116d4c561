//! An AOF's keys: its files opened in load order, its commands replayed into
//! the keyspace model as a loading server applies them, then the keyspace
//! handed out (functions, each database in key order).

use super::{bad_input, Kind, ModuleAux, Source, VisitOptions, VisitReport, Visitor};
use crate::error::{Error, ErrorKind, InputProblem, Result};
use crate::event::aof::AofFile;
use crate::event::OwnedValue;
use crate::event::{AofRole, Event};
use crate::input::layout::load_multipart;
use crate::input::manifest::PartRole;
use crate::input::Input;
use crate::keyspace::replay::{Outcome, Replayer};
use std::collections::BTreeMap;

/// Every file of the AOF, in load order.
pub(super) fn open_files(source: &mut Source) -> Result<Vec<AofFile>> {
    match &source.kind {
        Kind::MultiPart { manifest } => {
            let set = load_multipart(manifest)?;
            set.parts
                .iter()
                .map(|(role, p)| {
                    let role = if *role == PartRole::Base { AofRole::Base } else { AofRole::Incr };
                    Ok(AofFile { role, input: Input::open(p)? })
                })
                .collect()
        }
        Kind::Aof | Kind::PreambleAof => Ok(vec![AofFile { role: AofRole::Single, input: source.open_input()? }]),
        Kind::Rdb | Kind::JsonDump => Err(bad_input(InputProblem::NotAnAof, &source.path)),
    }
}

/// Events between two progress reports (a report is a call through a
/// trait object: cheap, but not free per command).
const PROGRESS_EVERY: u64 = 4096;

pub(super) fn visit(
    source: &mut Source,
    opts: &VisitOptions,
    v: &mut dyn Visitor,
    report: &mut VisitReport,
) -> Result<()> {
    let mut files = open_files(source)?;
    let mut reader = crate::event::AofReader::new(&mut files, opts.reader);
    let mut replay = Replayer::at(opts.now_ms.unwrap_or_else(crate::clock::system_now_ms));
    let mut file: Option<std::sync::Arc<std::path::Path>> = None;
    let mut unknown: BTreeMap<String, u64> = BTreeMap::new();
    // Module data of an RDB base or preamble: no command changes it.
    let mut module_aux = Vec::new();
    // Progress: the files before the current one, read whole.
    let (mut done_before, mut current_size, mut events) = (0u64, 0u64, 0u64);
    loop {
        events += 1;
        if events % PROGRESS_EVERY == 0 {
            v.progress(done_before + reader.offset());
        }
        let Some(event) = reader.next()? else { break };
        module_aux.extend(ModuleAux::of(&event));
        match event {
            Event::AofFile { name, .. } => {
                replay.new_client();
                done_before += current_size;
                current_size = std::fs::metadata(&*name).map_or(0, |m| m.len());
                file = Some(name);
            }
            Event::Function { code } => replay.load_function(&code),
            Event::Key(k) => {
                let obj = OwnedValue::from_source(&k.value).map_err(|e| e.key(&k.key))?;
                // The loading server skips an empty collection: later
                // commands find no key there.
                if obj.is_empty_collection() {
                    report.empty_keys += 1;
                    continue;
                }
                replay.load_key(k.db, k.key.to_vec(), obj, &k.attrs);
            }
            Event::Command(c) => {
                let args: Vec<&[u8]> = c.args().collect();
                if replay.apply(&args) == Outcome::Unknown {
                    let name = String::from_utf8_lossy(&args[0].to_ascii_uppercase()).into_owned();
                    if !opts.skip_unknown {
                        let mut e = Error::new(ErrorKind::Unsupported("a command the AOF replay does not know"))
                            .at(c.offset)
                            .detail(format!("{name} (command #{}; --skip-unknown goes on and counts them)", c.index));
                        if let Some(f) = &file {
                            e = e.in_file(f);
                        }
                        return Err(e);
                    }
                    *unknown.entry(name).or_default() += 1;
                }
            }
            _ => {}
        }
    }
    for (name, n) in unknown {
        v.note(format!("{n} {name} commands skipped (unknown to the replay)"));
    }
    if replay.errors > 0 {
        v.note(format!("{} commands were errors the server would also have rejected", replay.errors));
    }
    for note in std::mem::take(&mut replay.notes) {
        v.note(note);
    }
    v.progress(done_before + current_size);
    v.begin(None)?;
    for (_, code) in &replay.keyspace.functions {
        v.function(code)?;
    }
    for aux in module_aux.iter().filter(|a| !a.after_keys()) {
        v.module_aux(aux)?;
    }
    for (db, keys) in &replay.keyspace.dbs {
        if keys.is_empty() {
            continue;
        }
        v.select_db(*db)?;
        v.resize_db(keys.len() as u64, keys.values().filter(|e| e.expire_at_ms.is_some()).count() as u64)?;
        for (key, entry) in keys {
            if !opts.selects(*db, key, entry.obj.key_type(), entry.expire_at_ms) {
                continue;
            }
            v.key(*db, key, &entry.attrs(), &entry.obj)?;
        }
    }
    for aux in module_aux.iter().filter(|a| a.after_keys()) {
        v.module_aux(aux)?;
    }
    v.end()
}
