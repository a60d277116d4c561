//! `salvage` of an arbitrary single-file AOF (written to a temporary file:
//! salvage reads files): never panics; whatever it writes passes the AOF
//! check with the commands its report counts, and keeps no more commands
//! than the input has command starts. Slow (a file per run): seed it with
//! the bundled AOFs and the corpus' damaged copies.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdb_tool::cmd::check::aof::{check_aof, AofCheckOptions};
use rdb_tool::cmd::salvage::aof::{salvage_aof, AofTarget};
use rdb_tool::cmd::salvage::SalvageConfig;
use rdb_tool::event::ReaderOptions;
use rdb_tool::source::Source;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("rdb-tool-fuzz-salvage-aof-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let input = dir.join("input.aof");
    std::fs::write(&input, data).unwrap();
    let Ok(source) = Source::open(&input) else { return };
    if !source.kind().is_aof() {
        return;
    }
    let cfg = SalvageConfig { input: input.clone(), reader: ReaderOptions::default(), now_ms: Some(0) };
    let mut out = Vec::new();
    if let Ok(report) = salvage_aof(&cfg, &source, AofTarget::File(&mut out)) {
        let written = dir.join("output.aof");
        std::fs::write(&written, &out).unwrap();
        let check = check_aof(&Source::open(&written).unwrap(), &AofCheckOptions::default());
        assert!(check.first_error().is_none(), "the salvage fails its check: {:?}", check.first_error());
        if !report.intact() {
            assert_eq!(check.commands(), report.commands_written(), "other commands than the report counts");
            let kept: u64 = report.files.iter().map(|f| f.commands_kept).sum();
            assert!(kept <= data.iter().filter(|&&b| b == b'*').count() as u64);
        }
    }
});
