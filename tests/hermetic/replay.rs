//! The AOF replay where no server is needed to judge it (the replay checked
//! against real servers: live::replay).

use rdb_tool::cmd::convert::{convert, ConvertConfig, ConvertTo};
use rdb_tool::error::ErrorKind;

/// Commands an AOF may hold that the replay cannot model (module commands):
/// it names them and stops, or skips and counts them with `--skip-unknown`.
const NOT_REPLAYED: [&str; 2] = ["JSON.SET", "BF.ADD"];

/// An AOF holding any of [`NOT_REPLAYED`] stops the conversion with the file, offset and command name;
/// `skip_unknown` goes on and reports how many were skipped.
#[test]
fn commands_the_replay_does_not_know_are_named() {
    let dir = std::env::temp_dir().join(format!("rdb-tool-gaps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in NOT_REPLAYED {
        let mut aof = Vec::new();
        let mut at = 0;
        for args in [vec!["SET", "before", "1"], vec![name, "k", "x"], vec!["SET", "after", "2"]] {
            if args[0] == name {
                at = aof.len() as u64;
            }
            rdb_tool::output::resp::put_command(&mut aof, &args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>());
        }
        let path = dir.join("gap.aof");
        std::fs::write(&path, &aof).unwrap();
        let mut cfg = ConvertConfig::new(&path, ConvertTo::Rdb);
        let err = convert(&cfg, &mut Vec::new()).expect_err(name);
        assert!(matches!(err.kind, ErrorKind::Unsupported(_)), "{name}: {err}");
        assert_eq!(err.offset, Some(at), "{name}: offset of the command");
        assert!(err.to_string().contains(name) && err.to_string().contains("gap.aof"), "{err}");
        cfg.skip_unknown = true;
        let report = convert(&cfg, &mut Vec::new()).unwrap();
        assert_eq!(report.keys, 2, "{name}: the other commands still replay");
        assert!(report.notes.iter().any(|n| n.contains(&format!("1 {name} commands skipped"))), "{:?}", report.notes);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
