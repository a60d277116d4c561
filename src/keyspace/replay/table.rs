//! The command table: every command the replay knows, with the fewest
//! arguments it takes and the handler that runs it. It is the one list of
//! commands: `Replayer::apply` dispatches through it, a command inside MULTI
//! is queued only if it is here, and the fuzz target reads the names from it
//! ([`command_names`]). A command that is not here is unknown to the model.
//!
//! As in Redis's command table (server.h `redisCommand`), FUNCTION and XGROUP
//! are containers whose second word names a subcommand in a table of its
//! own; MULTI, EXEC and DISCARD act when read, even inside a transaction.

use super::args::TimeArg;
use super::geo::GeoStore;
use super::hll::Hll;
use super::sets::SetOp;
use super::zsets::ZsetOp;
use super::{Args, Outcome, Replayer, Res};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Runs a write command whose arity was checked.
pub(super) type Handler = fn(&mut Replayer, &Args<'_>) -> Res;

pub(super) struct Command {
    /// Upper case, as looked up.
    pub name: &'static str,
    /// The fewest words, the name (and a subcommand's container) included.
    /// Fewer is refused; 1 checks nothing (the handler checks what it
    /// needs). Never an exact count, even where Redis states one (`SETNX`
    /// 3): a loading server does not check arity (aof.c
    /// `loadSingleAppendOnlyFile` calls the command's proc directly, not
    /// through `processCommand`), so `SETNX k v extra` in an AOF sets `k`
    /// (tests/live/aof.rs checks this against Redis 7.0). The minimum only
    /// keeps a handler from reading words that are not there.
    pub arity: usize,
    pub run: Run,
}

pub(super) enum Run {
    Write(Handler),
    /// The second word names a subcommand of this table. A subcommand not
    /// in it is unknown to the model (`None`: the reads FUNCTION LIST,
    /// DUMP…) or the server's error (`Some`).
    Container {
        subcommands: &'static [Command],
        otherwise: Option<&'static str>,
    },
    /// MULTI / EXEC / DISCARD: never queued (server.c `processCommand`).
    Transaction(fn(&mut Replayer) -> Outcome),
}

const fn write(name: &'static str, arity: usize, handler: Handler) -> Command {
    Command { name, arity, run: Run::Write(handler) }
}

const fn transaction(name: &'static str, act: fn(&mut Replayer) -> Outcome) -> Command {
    Command { name, arity: 1, run: Run::Transaction(act) }
}

/// Every command the replay knows, by family.
static COMMANDS: &[Command] = &[
    // keys.rs: keys, databases, expiry, transactions.
    write("SELECT", 2, Replayer::select),
    // No data changes (PUBLISH appears where a replication stream was saved as an AOF).
    write("PING", 1, |_, _| Ok(())),
    write("ECHO", 1, |_, _| Ok(())),
    write("PUBLISH", 1, |_, _| Ok(())),
    write("SPUBLISH", 1, |_, _| Ok(())),
    write("DEL", 1, Replayer::del),
    write("UNLINK", 1, Replayer::del),
    write("RENAME", 3, |r, a| r.rename(a, false)),
    write("RENAMENX", 3, |r, a| r.rename(a, true)),
    write("MOVE", 3, Replayer::move_key),
    write("COPY", 3, Replayer::copy),
    write("SWAPDB", 3, Replayer::swapdb),
    write("FLUSHDB", 1, Replayer::flushdb),
    write("FLUSHALL", 1, Replayer::flushall),
    write("EXPIRE", 3, |r, a| r.expire(a, TimeArg::InSeconds)),
    write("PEXPIRE", 3, |r, a| r.expire(a, TimeArg::InMillis)),
    write("EXPIREAT", 3, |r, a| r.expire(a, TimeArg::AtSeconds)),
    write("PEXPIREAT", 3, |r, a| r.expire(a, TimeArg::AtMillis)),
    write("PERSIST", 2, Replayer::persist),
    write("RESTORE", 4, Replayer::restore),
    transaction("MULTI", Replayer::multi),
    transaction("EXEC", Replayer::exec),
    transaction("DISCARD", Replayer::discard),
    // strings.rs: strings and bits.
    write("SET", 3, Replayer::set),
    write("SETNX", 3, Replayer::setnx),
    write("SETEX", 4, |r, a| r.setex(a, TimeArg::InSeconds)),
    write("PSETEX", 4, |r, a| r.setex(a, TimeArg::InMillis)),
    write("GETSET", 3, Replayer::getset),
    write("GETDEL", 2, Replayer::getdel),
    write("GETEX", 2, Replayer::getex),
    write("MSET", 1, Replayer::mset),
    write("MSETNX", 1, Replayer::msetnx),
    write("APPEND", 3, Replayer::append),
    write("SETRANGE", 4, Replayer::setrange),
    write("INCR", 2, |r, a| r.incr(a, 1)),
    write("DECR", 2, |r, a| r.incr(a, -1)),
    write("INCRBY", 3, Replayer::incrby),
    write("DECRBY", 3, Replayer::decrby),
    write("INCRBYFLOAT", 3, Replayer::incrbyfloat),
    write("SETBIT", 4, Replayer::setbit),
    write("BITOP", 4, Replayer::bitop),
    write("BITFIELD", 2, Replayer::bitfield),
    // lists.rs
    write("LPUSH", 3, |r, a| r.push(a, true, false)),
    write("RPUSH", 3, |r, a| r.push(a, false, false)),
    write("LPUSHX", 3, |r, a| r.push(a, true, true)),
    write("RPUSHX", 3, |r, a| r.push(a, false, true)),
    write("LPOP", 2, |r, a| r.pop(a, true)),
    write("RPOP", 2, |r, a| r.pop(a, false)),
    write("RPOPLPUSH", 3, |r, a| r.move_element(a, false, true)),
    write("LMOVE", 5, Replayer::lmove),
    write("LSET", 4, Replayer::lset),
    write("LTRIM", 4, Replayer::ltrim),
    write("LREM", 4, Replayer::lrem),
    write("LINSERT", 5, Replayer::linsert),
    // sets.rs
    write("SADD", 3, Replayer::sadd),
    write("SREM", 3, Replayer::srem),
    write("SMOVE", 4, Replayer::smove),
    write("SINTERSTORE", 3, |r, a| r.set_store(a, SetOp::Inter)),
    write("SUNIONSTORE", 3, |r, a| r.set_store(a, SetOp::Union)),
    write("SDIFFSTORE", 3, |r, a| r.set_store(a, SetOp::Diff)),
    // zsets.rs
    write("ZADD", 4, Replayer::zadd),
    write("ZINCRBY", 4, Replayer::zincrby),
    write("ZREM", 3, Replayer::zrem),
    write("ZPOPMIN", 2, |r, a| r.zpop(a, false)),
    write("ZPOPMAX", 2, |r, a| r.zpop(a, true)),
    write("ZREMRANGEBYRANK", 4, Replayer::zremrangebyrank),
    write("ZREMRANGEBYSCORE", 4, Replayer::zremrangebyscore),
    write("ZREMRANGEBYLEX", 4, Replayer::zremrangebylex),
    write("ZUNIONSTORE", 4, |r, a| r.zset_store(a, ZsetOp::Union)),
    write("ZINTERSTORE", 4, |r, a| r.zset_store(a, ZsetOp::Inter)),
    write("ZDIFFSTORE", 4, |r, a| r.zset_store(a, ZsetOp::Diff)),
    write("ZRANGESTORE", 5, Replayer::zrangestore),
    // hashes.rs, field TTLs included.
    write("HSET", 1, Replayer::hset),
    write("HMSET", 1, Replayer::hset),
    write("HSETNX", 4, Replayer::hsetnx),
    write("HDEL", 3, Replayer::hdel),
    write("HINCRBY", 4, |r, a| r.hincrby(a, false)),
    write("HINCRBYFLOAT", 4, |r, a| r.hincrby(a, true)),
    write("HEXPIRE", 5, |r, a| r.hexpire(a, TimeArg::InSeconds)),
    write("HPEXPIRE", 5, |r, a| r.hexpire(a, TimeArg::InMillis)),
    write("HEXPIREAT", 5, |r, a| r.hexpire(a, TimeArg::AtSeconds)),
    write("HPEXPIREAT", 5, |r, a| r.hexpire(a, TimeArg::AtMillis)),
    write("HPERSIST", 1, Replayer::hpersist),
    write("HSETEX", 5, Replayer::hsetex),
    write("HGETEX", 5, Replayer::hgetex),
    // streams.rs
    write("XADD", 5, Replayer::xadd),
    write("XDEL", 3, Replayer::xdel),
    write("XTRIM", 4, Replayer::xtrim),
    write("XSETID", 3, Replayer::xsetid),
    Command {
        name: "XGROUP",
        arity: 4,
        run: Run::Container { subcommands: XGROUP, otherwise: Some("ERR unknown XGROUP subcommand") },
    },
    write("XACK", 4, Replayer::xack),
    write("XCLAIM", 6, Replayer::xclaim),
    write("XNACK", 7, Replayer::xnack),
    write("XCFGSET", 4, Replayer::xcfgset),
    write("XIDMPRECORD", 5, Replayer::xidmprecord),
    // geo.rs
    write("GEOADD", 5, Replayer::geoadd),
    write("GEORADIUS", 6, |r, a| r.geo_store(a, GeoStore::Radius)),
    write("GEORADIUSBYMEMBER", 5, |r, a| r.geo_store(a, GeoStore::RadiusByMember)),
    write("GEOSEARCHSTORE", 3, |r, a| r.geo_store(a, GeoStore::Search)),
    // hll.rs
    write("PFADD", 2, |r, a| r.hyperloglog(a, Hll::Add)),
    write("PFMERGE", 2, |r, a| r.hyperloglog(a, Hll::Merge)),
    write("PFCOUNT", 2, |r, a| r.hyperloglog(a, Hll::Count)),
    // sort.rs
    write("SORT", 2, Replayer::sort_store),
    // arrays.rs
    write("ARSET", 4, Replayer::arset),
    write("ARMSET", 4, Replayer::arset),
    write("ARDEL", 3, Replayer::ardel),
    write("ARSEEK", 3, Replayer::arseek),
    write("ARINSERT", 3, |r, a| r.arinsert(a, false)),
    write("ARRING", 4, |r, a| r.arinsert(a, true)),
    // functions.rs
    Command { name: "FUNCTION", arity: 2, run: Run::Container { subcommands: FUNCTION, otherwise: None } },
];

static XGROUP: &[Command] = &[
    write("CREATE", 5, Replayer::xgroup_create),
    write("SETID", 5, Replayer::xgroup_setid),
    write("DESTROY", 4, Replayer::xgroup_destroy),
    write("CREATECONSUMER", 5, Replayer::xgroup_createconsumer),
    write("DELCONSUMER", 5, Replayer::xgroup_delconsumer),
];

static FUNCTION: &[Command] = &[
    write("LOAD", 3, Replayer::function_load),
    write("RESTORE", 3, Replayer::function_restore),
    write("DELETE", 3, Replayer::function_delete),
    write("FLUSH", 1, Replayer::function_flush),
];

/// The command named `upper` (upper case), if the replay knows it.
pub(super) fn lookup(upper: &[u8]) -> Option<&'static Command> {
    static BY_NAME: OnceLock<HashMap<&'static [u8], &'static Command>> = OnceLock::new();
    BY_NAME.get_or_init(|| COMMANDS.iter().map(|c| (c.name.as_bytes(), c)).collect()).get(upper).copied()
}

/// A subcommand of a container, looked up as the server does (any case).
pub(super) fn subcommand(table: &'static [Command], word: &[u8]) -> Option<&'static Command> {
    table.iter().find(|c| word.eq_ignore_ascii_case(c.name.as_bytes()))
}

/// Fewer than `min` words: an arity error (the words the handler reads
/// are missing). The text is never shown: a loading server drops every
/// reply, errors included.
pub(super) fn check_arity(args: &Args<'_>, min: usize) -> Res {
    if args.len() < min {
        return Err(format!("ERR wrong number of arguments for '{}' command", String::from_utf8_lossy(args[0])));
    }
    Ok(())
}

/// The names of every command the replay knows, in table order (upper case).
pub fn command_names() -> Vec<&'static str> {
    COMMANDS.iter().map(|c| c.name).collect()
}

/// Is `name` (any case) a command the replay knows?
pub fn is_command(name: &[u8]) -> bool {
    // Runs once per command of a log: upper-cased on the stack.
    let mut upper = [0u8; 32];
    let Some(upper) = upper.get_mut(..name.len()) else { return false };
    upper.copy_from_slice(name);
    upper.make_ascii_uppercase();
    lookup(upper).is_some()
}

/// The subcommands the replay knows of a container command (FUNCTION,
/// XGROUP); none for another command.
pub fn subcommand_names(command: &str) -> Vec<&'static str> {
    match lookup(command.to_ascii_uppercase().as_bytes()).map(|c| &c.run) {
        Some(Run::Container { subcommands, .. }) => subcommands.iter().map(|c| c.name).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_upper_case_and_listed_once() {
        let names = command_names();
        assert_eq!(lookup(b"SET").map(|c| c.name), Some("SET"));
        assert!(lookup(b"set").is_none(), "lookups are by the upper-case name");
        for table in [COMMANDS, XGROUP, FUNCTION] {
            let mut seen = std::collections::BTreeSet::new();
            for c in table {
                assert_eq!(c.name, c.name.to_ascii_uppercase());
                assert!(seen.insert(c.name), "{} listed twice", c.name);
                assert!(c.arity >= 1, "{}", c.name);
            }
        }
        assert_eq!(names.len(), COMMANDS.len());
        assert_eq!(subcommand_names("function"), ["LOAD", "RESTORE", "DELETE", "FLUSH"]);
        assert!(subcommand_names("SET").is_empty());
    }
}
