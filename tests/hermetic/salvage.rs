//! `salvage` on seeded random damage to the bundled fixtures (bits, bytes,
//! zeroed, spliced and random spans, cuts): the fuzz target's properties,
//! run in the suite. Never a panic; whatever is written passes the full
//! check and holds the keys the report counts.
//! - Bits, bytes, zeroed and copied spans, cuts: every key whose record the
//!   damage did not touch is there, as in the fixture. (Random bytes can
//!   read as a whole record that swallows the next ones: not asked there.)
//! - Bits, bytes and cuts: no key is there that the fixture does not hold.
//!   Zeroed and copied spans can leave one: reading past them from the
//!   middle of a hash or set stored as a table, its fields read as string
//!   keys (RDB has no sync markers). Those are counted, and held to the
//!   measured rate.
//!
//! Damage that no check can see (bytes inside a string) stays in the key it
//! hit, kept as read, as the report says.
//!
//! Each damaged copy is also salvaged with the file cut into segments walked
//! in parallel (a few hundred bytes each, so that damage lands near cuts and
//! walks resync past them): the output must be the sequential walk's, byte
//! for byte.

use crate::common;
use rdb_tool::cmd::check::check_file;
use rdb_tool::cmd::salvage::{salvage, SalvageConfig};
use rdb_tool::event::ReaderOptions;
use std::path::Path;

fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn random_damage_to_the_fixtures_salvages_to_their_keys_only() {
    let scratch = common::Scratch::new("salvage-random");
    let mut seed = 0x0bad_5eed_u64;
    let (mut runs, mut written, mut failures, mut foreign) = (0, 0, Vec::new(), Vec::new());
    for name in ["sample_v12.rdb", "all_types_v9.rdb", "all_types_v14.rdb", "all_types_valkey80.rdb"] {
        let original = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rdb").join(name);
        let bytes = std::fs::read(&original).unwrap();
        let intact = common::records::dump_keys(&original);
        let spans = common::records::key_spans(&original);
        for round in 0..60 {
            let mut damaged = bytes.clone();
            let at = (next(&mut seed) % bytes.len() as u64) as usize;
            let len = [1usize, 3, 17, 100, 1000][round % 5].min(bytes.len() - at);
            let kind = round % 6;
            match kind {
                0 => damaged[at] ^= 1 << (next(&mut seed) % 8),
                1 => damaged[at] ^= (next(&mut seed) % 255 + 1) as u8,
                2 => damaged[at..at + len].fill(0),
                3 => {
                    let from = (next(&mut seed) % (bytes.len() - len) as u64) as usize;
                    damaged[at..at + len].copy_from_slice(&bytes[from..from + len]);
                }
                4 => damaged[at..at + len].iter_mut().for_each(|b| *b = next(&mut seed) as u8),
                _ => damaged.truncate(at),
            }
            let input = scratch.0.join("damaged.rdb");
            std::fs::write(&input, &damaged).unwrap();
            let sequential = ReaderOptions { segment_bytes: u64::MAX, ..Default::default() };
            let cfg = SalvageConfig { input: input.clone(), reader: sequential, now_ms: Some(0) };
            let mut out = Vec::new();
            runs += 1;
            let what = format!("{name} round {round} (kind {kind}, at {at}, {len} bytes)");
            let cut =
                SalvageConfig { reader: ReaderOptions { segment_bytes: 64, ..Default::default() }, ..cfg.clone() };
            let mut cut_out = Vec::new();
            let cut_report = salvage(&cut, Some(&mut cut_out));
            let Ok(report) = salvage(&cfg, Some(&mut out)) else {
                if cut_report.is_ok() {
                    failures.push(format!("{what}: salvaged only when cut into segments"));
                }
                continue;
            };
            written += 1;
            if cut_out != out || cut_report.as_ref().map(|r| r.keys).ok() != Some(report.keys) {
                failures.push(format!("{what}: cut into segments, the salvage differs from the sequential one"));
            }
            let output = scratch.0.join("out.rdb");
            std::fs::write(&output, &out).unwrap();
            let check = check_file(&output, ReaderOptions::default(), Some(0));
            if check.error.is_some() || check.keys != report.keys {
                failures.push(format!("{what}: check {:?}, {} keys against {}", check.error, check.keys, report.keys));
                continue;
            }
            let salvaged = common::records::dump_keys(&output);
            let touched = at as u64..(if kind == 5 { u64::MAX } else { (at + len) as u64 });
            if kind == 4 {
                continue;
            }
            for (start, end, db, key) in &spans {
                let k = (*db, common::records::key_text(key));
                let untouched = end.min(&touched.end) <= start.max(&touched.start);
                if untouched && salvaged.get(&k) != intact.get(&k) {
                    failures.push(format!("{what}: untouched key {k:?} lost or changed"));
                }
            }
            if let Some(k) = salvaged.keys().find(|k| !intact.contains_key(*k)) {
                match kind {
                    2 | 3 => foreign.push(format!("{what}: {k:?}")),
                    _ => failures.push(format!("{what}: key {k:?} is in none of the fixture's records")),
                }
            }
        }
    }
    eprintln!("{runs} damaged copies, {written} salvaged; keys from the middle of a value: {foreign:?}");
    // 80 zeroed or copied spans: 2 such keys, as measured (see above).
    assert!(foreign.len() <= 2, "{} salvages hold keys from the middle of a value", foreign.len());
    assert!(written * 2 > runs, "{written} of {runs} salvaged");
    assert!(failures.is_empty(), "{} of {runs}:\n{}", failures.len(), failures.join("\n"));
}

/// A block of whole records copied over others (a misplaced write): read
/// past as damage, its records are keys stored elsewhere in the file, which
/// the server would refuse to load twice. Each is kept once, where the file
/// stores it, and the copy is named; every key outside the block is kept
/// as it was.
#[test]
fn a_block_of_records_copied_over_others_keeps_each_key_once() {
    use rdb_tool::cmd::salvage::Outcome;
    let scratch = common::Scratch::new("salvage-splice");
    let records: Vec<Vec<u8>> =
        (0..400).map(|i| common::build::string_key(&format!("key:{i:03}"), &format!("value {i}"))).collect();
    let bytes = common::build::rdb(9, &[vec![vec![0xfe, 0x00]], records.clone()].concat());
    let offset_of = |i: usize| 9 + 2 + records[..i].iter().map(Vec::len).sum::<usize>();
    let original = scratch.0.join("original.rdb");
    std::fs::write(&original, &bytes).unwrap();
    // Records 50..150, copied from 5 bytes into record 250 on.
    let block = bytes[offset_of(50)..offset_of(150)].to_vec();
    let at = offset_of(250) + 5;
    let mut damaged = bytes.clone();
    damaged[at..at + block.len()].copy_from_slice(&block);
    let input = scratch.0.join("damaged.rdb");
    std::fs::write(&input, &damaged).unwrap();
    let cfg = SalvageConfig { input, reader: ReaderOptions::default(), now_ms: Some(0) };
    let mut out = Vec::new();
    let report = salvage(&cfg, Some(&mut out)).unwrap();
    let Outcome::Resynced(walked) = &report.outcome else { panic!("{:?}", report.outcome) };
    let output = scratch.0.join("out.rdb");
    std::fs::write(&output, &out).unwrap();
    let check = check_file(&output, ReaderOptions::default(), Some(0));
    assert!(check.error.is_none(), "{:?}", check.error);
    assert_eq!(check.keys, report.keys);
    // The copies dropped are the block's, each named with where the kept one is.
    assert!(walked.dropped_copies.len() >= 90, "{} copies dropped", walked.dropped_copies.len());
    for copy in &walked.dropped_copies {
        let i: usize = String::from_utf8_lossy(&copy.key)["key:".len()..].parse().unwrap();
        assert!((50..150).contains(&i), "{copy:?}");
        assert_eq!(copy.kept_at, offset_of(i) as u64, "{copy:?}");
        // (The first may start a few bytes early: here 'k', 'e', 'y' of the
        // record the block overwrote read as an LRU opcode before it.)
        assert!((at - 3..at + block.len()).contains(&(copy.offset as usize)), "{copy:?}");
    }
    // Every key outside the block kept as it was, none added.
    let (intact, salvaged) = (common::records::dump_keys(&original), common::records::dump_keys(&output));
    for i in (0..400).filter(|&i| offset_of(i + 1) <= at || offset_of(i) >= at + block.len()) {
        let k = (0, format!("key:{i:03}"));
        assert_eq!(salvaged.get(&k), intact.get(&k), "{k:?}");
    }
    assert!(salvaged.keys().all(|k| intact.contains_key(k)));
}

/// `salvage` of an AOF on seeded random damage to the bundled 6.2 log
/// (bits, bytes, zeroed and random spans, inserted bytes, cuts): never a
/// panic; what is written passes the check with the commands the report
/// counts; every command in it is one of the log's, byte for byte (or a
/// SELECT, MULTI or EXEC the salvage put back), never more often than
/// there; and every command the damage did not reach is kept (except a
/// transaction a cut leaves open, which the server drops too).
#[test]
fn random_damage_to_an_aof_keeps_exactly_its_undamaged_commands() {
    use rdb_tool::cmd::check::aof::{check_aof, AofCheckOptions};
    use rdb_tool::cmd::salvage::aof::{salvage_aof, AofTarget};
    use rdb_tool::source::Source;
    use rdb_tool::token::resp::{parse_aof_item, AofItem};
    use std::collections::HashMap;
    let scratch = common::Scratch::new("salvage-aof-random");
    let original = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/aof/plain_v62.aof")).unwrap();
    let records = |bytes: &[u8]| {
        let (mut at, mut out) = (0, Vec::new());
        while let Ok((rest, item)) = parse_aof_item(&bytes[at..]) {
            let end = bytes.len() - rest.len();
            if let AofItem::Command(c) = item {
                out.push((at, end, c.raw.to_vec(), c.name.to_ascii_uppercase()));
            }
            at = end;
        }
        out
    };
    let commands = records(&original);
    let mut seed = 0xa0f_0001_u64;
    let (mut runs, mut failures) = (0, Vec::new());
    for round in 0..1000 {
        let mut damaged = original.clone();
        let at = (next(&mut seed) % original.len() as u64) as usize;
        let len = [1usize, 3, 17, 100, 1000][round % 5].min(original.len() - at);
        let kind = round % 6;
        match kind {
            0 => damaged[at] ^= 1 << (next(&mut seed) % 8),
            1 => damaged[at] ^= (next(&mut seed) % 255 + 1) as u8,
            2 => damaged[at..at + len].fill(0),
            3 => damaged[at..at + len].iter_mut().for_each(|b| *b = next(&mut seed) as u8),
            4 => {
                let junk: Vec<u8> = (0..len).map(|_| next(&mut seed) as u8).collect();
                damaged.splice(at..at, junk);
            }
            _ => damaged.truncate(at),
        }
        let input = scratch.0.join("damaged.aof");
        std::fs::write(&input, &damaged).unwrap();
        let Ok(source) = Source::open(&input) else { continue };
        if !source.kind().is_aof() {
            continue;
        }
        let cfg = rdb_tool::cmd::salvage::SalvageConfig {
            input: input.clone(),
            reader: ReaderOptions::default(),
            now_ms: Some(0),
        };
        let mut out = Vec::new();
        let name = format!("round {round} (kind {kind}, {len} bytes at {at})");
        let report = match salvage_aof(&cfg, &source, AofTarget::File(&mut out)) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        runs += 1;
        let written = scratch.0.join("salvaged.aof");
        std::fs::write(&written, &out).unwrap();
        let check = check_aof(&Source::open(&written).unwrap(), &AofCheckOptions::default());
        if let Some(e) = check.first_error() {
            failures.push(format!("{name}: the output fails its check: {e}"));
            continue;
        }
        let expected_count = if report.intact() { check.commands() } else { report.commands_written() };
        if check.commands() != expected_count {
            failures.push(format!("{name}: {} commands where the report counts {expected_count}", check.commands()));
        }
        if report.intact() {
            continue; // Damage inside a payload: a copy, as the report says.
        }
        let mut available: HashMap<&[u8], usize> = HashMap::new();
        for (_, _, raw, _) in &commands {
            *available.entry(raw.as_slice()).or_default() += 1;
        }
        for (_, _, raw, name_) in records(&out) {
            match available.get_mut(raw.as_slice()) {
                Some(n) if *n > 0 => *n -= 1,
                _ if matches!(name_.as_slice(), b"SELECT" | b"MULTI" | b"EXEC") => {}
                _ => failures
                    .push(format!("{name}: a command the log does not hold: {:?}", String::from_utf8_lossy(&raw))),
            }
        }
        // Every command the damage did not reach (in the original's offsets).
        let reached = |s: usize, e: usize| match kind {
            4 => s < at && at < e,
            5 => e > at,
            _ => s < at + len && e > at,
        };
        let mut kept = records(&out).into_iter().map(|c| c.2).collect::<Vec<_>>().into_iter();
        let open_at_cut = (kind == 5)
            .then(|| {
                let before: Vec<_> = commands.iter().filter(|c| c.1 <= at).collect();
                let m = before.iter().rposition(|c| c.3 == b"MULTI")?;
                (!before[m..].iter().any(|c| c.3 == b"EXEC")).then_some(before[m].0)
            })
            .flatten();
        for (s, e, raw, name_) in &commands {
            if reached(*s, *e) || open_at_cut.is_some_and(|m| *s >= m) || matches!(name_.as_slice(), b"MULTI" | b"EXEC")
            {
                continue;
            }
            if !kept.any(|k| &k == raw) {
                failures.push(format!("{name}: the undamaged command at {s} is missing"));
                break;
            }
        }
    }
    assert!(runs >= 800, "{runs} runs");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
