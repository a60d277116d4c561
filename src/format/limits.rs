//! The size limits a server uses to choose a compact encoding, as its
//! configuration sets them.

/// The size limits Redis uses to choose a compact encoding (redis.conf names,
/// defaults as Redis 7.x).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingLimits {
    pub hash_max_listpack_entries: u64,
    pub hash_max_listpack_value: u64,
    pub set_max_intset_entries: u64,
    pub set_max_listpack_entries: u64,
    pub set_max_listpack_value: u64,
    pub zset_max_listpack_entries: u64,
    pub zset_max_listpack_value: u64,
    /// `list-max-listpack-size`: > 0 entries per node; −1…−5 = 4/8/16/32/64 KiB.
    pub list_max_listpack_size: i64,
    pub stream_node_max_bytes: u64,
    pub stream_node_max_entries: u64,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_max_listpack_size: -2,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
        }
    }
}

impl EncodingLimits {
    /// Read the limits from a redis.conf: the `*-listpack-*` names and their
    /// older `*-ziplist-*` aliases, `set-max-intset-entries`,
    /// `list-max-listpack-size`, `stream-node-max-*`; everything else is
    /// ignored. Unset limits keep Redis's defaults.
    pub fn from_redis_conf(text: &str) -> std::result::Result<Self, String> {
        EncodingLimits::default().with_redis_conf(text)
    }

    /// These limits, with those a redis.conf sets replaced (see
    /// [`EncodingLimits::from_redis_conf`]).
    pub fn with_redis_conf(self, text: &str) -> std::result::Result<Self, String> {
        let mut l = self;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(name), Some(value)) = (words.next(), words.next()) else { continue };
            let name = name.to_ascii_lowercase().replace("ziplist", "listpack");
            let num = || value.parse::<i64>().map_err(|_| format!("line {}: {name}: not a number: {value}", n + 1));
            let unsigned =
                || num().and_then(|v| u64::try_from(v).map_err(|_| format!("line {}: {name}: negative", n + 1)));
            match name.as_str() {
                "hash-max-listpack-entries" => l.hash_max_listpack_entries = unsigned()?,
                "hash-max-listpack-value" => l.hash_max_listpack_value = unsigned()?,
                "set-max-intset-entries" => l.set_max_intset_entries = unsigned()?,
                "set-max-listpack-entries" => l.set_max_listpack_entries = unsigned()?,
                "set-max-listpack-value" => l.set_max_listpack_value = unsigned()?,
                "zset-max-listpack-entries" => l.zset_max_listpack_entries = unsigned()?,
                "zset-max-listpack-value" => l.zset_max_listpack_value = unsigned()?,
                "list-max-listpack-size" => l.list_max_listpack_size = num()?,
                "stream-node-max-bytes" => l.stream_node_max_bytes = unsigned()?,
                "stream-node-max-entries" => l.stream_node_max_entries = unsigned()?,
                _ => {}
            }
        }
        Ok(l)
    }

    /// Byte and entry limits of one list node.
    pub(crate) fn list_node(&self) -> (usize, usize) {
        match self.list_max_listpack_size {
            n if n > 0 => (usize::MAX, n as usize),
            n => (4096usize << (n.unsigned_abs().clamp(1, 5) - 1), usize::MAX),
        }
    }
}
