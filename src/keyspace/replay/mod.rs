//! Replaying AOF commands into a [`Keyspace`] with the server's semantics for
//! what an AOF holds: the write commands as propagated (absolute expiries,
//! exact trims, XCLAIM for group reads), MULTI/EXEC, SELECT, FUNCTION.
//!
//! A command the model does not know is reported ([`Outcome::Unknown`]); one
//! that the server would answer with an error (wrong type, bad number) changes
//! nothing and is counted, as the server logs and goes on when loading. The
//! replay never expires anything (the loading server does not) and never
//! guesses at a command it does not know.
//!
//! Layout: `table` lists every known command with its arity and handler, and
//! is the only such list; one file per command family holds the handlers
//! (`keys`, `strings` with the bit commands, `lists`, `sets`, `zsets`,
//! `hashes` with field TTLs, `streams`, `geo`, `hll`, `sort`, `arrays`,
//! `functions`); `args` reads arguments. The geo and HyperLogLog encodings
//! are `keyspace::geo` and `keyspace::hll`.

mod args;
mod arrays;
mod functions;
mod geo;
mod hashes;
mod hll;
mod keys;
mod lists;
mod sets;
mod sort;
mod streams;
mod strings;
mod table;
#[cfg(test)]
mod tests;
mod zsets;

pub use table::{command_names, is_command, subcommand_names};

use super::{Entry, Keyspace};
use crate::event::{KeyAttrs, OwnedValue};
use args::TimeArg;
use std::collections::BTreeMap;
use table::{Command, Run};

/// What one command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// The server would reply with this error and change nothing.
    Error(String),
    /// Not a command this model knows.
    Unknown,
}

type Args<'a> = [&'a [u8]];
type Res = Result<(), String>;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Replays commands; one per AOF.
pub struct Replayer {
    pub keyspace: Keyspace,
    /// The clock of the server that loads the AOF (Unix ms): relative times
    /// (`EXPIRE k 10`, `SET … EX`, `XADD *`, `XCLAIM … IDLE`) count from it.
    /// Nothing is compared with it: while loading, the server sets a time
    /// already past instead of expiring (expire.c `checkAlreadyExpired` is
    /// false while `server.loading`), so the replay never expires anything.
    now_ms: i64,
    db: u64,
    /// Commands queued inside MULTI.
    queued: Option<Vec<Vec<Vec<u8>>>>,
    pub errors: u64,
    /// What the model could only approximate (reported by convert).
    pub notes: Vec<String>,
}

impl Default for Replayer {
    fn default() -> Self {
        Self::new()
    }
}

impl Replayer {
    /// A replay on the system clock.
    pub fn new() -> Self {
        Self::at(crate::clock::system_now_ms())
    }

    /// A replay whose relative times count from `now_ms` (`--now`).
    pub fn at(now_ms: i64) -> Self {
        Replayer { keyspace: Keyspace::default(), now_ms, db: 0, queued: None, errors: 0, notes: Vec::new() }
    }

    /// The absolute Unix ms that `n` in `unit` names, counted as the loading
    /// server counts it (saturating, as the server refuses what overflows).
    /// Every expiry argument of every command comes through here.
    fn absolute_ms(&self, unit: TimeArg, n: i64) -> i64 {
        match unit {
            TimeArg::InSeconds => self.now_ms.saturating_add(n.saturating_mul(1000)),
            TimeArg::InMillis => self.now_ms.saturating_add(n),
            TimeArg::AtSeconds => n.saturating_mul(1000),
            TimeArg::AtMillis => n,
        }
    }

    /// A new file starts: the server replays each with a fresh client (db 0,
    /// no open transaction).
    pub fn new_client(&mut self) {
        self.db = 0;
        self.queued = None;
    }

    /// Insert a key read from an RDB preamble or base, with its attributes.
    pub fn load_key(&mut self, db: u64, key: Vec<u8>, obj: OwnedValue, attrs: &KeyAttrs<'_>) {
        self.keyspace.db(db).insert(key, Entry::loaded(obj, attrs));
    }

    pub fn load_function(&mut self, code: &[u8]) {
        let name = functions::library_name(code).unwrap_or_default();
        self.keyspace.functions.retain(|(n, _)| *n != name);
        self.keyspace.functions.push((name, code.to_vec()));
    }

    /// Apply one command.
    pub fn apply(&mut self, args: &Args<'_>) -> Outcome {
        let Some(name) = args.first() else { return Outcome::Error("ERR empty command".into()) };
        let command = table::lookup(&name.to_ascii_uppercase());
        // MULTI/EXEC/DISCARD act at once, inside a transaction too.
        if let Some(Command { run: Run::Transaction(act), .. }) = command {
            return act(self);
        }
        if let Some(q) = &mut self.queued {
            // Queued only if known: an unknown command is reported now.
            if command.is_none() {
                return Outcome::Unknown;
            }
            q.push(args.iter().map(|a| a.to_vec()).collect());
            return Outcome::Applied;
        }
        match self.execute(command, args) {
            Ok(true) => Outcome::Applied,
            Ok(false) => Outcome::Unknown,
            Err(e) => {
                self.errors += 1;
                Outcome::Error(e)
            }
        }
    }

    /// Run a command; `Ok(false)` when unknown.
    fn run(&mut self, a: &Args<'_>) -> Result<bool, String> {
        self.execute(table::lookup(&a[0].to_ascii_uppercase()), a)
    }

    /// Run `command` (looked up from `a[0]`): its arity, then its handler, or
    /// for a container the subcommand's arity and handler.
    fn execute(&mut self, command: Option<&Command>, a: &Args<'_>) -> Result<bool, String> {
        let Some(command) = command else { return Ok(false) };
        table::check_arity(a, command.arity)?;
        let handler = match &command.run {
            Run::Write(handler) => handler,
            Run::Container { subcommands, otherwise } => {
                let Some(sub) = table::subcommand(subcommands, a[1]) else {
                    return match otherwise {
                        Some(error) => Err(error.to_string()),
                        None => Ok(false),
                    };
                };
                table::check_arity(a, sub.arity)?;
                match &sub.run {
                    Run::Write(handler) => handler,
                    _ => unreachable!("subcommands are writes"),
                }
            }
            // Never queued (see `apply`), so never run from EXEC.
            Run::Transaction(_) => return Ok(false),
        };
        handler(self, a)?;
        Ok(true)
    }

    fn db(&mut self) -> &mut BTreeMap<Vec<u8>, Entry> {
        self.keyspace.db(self.db)
    }

    /// The entry at `key`, of any type (`None` if missing).
    fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.db().get_mut(key).map(Entry::touched)
    }

    /// Remove collections left empty.
    fn drop_if_empty(&mut self, key: &[u8]) {
        if self.db().get(key).is_some_and(|e| e.obj.is_empty_collection()) {
            self.db().remove(key);
        }
    }

    /// The object at `key`, created with `make` when missing; WRONGTYPE if `check` fails.
    fn obj_or(
        &mut self,
        key: &[u8],
        make: impl FnOnce() -> OwnedValue,
        check: impl Fn(&OwnedValue) -> bool,
    ) -> Result<&mut OwnedValue, String> {
        let db = self.db();
        if !db.contains_key(key) {
            db.insert(key.to_vec(), Entry::new(make(), None));
        }
        let e = db.get_mut(key).expect("present").touched();
        if !check(&e.obj) {
            return Err(WRONGTYPE.into());
        }
        Ok(&mut e.obj)
    }

    /// The string at `key`, created as `init` when missing; WRONGTYPE otherwise.
    fn string_or(&mut self, key: &[u8], init: &[u8]) -> Result<&mut Vec<u8>, String> {
        match self.obj_or(key, || OwnedValue::Str(init.to_vec()), |o| matches!(o, OwnedValue::Str(_)))? {
            OwnedValue::Str(s) => Ok(s),
            _ => unreachable!("obj_or checked the type"),
        }
    }

    /// A command's result stored at `dst` (replacing the key and its TTL); an
    /// empty collection deletes it instead.
    fn store(&mut self, dst: &[u8], obj: OwnedValue) {
        if obj.is_empty_collection() {
            self.db().remove(dst);
        } else {
            self.db().insert(dst.to_vec(), Entry::new(obj, None));
        }
    }
}
