//! AOF replay on arbitrary commands: never panics, whatever the arguments. The
//! input is split into commands (NUL separates arguments, newline commands),
//! with the command names drawn from the replayed set so the fuzzer reaches
//! their argument handling quickly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdb_tool::keyspace::replay::Replayer;

const NAMES: &[&str] = &[
    "SET", "SETNX", "SETEX", "PSETEX", "GETSET", "GETDEL", "MSET", "MSETNX", "APPEND", "SETRANGE", "INCR", "DECR",
    "INCRBY", "DECRBY", "INCRBYFLOAT", "DEL", "UNLINK", "RENAME", "RENAMENX", "MOVE", "COPY", "SWAPDB", "FLUSHDB",
    "FLUSHALL", "EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "PERSIST", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX", "LPOP",
    "RPOP", "RPOPLPUSH", "LMOVE", "LSET", "LTRIM", "LREM", "LINSERT", "SADD", "SREM", "SMOVE", "SINTERSTORE",
    "SUNIONSTORE", "SDIFFSTORE", "ZADD", "ZINCRBY", "ZREM", "ZPOPMIN", "ZPOPMAX", "ZREMRANGEBYRANK",
    "ZREMRANGEBYSCORE", "ZREMRANGEBYLEX", "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "ZRANGESTORE", "SORT", "SETBIT",
    "BITOP", "BITFIELD", "HSET", "HMSET", "HSETNX", "HDEL", "HINCRBY", "HINCRBYFLOAT", "HPEXPIREAT", "HEXPIRE",
    "HPERSIST", "HSETEX", "XADD", "XDEL", "XTRIM", "XSETID", "XGROUP", "XACK", "XCLAIM", "RESTORE", "FUNCTION",
    "SELECT", "MULTI", "EXEC", "DISCARD",
];

fuzz_target!(|data: &[u8]| {
    let mut r = Replayer::new();
    for line in data.split(|&b| b == b'\n').take(200) {
        let mut parts = line.split(|&b| b == 0);
        let Some(first) = parts.next() else { continue };
        let name = NAMES[first.first().copied().unwrap_or(0) as usize % NAMES.len()].as_bytes();
        let mut args: Vec<&[u8]> = vec![name];
        args.extend(parts.take(12));
        let _ = r.apply(&args);
    }
});
