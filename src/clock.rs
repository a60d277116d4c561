//! The one place that reads the system clock. Every result that depends on
//! the time (relative TTLs in a replayed AOF, "already expired" counts,
//! `dump --no-expired`) takes the time as an input, `--now MS`, whose default
//! is this clock; tests pin it so that they hold on any date.

/// The system clock in Unix milliseconds.
pub fn system_now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
