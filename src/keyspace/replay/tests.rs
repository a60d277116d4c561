//! Tests of the replay across families: expiry arithmetic (every unit goes
//! through `Replayer::absolute_ms`) and what the command table decides.

use super::{Outcome, OwnedValue, Replayer};
use crate::event::StreamId;

pub(super) fn run(r: &mut Replayer, args: &[&str]) -> Outcome {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    r.apply(&args)
}

fn field_ttl(r: &mut Replayer, key: &str, field: &str) -> Option<Option<i64>> {
    match &r.keyspace.db(0).get(key.as_bytes())?.obj {
        OwnedValue::Hash(h) => h.get(field.as_bytes()).map(|(_, t)| *t),
        other => panic!("{key} is not a hash: {other:?}"),
    }
}

fn key_ttl(r: &mut Replayer, key: &str) -> Option<Option<i64>> {
    r.keyspace.db(0).get(key.as_bytes()).map(|e| e.expire_at_ms)
}

/// While loading, the server sets a time already past instead of
/// expiring (expire.c `checkAlreadyExpired` is false while
/// `server.loading`): fields and keys stay, with that TTL. A fixed clock
/// (1 000 000 ms) makes every time below lie in the past.
#[test]
fn times_in_the_past_are_kept_as_the_loading_server_keeps_them() {
    const NOW: i64 = 1_000_000;
    let mut r = Replayer::at(NOW);
    run(&mut r, &["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"]);
    assert_eq!(run(&mut r, &["HPEXPIREAT", "h", "5000", "FIELDS", "1", "a"]), Outcome::Applied);
    assert_eq!(run(&mut r, &["HEXPIREAT", "h", "7", "FIELDS", "1", "b"]), Outcome::Applied);
    assert_eq!(run(&mut r, &["HPEXPIRE", "h", "0", "FIELDS", "1", "c"]), Outcome::Applied);
    assert_eq!(run(&mut r, &["HEXPIRE", "h", "0", "FIELDS", "1", "e"]), Outcome::Applied);
    assert_eq!(field_ttl(&mut r, "h", "a"), Some(Some(5000)));
    assert_eq!(field_ttl(&mut r, "h", "b"), Some(Some(7000)));
    assert_eq!(field_ttl(&mut r, "h", "c"), Some(Some(NOW)), "HPEXPIRE 0 is now");
    assert_eq!(field_ttl(&mut r, "h", "d"), Some(None));
    assert_eq!(field_ttl(&mut r, "h", "e"), Some(Some(NOW)));
    // Every field of a hash past its time: the hash stays too.
    run(&mut r, &["HSET", "one", "f", "v"]);
    run(&mut r, &["HPEXPIREAT", "one", "1", "FIELDS", "1", "f"]);
    assert_eq!(field_ttl(&mut r, "one", "f"), Some(Some(1)));
    // HSETEX and HGETEX with a time already past.
    assert_eq!(run(&mut r, &["HSETEX", "hs", "PXAT", "2000", "FIELDS", "2", "x", "1", "y", "2"]), Outcome::Applied);
    assert_eq!(field_ttl(&mut r, "hs", "x"), Some(Some(2000)));
    assert_eq!(field_ttl(&mut r, "hs", "y"), Some(Some(2000)));
    assert_eq!(run(&mut r, &["HSETEX", "hs", "EX", "1", "FIELDS", "1", "z", "3"]), Outcome::Applied);
    assert_eq!(field_ttl(&mut r, "hs", "z"), Some(Some(NOW + 1000)), "EX counts from --now");
    assert_eq!(run(&mut r, &["HGETEX", "hs", "PXAT", "3000", "FIELDS", "2", "x", "missing"]), Outcome::Applied);
    assert_eq!(field_ttl(&mut r, "hs", "x"), Some(Some(3000)));
    assert_eq!(field_ttl(&mut r, "hs", "missing"), None, "HGETEX creates no field");
    assert_eq!(run(&mut r, &["HGETEX", "hs", "PERSIST", "FIELDS", "1", "y"]), Outcome::Applied);
    assert_eq!(field_ttl(&mut r, "hs", "y"), Some(None));
    // What the server refuses changes nothing.
    assert!(matches!(run(&mut r, &["HPEXPIREAT", "h", "-1", "FIELDS", "1", "d"]), Outcome::Error(_)));
    assert!(matches!(run(&mut r, &["HPEXPIREAT", "h", "281474976710656", "FIELDS", "1", "d"]), Outcome::Error(_)));
    assert_eq!(field_ttl(&mut r, "h", "d"), Some(None));
    // Keys: SET … PXAT/EXAT, PEXPIREAT/EXPIREAT, RESTORE … ABSTTL in the past.
    assert_eq!(run(&mut r, &["SET", "s", "v", "PXAT", "1234"]), Outcome::Applied);
    assert_eq!(key_ttl(&mut r, "s"), Some(Some(1234)));
    assert_eq!(run(&mut r, &["SET", "s2", "v", "EXAT", "2"]), Outcome::Applied);
    assert_eq!(key_ttl(&mut r, "s2"), Some(Some(2000)));
    run(&mut r, &["SET", "p", "v"]);
    assert_eq!(run(&mut r, &["PEXPIREAT", "p", "99"]), Outcome::Applied);
    assert_eq!(key_ttl(&mut r, "p"), Some(Some(99)));
    run(&mut r, &["SET", "e", "v"]);
    assert_eq!(run(&mut r, &["EXPIREAT", "e", "3"]), Outcome::Applied);
    assert_eq!(key_ttl(&mut r, "e"), Some(Some(3000)));
    // Relative times count from the replay's clock.
    assert_eq!(run(&mut r, &["SETEX", "x", "10", "v"]), Outcome::Applied);
    assert_eq!(key_ttl(&mut r, "x"), Some(Some(NOW + 10_000)));
    assert_eq!(run(&mut r, &["EXPIRE", "x", "-5"]), Outcome::Applied);
    assert_eq!(key_ttl(&mut r, "x"), Some(Some(NOW - 5_000)), "a negative EXPIRE is kept while loading");
    assert_eq!(run(&mut r, &["XADD", "st", "*", "f", "v"]), Outcome::Applied);
    match &r.keyspace.db(0)[b"st".as_slice()].obj {
        OwnedValue::Stream(s) => assert_eq!(s.meta.last_id, StreamId { ms: NOW as u64, seq: 0 }, "XADD * takes --now"),
        other => panic!("not a stream: {other:?}"),
    }
}

/// Inside MULTI a command is queued only if the table has it; a container's
/// unknown subcommand (FUNCTION LIST) is queued and makes EXEC unknown, an
/// arity error is counted at EXEC.
#[test]
fn transactions_queue_what_the_table_knows() {
    let mut r = Replayer::at(0);
    assert_eq!(run(&mut r, &["MULTI"]), Outcome::Applied);
    assert_eq!(run(&mut r, &["set", "k", "v"]), Outcome::Applied);
    assert_eq!(run(&mut r, &["NOSUCH", "k"]), Outcome::Unknown);
    assert_eq!(run(&mut r, &["RPUSH", "l"]), Outcome::Applied, "arity is checked when run");
    assert_eq!(run(&mut r, &["EXEC"]), Outcome::Applied);
    assert_eq!(r.errors, 1);
    assert!(r.keyspace.db(0).contains_key(b"k".as_slice()));
    run(&mut r, &["MULTI"]);
    assert_eq!(run(&mut r, &["FUNCTION", "LIST"]), Outcome::Applied);
    assert_eq!(run(&mut r, &["EXEC"]), Outcome::Unknown);
    assert_eq!(run(&mut r, &["EXEC"]), Outcome::Error("ERR EXEC without MULTI".into()));
    assert_eq!(run(&mut r, &["xgroup", "NOSUCH", "s", "g"]), Outcome::Error("ERR unknown XGROUP subcommand".into()));
    assert_eq!(
        run(&mut r, &["Function", "delete"]),
        Outcome::Error("ERR wrong number of arguments for 'Function' command".into()),
        "the arity error names the command as written"
    );
}

/// Pending entries name their owner by its place among the group's consumers:
/// XGROUP DELCONSUMER takes the consumer's entries away (t_stream.c
/// `streamDelConsumer`) and leaves the later consumers' entries theirs.
#[test]
fn a_deleted_consumer_takes_only_its_own_pending_entries() {
    let mut r = Replayer::at(1_000);
    for id in ["1-1", "2-1", "3-1"] {
        run(&mut r, &["XADD", "s", id, "f", "v"]);
    }
    run(&mut r, &["XGROUP", "CREATE", "s", "g", "0"]);
    for (consumer, id) in [("alice", "1-1"), ("bob", "2-1"), ("carol", "3-1")] {
        assert_eq!(run(&mut r, &["XCLAIM", "s", "g", consumer, "0", id, "FORCE"]), Outcome::Applied);
    }
    assert_eq!(run(&mut r, &["XGROUP", "DELCONSUMER", "s", "g", "bob"]), Outcome::Applied);
    let OwnedValue::Stream(s) = &r.keyspace.db(0)[b"s".as_slice()].obj else { panic!("s is a stream") };
    let g = &s.meta.groups[0];
    let owners: Vec<(String, Option<&[u8]>)> = g.pending.iter().map(|(id, p)| (id.to_string(), g.owner(p))).collect();
    assert_eq!(owners, [("1-1".into(), Some(b"alice".as_slice())), ("3-1".into(), Some(b"carol".as_slice()))]);
    assert_eq!(g.consumer_pels(), [vec![StreamId { ms: 1, seq: 1 }], vec![StreamId { ms: 3, seq: 1 }]]);
}
