//! `salvage` of an arbitrary file (written to a temporary file: salvage reads
//! files): never panics; whatever it writes passes the full check and holds
//! exactly the keys its report counts, and never more keys than records it
//! could frame in the input. Slow (a file per run): seed it with whole RDB
//! files and their damaged copies.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdb_tool::cmd::check::check_file;
use rdb_tool::cmd::salvage::{salvage, SalvageConfig};
use rdb_tool::event::ReaderOptions;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("rdb-tool-fuzz-salvage-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let input = dir.join("input.rdb");
    std::fs::write(&input, data).unwrap();
    let cfg = SalvageConfig { input: input.clone(), reader: ReaderOptions::default(), now_ms: Some(0) };
    let mut out = Vec::new();
    if let Ok(report) = salvage(&cfg, Some(&mut out)) {
        let written = dir.join("output.rdb");
        std::fs::write(&written, &out).unwrap();
        let check = check_file(&written, ReaderOptions::default(), Some(0));
        assert!(check.error.is_none(), "the salvage fails its check: {:?}", check.error);
        assert_eq!(check.keys, report.keys, "the salvage holds other keys than its report counts");
        // A key takes at least 3 bytes (type, empty name, empty value).
        assert!(report.keys <= data.len() as u64 / 3);
    }
});
