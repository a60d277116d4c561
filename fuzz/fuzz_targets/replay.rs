//! AOF replay on arbitrary commands: never panics, whatever the arguments. The
//! input is split into commands (NUL separates arguments, newline commands),
//! with the command (and for FUNCTION / XGROUP the subcommand) drawn from the
//! replay's own command table, so every command the replay knows is reached
//! by name and the fuzzer gets to its argument handling quickly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdb_tool::keyspace::replay::{command_names, subcommand_names, Replayer};
use std::sync::OnceLock;

/// Every command's leading words: the name alone, and for a container each
/// of its subcommands after the name.
fn commands() -> &'static [Vec<&'static str>] {
    static COMMANDS: OnceLock<Vec<Vec<&'static str>>> = OnceLock::new();
    COMMANDS.get_or_init(|| {
        let mut all = Vec::new();
        for name in command_names() {
            all.push(vec![name]);
            all.extend(subcommand_names(name).into_iter().map(|sub| vec![name, sub]));
        }
        all
    })
}

fuzz_target!(|data: &[u8]| {
    let commands = commands();
    let mut r = Replayer::new();
    for line in data.split(|&b| b == b'\n').take(200) {
        let mut parts = line.split(|&b| b == 0);
        let Some(first) = parts.next() else { continue };
        let words = &commands[first.first().copied().unwrap_or(0) as usize % commands.len()];
        let mut args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        args.extend(parts.take(12));
        let _ = r.apply(&args);
    }
});
