//! Which arguments of a logged command name keys: for saying what a
//! command that `salvage` had to skip touched. It follows the key positions
//! of Redis's command table (the `firstkey`, `lastkey`, `step` that
//! `COMMAND INFO` gives, and the `numkeys` argument where the keys are
//! counted), for the commands an AOF holds; a command it does not know is
//! taken to name one key, its first argument, as most write commands do.

/// What a command touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touched<'a> {
    /// These keys (of the database selected when it runs).
    Keys(Vec<&'a [u8]>),
    /// Every key of one database or of all (FLUSHDB, FLUSHALL, SWAPDB).
    Everything,
}

/// The keys `args` (the name first, as logged) touches; arguments that were
/// not read are simply absent (a damaged command lists what could be read).
pub fn touched<'a>(args: &[&'a [u8]]) -> Touched<'a> {
    let Some(name) = args.first() else { return Touched::Keys(Vec::new()) };
    let name = name.to_ascii_uppercase();
    let from = |first: usize| args.iter().skip(first).copied().collect::<Vec<_>>();
    // `numkeys` at `at`, the keys right after it.
    let counted = |at: usize| {
        let n = args.get(at).and_then(|n| std::str::from_utf8(n).ok()).and_then(|n| n.parse::<usize>().ok());
        n.map_or_else(Vec::new, |n| args.iter().skip(at + 1).take(n).copied().collect())
    };
    let keys = match name.as_slice() {
        b"SELECT" | b"MULTI" | b"EXEC" | b"DISCARD" | b"PING" | b"ECHO" | b"PUBLISH" | b"SPUBLISH" | b"FUNCTION"
        | b"SCRIPT" => Vec::new(),
        b"FLUSHDB" | b"FLUSHALL" | b"SWAPDB" => return Touched::Everything,
        b"DEL" | b"UNLINK" | b"TOUCH" | b"EXISTS" | b"PFMERGE" | b"SINTERSTORE" | b"SUNIONSTORE" | b"SDIFFSTORE" => {
            from(1)
        }
        b"MSET" | b"MSETNX" => args.iter().skip(1).step_by(2).copied().collect(),
        b"RENAME" | b"RENAMENX" | b"COPY" | b"SMOVE" | b"LMOVE" | b"BLMOVE" | b"RPOPLPUSH" | b"BRPOPLPUSH"
        | b"GEOSEARCHSTORE" | b"ZRANGESTORE" => args.iter().skip(1).take(2).copied().collect(),
        b"BITOP" => from(2),
        b"ZUNIONSTORE" | b"ZINTERSTORE" | b"ZDIFFSTORE" => args.get(1).copied().into_iter().chain(counted(2)).collect(),
        b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL" | b"FCALL_RO" => counted(2),
        b"LMPOP" | b"ZMPOP" => counted(1),
        b"BLMPOP" | b"BZMPOP" => counted(2),
        // A container: the subcommand first, then the key.
        b"XGROUP" => args.get(2).copied().into_iter().collect(),
        b"SORT" | b"SORT_RO" => {
            let store = args.iter().position(|a| a.eq_ignore_ascii_case(b"store")).and_then(|i| args.get(i + 1));
            args.get(1).copied().into_iter().chain(store.copied()).collect()
        }
        _ => args.get(1).copied().into_iter().collect(),
    };
    Touched::Keys(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys<'a>(args: &[&'a str]) -> Touched<'a> {
        touched(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>())
    }

    fn some<'a>(k: &[&'a str]) -> Touched<'a> {
        Touched::Keys(k.iter().map(|k| k.as_bytes()).collect())
    }

    #[test]
    fn key_positions_follow_the_command_table() {
        assert_eq!(keys(&["set", "k", "v"]), some(&["k"]));
        assert_eq!(keys(&["SELECT", "3"]), some(&[]));
        assert_eq!(keys(&["DEL", "a", "b"]), some(&["a", "b"]));
        assert_eq!(keys(&["MSET", "a", "1", "b", "2"]), some(&["a", "b"]));
        assert_eq!(keys(&["RENAME", "a", "b"]), some(&["a", "b"]));
        assert_eq!(keys(&["BITOP", "AND", "d", "s1", "s2"]), some(&["d", "s1", "s2"]));
        assert_eq!(keys(&["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"]), some(&["d", "a", "b"]));
        assert_eq!(keys(&["FCALL", "f", "1", "k", "arg"]), some(&["k"]));
        assert_eq!(keys(&["FLUSHALL"]), Touched::Everything);
        assert_eq!(keys(&["XGROUP", "DELCONSUMER", "s", "g", "c"]), some(&["s"]));
        assert_eq!(keys(&["SORT", "l", "BY", "nosort", "STORE", "d"]), some(&["l", "d"]));
        assert_eq!(keys(&["LMPOP", "2", "a", "b", "LEFT"]), some(&["a", "b"]));
        // Read only in part: what was read.
        assert_eq!(keys(&["HSET"]), some(&[]));
        assert_eq!(keys(&["ZUNIONSTORE", "d", "x"]), some(&["d"]));
    }
}
