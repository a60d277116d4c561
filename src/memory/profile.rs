//! Which server the model mirrors: its version's rules (what `MEMORY USAGE`
//! counts and how a load lays values out), its allocator, and its encoding
//! limits. docs/memory.md says where each rule comes from.

use super::alloc::Allocator;
use crate::format::EncodingLimits;

/// A server generation whose memory rules differ from its neighbours'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Redis62,
    Redis70,
    Redis72,
    Redis74,
    Redis80,
    /// Redis 8.2 and later: key, expiry and small values in one allocation.
    Redis86,
    Valkey80,
    Valkey81,
    Valkey90,
    Valkey91,
}

/// How far a target's rules have been held to a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Compared key by key against a live server of this version by the
    /// test suite (`tests/live/memory.rs`), which was built with this
    /// allocator.
    LiveServer(Allocator),
    /// Written from the server's source; no server of this version runs here.
    FromSource,
}

impl Target {
    pub const ALL: [Target; 10] = [
        Target::Redis62,
        Target::Redis70,
        Target::Redis72,
        Target::Redis74,
        Target::Redis80,
        Target::Redis86,
        Target::Valkey80,
        Target::Valkey81,
        Target::Valkey90,
        Target::Valkey91,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Redis62 => "redis-6.2",
            Target::Redis70 => "redis-7.0",
            Target::Redis72 => "redis-7.2",
            Target::Redis74 => "redis-7.4",
            Target::Redis80 => "redis-8.0",
            Target::Redis86 => "redis-8.6",
            Target::Valkey80 => "valkey-8.0",
            Target::Valkey81 => "valkey-8.1",
            Target::Valkey90 => "valkey-9.0",
            Target::Valkey91 => "valkey-9.1",
        }
    }

    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The target a file was written by, from its `redis-ver` / `valkey-ver`
    /// aux fields: the newest generation at or below that version (a file
    /// from an older server is analysed as loaded by the oldest we model).
    pub fn of_server(redis_ver: Option<&str>, valkey_ver: Option<&str>) -> Option<Target> {
        let parse = |v: &str| -> Option<(u32, u32)> {
            let mut it = v.split('.').map(|p| p.parse::<u32>().ok());
            Some((it.next()??, it.next().flatten().unwrap_or(0)))
        };
        if let Some(v) = valkey_ver.and_then(parse) {
            return Some(match v {
                (9, 1..) | (10.., _) => Target::Valkey91,
                (9, _) => Target::Valkey90,
                (8, 1..) => Target::Valkey81,
                _ => Target::Valkey80,
            });
        }
        let v = redis_ver.and_then(parse)?;
        Some(match v {
            (8, 2..) | (9.., _) => Target::Redis86,
            (8, _) => Target::Redis80,
            (7, 4..) => Target::Redis74,
            (7, 2..) => Target::Redis72,
            (7, _) => Target::Redis70,
            _ => Target::Redis62,
        })
    }

    pub fn is_valkey(self) -> bool {
        self >= Target::Valkey80
    }

    /// Redis 6.2: ziplists, and `MEMORY USAGE` counts small strings,
    /// ziplists and intsets by their length, not their allocation.
    pub fn ziplists(self) -> bool {
        self == Target::Redis62
    }

    /// Redis 7.2+ (and Valkey, forked from it): a list that fits one node is
    /// a plain listpack, and small sets of strings are listpacks.
    pub fn small_listpacks(self) -> bool {
        self >= Target::Redis72
    }

    /// Valkey 8.1+: the key (and its expiry) live in the value's object, and
    /// every table is the bucketed `hashtable`, not `dict`.
    pub fn keys_in_objects(self) -> bool {
        self >= Target::Valkey81
    }

    /// Redis 8.2+: the value's object holds the key (and metadata such as
    /// the expiry before it) in one allocation, a `kvobj`; the keyspace's
    /// tables point at it (object.c `kvobjCreate`).
    pub fn kvobj(self) -> bool {
        self == Target::Redis86
    }

    /// The allocator of the build users usually run: upstream builds bundle
    /// jemalloc (8-byte quantum).
    pub fn default_allocator(self) -> Allocator {
        Allocator::Jemalloc8
    }

    /// Whether the test suite compares this version's rules against a live
    /// server, key by key, and that server's allocator. The allocators'
    /// size classes are the same whatever the version (unit-tested).
    pub fn checked(self) -> Checked {
        match self {
            Target::Redis70 => Checked::LiveServer(Allocator::Jemalloc16),
            Target::Redis62 | Target::Valkey81 | Target::Valkey91 => Checked::LiveServer(Allocator::Libc),
            _ => Checked::FromSource,
        }
    }

    /// The encoding limits a server of this version starts with when its
    /// configuration sets none (config.c; the shipped redis.conf differs
    /// for `hash-max-listpack-entries`: 128 there, 512 compiled in).
    pub fn compiled_limits(self) -> EncodingLimits {
        EncodingLimits { hash_max_listpack_entries: 512, ..EncodingLimits::default() }
    }
}

/// Everything the model needs to know about the server it mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub target: Target,
    pub allocator: Allocator,
    pub limits: EncodingLimits,
    /// The server runs with `cluster-enabled yes`: Redis 7.0 and 7.2 then
    /// give every key's table entry 16 bytes of slot links (server.c
    /// `dictEntryMetadataSize`), which `MEMORY USAGE` counts (7.0: the 16;
    /// 7.2: the 8-byte pointer of the table's own metadata, per key).
    pub cluster: bool,
}

impl Profile {
    pub fn new(target: Target, allocator: Allocator, limits: EncodingLimits) -> Profile {
        Profile { target, allocator, limits, cluster: false }
    }

    /// A target with its default allocator and compiled-in limits.
    /// The same, as a node of a cluster.
    pub fn in_cluster(self, cluster: bool) -> Profile {
        Profile { cluster, ..self }
    }

    pub fn default_for(target: Target) -> Profile {
        Profile::new(target, target.default_allocator(), target.compiled_limits())
    }

    pub fn checked(&self) -> Checked {
        self.target.checked()
    }

    /// Whether this profile's figures are estimates everywhere: its rules
    /// were never held to a server.
    pub fn approximate(&self) -> bool {
        self.checked() == Checked::FromSource
    }

    /// How the report names the profile: "redis-7.0, jemalloc16 (checked
    /// against a live server)".
    pub fn label(&self) -> String {
        let how = match self.checked() {
            Checked::LiveServer(a) if a == self.allocator => "checked against a live server".to_string(),
            Checked::LiveServer(a) => format!("rules checked against a live server built with {}", a.name()),
            Checked::FromSource => "from source, not checked against a server".to_string(),
        };
        let cluster = if self.cluster { ", cluster mode" } else { "" };
        format!("{}, {}{cluster} ({how})", self.target.name(), self.allocator.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn a_file_is_modelled_as_the_generation_that_wrote_it() {
        let redis = |v| Target::of_server(Some(v), None);
        assert_eq!(redis("6.0.16"), Some(Target::Redis62));
        assert_eq!(redis("7.0.15"), Some(Target::Redis70));
        assert_eq!(redis("7.2.6"), Some(Target::Redis72));
        assert_eq!(redis("7.4.1"), Some(Target::Redis74));
        assert_eq!(redis("8.0.3"), Some(Target::Redis80));
        // 8.2 put the key in its value's object.
        assert_eq!(redis("8.2.1"), Some(Target::Redis86));
        assert_eq!(redis("8.6.3"), Some(Target::Redis86));
        // Valkey files also carry redis-ver 7.2.4: valkey-ver decides.
        assert_eq!(Target::of_server(Some("7.2.4"), Some("8.1.8")), Some(Target::Valkey81));
        assert_eq!(Target::of_server(Some("7.2.4"), Some("9.0.4")), Some(Target::Valkey90));
        assert_eq!(Target::of_server(None, None), None);
    }
}
