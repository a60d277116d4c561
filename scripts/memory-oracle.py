#!/usr/bin/env python3
"""Ground truth for `rdb-tool memory` (issue 15): what a real server reports for a generated key set.

    python3 scripts/memory-oracle.py --server NAME --binary PATH --out DIR [--seed N] [--scale S] [--repeat R]

NAME is one of redis-6.2, redis-7.0, valkey-8.1, valkey-9.1. The script
 1. starts the server on 127.0.0.1 (a free port, its own temporary directory, `--save ''`, `--appendonly no`,
    `--enable-debug-command yes` where the server knows it, compiled defaults otherwise) and records the encoding
    limits (CONFIG GET *-max-* and list-compress-depth) in DIR/config.json;
 2. fills it with a seeded, generated key set that sits on every encoding and allocation threshold (see
    `generate()`; the same seed gives the same commands, and the same key set on every server except the hash-field
    TTL keys, which only servers with HPEXPIREAT get, generated last so they shift nothing else);
 3. SAVEs, shuts it down, starts a fresh process on the saved file (the "after load" state the model mirrors) and
    records per key `MEMORY USAGE key SAMPLES 0`, `OBJECT ENCODING`, `TYPE`, the element count and whether it has a
    TTL, plus INFO memory / server / keyspace, DBSIZE and MEMORY STATS;
 4. writes DIR/dump.rdb, DIR/expected.jsonl (one object per key, sorted by db and key_hex; `key_hex` is the join
    key, `key` is the key as `rdb-tool dump` writes it: UTF-8 as is, otherwise "base64:" + base64),
    DIR/info.json and DIR/config.json;
 5. with --repeat R (R >= 2) does the whole fill/save/load R times with the same seed, and loads every run's file
    --reloads times; DIR/nondeterministic.json lists every key whose MEMORY USAGE (or encoding) differed between any
    two of those measurements, with all values, and a summary per type/encoding. DIR/expected.jsonl and
    DIR/dump.rdb are those of run 1, load 1.

Stdlib only. A run with --scale 1 takes well under a minute per load on this machine.
"""
import argparse
import base64
import collections
import hashlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SERVER_NAMES = ("redis-6.2", "redis-7.0", "valkey-8.1", "valkey-9.1")

# Far-future absolute expiry times (ms): 2036-07 and later, so nothing expires, and the same in every run.
TTL_BASE_MS = 2_100_000_000_000


# ------------------------------------------------------------------------------------------- RESP client
class ReplyError(Exception):
    pass


class Conn:
    """Minimal RESP2 client; bulk replies are bytes, errors are ReplyError instances (returned, not raised)."""

    def __init__(self, port, timeout=120):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.s.makefile("rb")

    def close(self):
        try:
            self.f.close()
            self.s.close()
        except OSError:
            pass

    @staticmethod
    def enc(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, (bytes, bytearray)):
                a = str(a).encode()
            out.append(b"$%d\r\n" % len(a))
            out.append(a)
            out.append(b"\r\n")
        return b"".join(out)

    def read(self):
        line = self.f.readline()
        if not line:
            raise IOError("connection closed")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return ReplyError(rest.decode(errors="replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            d = self.f.read(n + 2)
            return d[:-2]
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise IOError("bad reply %r" % line[:80])

    def pipe(self, cmds, check=True, chunk_bytes=1 << 20):
        """Send commands pipelined (in chunks of about chunk_bytes), return the replies."""
        res = []
        i = 0
        while i < len(cmds):
            buf, n = [], 0
            j = i
            while j < len(cmds) and (n < chunk_bytes or j == i) and j - i < 2000:
                e = self.enc(cmds[j])
                buf.append(e)
                n += len(e)
                j += 1
            self.s.sendall(b"".join(buf))
            res.extend(self.read() for _ in range(j - i))
            i = j
        if check:
            for c, r in zip(cmds, res):
                if isinstance(r, ReplyError):
                    raise RuntimeError("%r -> %s" % ([x[:40] if isinstance(x, bytes) else x for x in c[:4]], r))
        return res

    def cmd(self, *args, check=True):
        return self.pipe([list(args)], check)[0]


def s(x):
    return x.decode() if isinstance(x, bytes) else x


# ------------------------------------------------------------------------------------------- server process
def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


class Server:
    def __init__(self, binary, directory, name):
        self.binary, self.dir, self.name = binary, directory, name
        ver = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
        self.debug_opt = "v=6." not in ver
        self.p = None

    def start(self):
        for _attempt in range(5):
            self.port = free_port()
            args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                    "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no", "--daemonize", "no",
                    "--logfile", os.path.join(self.dir, "server.log")]
            if self.debug_opt:
                args += ["--enable-debug-command", "yes"]
            env = dict(os.environ)
            env.pop("LD_PRELOAD", None)
            env.pop("FAKETIME", None)
            self.p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, env=env)
            deadline = time.time() + 120
            while time.time() < deadline:
                if self.p.poll() is not None:
                    break
                try:
                    c = Conn(self.port)
                    r = c.cmd("PING", check=False)
                    if r == "PONG":
                        return c
                    c.close()  # -LOADING
                except (OSError, IOError):
                    pass
                time.sleep(0.05)
            log = open(os.path.join(self.dir, "server.log"), errors="replace").read()
            self.kill()
            if "Address already in use" not in log:
                raise RuntimeError("%s did not start:\n%s" % (self.name, log[-3000:]))
        raise RuntimeError("%s: no free port" % self.name)

    def stop(self, conn):
        try:
            conn.cmd("SHUTDOWN", "NOSAVE", check=False)
        except (OSError, IOError):
            pass
        conn.close()
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self):
        if self.p and self.p.poll() is None:
            self.p.kill()
            self.p.wait()


# ------------------------------------------------------------------------------------------- data generation
LETTERS = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
PRINTABLE = bytes(range(0x21, 0x7f))


class Gen:
    """Builds the key set: a list of specs {db, key, group, cmds}; everything drawn from one seeded RNG."""

    def __init__(self, seed, scale, has_hfe):
        self.rng = random.Random(seed)
        self.scale = scale
        self.has_hfe = has_hfe
        self.specs = []
        self.used = set()
        self.single_bytes = list(range(256))
        self.rng.shuffle(self.single_bytes)

    def n(self, count, minimum=1):
        return max(minimum, int(round(count * self.scale)))

    # ---- strings
    def word(self, n):
        """A non-numeric string of exactly n bytes (letters only)."""
        if n == 0:
            return b""
        rb = self.rng.randbytes(n)
        return bytes(LETTERS[b % 52] for b in rb)

    def key_of_len(self, n, binary=False):
        """A fresh key of exactly n bytes."""
        for _ in range(200):
            if n == 1:
                if not self.single_bytes:
                    raise RuntimeError("out of one-byte keys")
                k = bytes([self.single_bytes.pop()])
            elif binary:
                k = self.rng.randbytes(n)
            elif n <= 3:
                k = bytes(self.rng.choice(PRINTABLE) for _ in range(n))
            else:
                k = b"k" + self.word(n - 1)
            if k not in self.used:
                self.used.add(k)
                return k
        raise RuntimeError("no fresh key of length %d" % n)

    def name(self, prefix):
        """A key name: mostly prefix:id style (1..300 B), some of random length, some binary or UTF-8."""
        r = self.rng.random()
        if r < 0.70:
            for _ in range(100):
                parts = [prefix, self.rng.choice(["user", "session", "cache", "q", "tenant:%d" % self.rng.randrange(20)])]
                parts.append(str(self.rng.randrange(10 ** self.rng.randint(1, 12))))
                if self.rng.random() < 0.2:
                    parts.append(self.word(self.rng.randint(1, 60)).decode())
                k = ":".join(parts).encode()
                if k not in self.used:
                    self.used.add(k)
                    return k
        if r < 0.85:
            return self.key_of_len(self.rng.randint(2, 300))
        if r < 0.93:
            return self.key_of_len(self.rng.randint(1, 64), binary=True)
        for _ in range(100):
            k = ("%s:ключ:%d:日本:é" % (prefix, self.rng.randrange(10 ** 9))).encode()
            if k not in self.used:
                self.used.add(k)
                return k
        raise RuntimeError("no fresh name")

    def add(self, group, key, cmds, db=0, ttl=None):
        """ttl: None = draw (about 20 % of keys get one), True/False = forced."""
        if ttl is None:
            ttl = self.rng.random() < 0.2
        if ttl:
            cmds = cmds + [["PEXPIREAT", key, TTL_BASE_MS + self.rng.randrange(10 ** 11)]]
        self.specs.append({"db": db, "key": key, "group": group, "cmds": cmds})

    def some_db(self):
        r = self.rng.random()
        return 0 if r < 0.94 else (1 if r < 0.99 else 9)

    # ---- element makers
    def int_elem(self):
        w = self.rng.choice(["u7", "i13", "i16", "i24", "i32", "i64", "shared"])
        lo, hi = {"u7": (0, 127), "i13": (-4096, 4095), "i16": (-32768, 32767), "i24": (-(1 << 23), (1 << 23) - 1),
                  "i32": (-(1 << 31), (1 << 31) - 1), "i64": (-(1 << 63), (1 << 63) - 1), "shared": (0, 9999)}[w]
        return str(self.rng.randint(lo, hi)).encode()

    def str_elem(self, lo=1, hi=200):
        r = self.rng.random()
        if r < 0.6:
            return self.word(self.rng.randint(lo, min(hi, 40)))
        return self.word(self.rng.randint(lo, hi))

    def elem(self, int_share=0.25, lo=1, hi=200):
        return self.int_elem() if self.rng.random() < int_share else self.str_elem(lo, hi)

    def distinct(self, count, maker):
        out, seen = [], set()
        tries = 0
        while len(out) < count:
            e = maker()
            tries += 1
            if e not in seen:
                seen.add(e)
                out.append(e)
            if tries > count * 50 + 1000:
                raise RuntimeError("cannot draw %d distinct elements" % count)
        return out

    @staticmethod
    def chunks(cmd, key, items, per=1000, width=1):
        out = []
        for i in range(0, len(items), per * width):
            out.append([cmd, key] + items[i:i + per * width])
        return out

    # ---- the key set
    def generate(self):
        self.strings()
        self.lists()
        self.sets()
        self.zsets()
        self.hashes()
        self.streams()
        if self.has_hfe:
            self.hash_field_ttls()
        return self.specs

    def strings(self):
        rng = self.rng
        # Key length x value length grid, with and without a TTL: embstr 44/45 (robj + sds8 <= 64 B), Valkey 8.1's
        # 64-byte and 9.1's 128-byte embedding budgets, key sds type 5/8/16 (31/32, 255/256), the expire slot.
        klens = [1, 2, 3, 5, 8, 10, 16, 20, 24, 30, 31, 32, 33, 40, 47, 48, 50, 60, 63, 64, 70, 80, 100, 110, 120,
                 127, 128, 129, 200, 255, 256, 257, 300]
        for ttl in (False, True):
            for kl in klens:
                # (only 256 one-byte keys exist: every other value length for those with a TTL)
                for vl in range(0, 131, 2 if (kl == 1 and ttl) else 1):
                    self.add("string:grid", self.key_of_len(kl), [["SET", None, self.word(vl)]], ttl=ttl)
        # sds header boundaries and allocator classes for values, and very long keys
        for vl in (31, 32, 33, 255, 256, 257, 1000, 4095, 4096, 4097, 16384, 65535, 65536, 65537, 100000, 1 << 20):
            for kl in (8, 40):
                self.add("string:bigval", self.key_of_len(kl), [["SET", None, self.word(vl)]])
        for kl in (65535, 65536, 65537):
            for vl in (0, 5, 44, 45, 100, 65536):
                self.add("string:bigkey", self.key_of_len(kl), [["SET", None, self.word(vl)]])
        # integer-looking strings (shared integers 0..9999, int encoding, and strings that are not canonical)
        ints = ["0", "1", "9", "10", "9999", "10000", "10001", "-1", "-9999", "-10000", "4294967295", "4294967296",
                "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
                "007", "+5", "1.5", "-0", " 5", "5 ", "1e5", "0x10", "00", "-", "+", "",
                "12345678901234567890", "123456789012345678901", "18446744073709551615", "99999999999999999999",
                "3.14159265358979", "-0.0", "inf", "nan"]
        ints += [str(rng.randint(0, 9999)) for _ in range(20)]
        ints += [str(rng.randint(-(1 << 63), (1 << 63) - 1)) for _ in range(20)]
        for v in ints:
            for kl in (4, 20, 40, 130):
                self.add("string:int", self.key_of_len(kl), [["SET", None, v.encode()]])
        # a realistic random population
        for _ in range(self.n(6000)):
            r = rng.random()
            if r < 0.25:
                v = self.int_elem()
            elif r < 0.85:
                v = self.word(rng.randint(0, 130))
            elif r < 0.97:
                v = self.word(rng.randint(131, 2000))
            else:
                v = rng.randbytes(rng.randint(1, 300))  # binary values
            self.add("string:random", self.name("str"), [["SET", None, v]], db=self.some_db())

    def lists(self):
        rng = self.rng
        # element-count thresholds (128 is no list limit, but kept for symmetry with the others)
        for n in (1, 2, 127, 128, 129):
            for kind in ("str10", "int", "mixed"):
                if kind == "str10":
                    items = [self.word(10) for _ in range(n)]
                elif kind == "int":
                    items = [self.int_elem() for _ in range(n)]
                else:
                    items = [self.elem(0.4) for _ in range(n)]
                self.add("list:count", self.name("l"), [["RPUSH", None] + items])
        # byte-size thresholds: lists whose listpack (or ziplist) size crosses 4 KB (half the limit: 7.2+ and Valkey
        # convert a shrinking quicklist back below it) and 8 KB (list-max-listpack-size -2)
        for el in (1, 10, 62, 63, 64, 100, 200, 1000):
            for bound in (4096, 8192, 16384):
                for sizer in (lp_str_entry, zl_str_entry):
                    total, n = 7 if sizer is lp_str_entry else 11, 0
                    while total <= bound:
                        total += sizer(el)
                        n += 1
                    for d in (-3, -1, 0, 1, 3):
                        if n + d > 0:
                            self.add("list:bytes", self.name("l"), [["RPUSH", None] + [self.word(el) for _ in range(n + d)]])
        # long lists, multi-node quicklists, 500..5000 elements of 1..200 B, some ints
        for _ in range(self.n(24)):
            n = rng.randint(500, 5000)
            items = [self.elem(rng.choice([0, 0.2, 0.5, 1.0])) for _ in range(n)]
            mode = rng.choice(["rpush", "rpush", "lpush", "mixed"])
            cmds = []
            if mode == "rpush":
                cmds = self.chunks("RPUSH", None, items)
            elif mode == "lpush":
                cmds = self.chunks("LPUSH", None, items)
            else:
                for it in items:
                    cmds.append([rng.choice(["LPUSH", "RPUSH"]), None, it])
            if rng.random() < 0.4:  # holes: LREM / LSET / LINSERT leave nodes partly filled
                for _ in range(rng.randint(1, 30)):
                    op = rng.random()
                    if op < 0.4:
                        cmds.append(["LREM", None, "0", rng.choice(items)])
                    elif op < 0.7:
                        cmds.append(["LSET", None, str(rng.randrange(n // 2)), self.elem(0.3)])
                    else:
                        cmds.append(["LINSERT", None, "BEFORE", rng.choice(items), self.elem(0.3)])
            if rng.random() < 0.2:
                cmds.append(["LTRIM", None, str(rng.randrange(100)), str(-rng.randrange(1, 100))])
            self.add("list:long", self.name("l"), cmds, db=self.some_db())
        # elements larger than a node (> 8 KB), alone and among small ones
        for big in (4096, 8191, 8192, 8193, 9000, 20000, 65536):
            self.add("list:bigelem", self.name("l"), [["RPUSH", None, self.word(big)]])
            items = [self.elem(0.3) for _ in range(rng.randint(10, 300))]
            items.insert(rng.randrange(len(items)), self.word(big))
            self.add("list:bigelem", self.name("l"), [["RPUSH", None] + items])
        # small random lists
        for _ in range(self.n(300)):
            n = rng.randint(1, 200)
            self.add("list:small", self.name("l"), [["RPUSH", None] + [self.elem(0.3, 1, 80) for _ in range(n)]],
                     db=self.some_db())

    def sets(self):
        rng = self.rng
        widths = {"int16": (-32768, 32767), "int32": (-(1 << 31), (1 << 31) - 1), "int64": (-(1 << 63), (1 << 63) - 1)}
        # intsets: each width at 1, 2, 127..129, 511..513 members (with one member needing the full width)
        for w, (lo, hi) in widths.items():
            for n in (1, 2, 127, 128, 129, 511, 512, 513):
                members = self.distinct(n - 1, lambda: str(rng.randint(-100, 100) if rng.random() < 0.3
                                                           else rng.randint(lo, hi)).encode())
                extreme = str(rng.choice([lo, hi])).encode()
                if extreme not in members:
                    members.append(extreme)
                else:
                    members.append(str(rng.choice([lo + 1, hi - 1])).encode())
                self.add("set:intset", self.name("si"), self.chunks("SADD", None, members))
        # string sets: 127..129 members (set-max-listpack-entries, 7.2+/Valkey) and member length 63..65
        for n in (1, 2, 127, 128, 129):
            for ml in (8, 63, 64, 65):
                members = self.distinct(n, lambda: self.word(ml))
                self.add("set:str", self.name("ss"), [["SADD", None] + members])
            # one 65-byte member among short ones
            members = self.distinct(n, lambda: self.word(8))
            members[-1] = self.word(65)
            self.add("set:str", self.name("ss"), [["SADD", None] + members])
            # strings and integers mixed
            members = self.distinct(n, lambda: self.elem(0.5, 1, 64))
            self.add("set:mixed", self.name("ss"), [["SADD", None] + members])
        # large sets
        for n in (1000, 2000, 5000, 10000, 20000):
            members = self.distinct(self.n(n, 200), lambda: self.elem(0.1, 4, 40))
            self.add("set:large", self.name("sl"), self.chunks("SADD", None, members))
        members = self.distinct(self.n(3000, 600), lambda: str(rng.randint(0, 10 ** 9)).encode())
        self.add("set:large", self.name("sl"), self.chunks("SADD", None, members))
        # random small sets
        for _ in range(self.n(300)):
            n = rng.randint(1, 300)
            members = self.distinct(n, lambda: self.elem(rng.choice([0, 0.5, 1.0]), 1, 70))
            self.add("set:random", self.name("s"), [["SADD", None] + members], db=self.some_db())

    def score(self):
        r = self.rng.random()
        if r < 0.4:
            return str(self.rng.randint(-1000000, 1000000))
        if r < 0.8:
            return repr(self.rng.uniform(-1e6, 1e6))
        if r < 0.9:
            return self.rng.choice(["inf", "-inf", "+inf", "0", "-0", "1e300", "-1e-300", "0.1", "3.0"])
        return str(self.rng.randint(-(1 << 53), 1 << 53))

    def zadd(self, members):
        items = []
        for m in members:
            items += [self.score(), m]
        return self.chunks("ZADD", None, items, per=1000, width=2)

    def zsets(self):
        rng = self.rng
        # listpack zsets: 127..129 entries, member length 63..65
        for n in (1, 2, 127, 128, 129):
            for ml in (8, 63, 64, 65):
                self.add("zset:small", self.name("z"), self.zadd(self.distinct(n, lambda: self.word(ml))))
            self.add("zset:small", self.name("z"), self.zadd(self.distinct(n, lambda: self.elem(0.5, 1, 64))))
        # skiplist zsets, about 25,000 members at scale 1
        for n in (129, 130, 200, 300, 500, 700, 1000, 1500, 2000, 3000, 5000, 10000):
            members = self.distinct(self.n(n, 129), lambda: self.elem(0.2, 1, 60))
            self.add("zset:skiplist", self.name("zl"), self.zadd(members), db=self.some_db())
        # random small zsets
        for _ in range(self.n(200)):
            n = rng.randint(1, 150)
            members = self.distinct(n, lambda: self.elem(0.3, 1, 70))
            self.add("zset:random", self.name("z"), self.zadd(members), db=self.some_db())

    def hset(self, fields, values):
        items = []
        for f, v in zip(fields, values):
            items += [f, v]
        return self.chunks("HSET", None, items, per=1000, width=2)

    def hashes(self):
        rng = self.rng
        # listpack hashes: 511..513 fields (hash-max-listpack-entries 512), field and value length 63..65
        for n in (1, 2, 127, 128, 129, 511, 512, 513):
            for fl, vl in ((8, 8), (8, 63), (8, 64), (8, 65), (64, 8), (65, 8)):
                fields = self.distinct(n, lambda: self.word(fl))
                values = [self.word(vl) for _ in range(n)]
                self.add("hash:small", self.name("h"), self.hset(fields, values))
            fields = self.distinct(n, lambda: self.elem(0.3, 1, 64))
            values = [self.elem(0.5, 0, 64) for _ in range(n)]
            self.add("hash:mixed", self.name("h"), self.hset(fields, values))
        # big hashes
        for n in (1000, 2000, 5000, 20000):
            fields = self.distinct(self.n(n, 600), lambda: self.elem(0.1, 4, 40))
            values = [self.elem(0.3, 0, 120) for _ in fields]
            self.add("hash:large", self.name("hl"), self.hset(fields, values), db=self.some_db())
        # random hashes
        for _ in range(self.n(250)):
            if rng.random() < 0.6:  # listpack-sized: up to 512 fields, every value within 64 bytes
                n = rng.randint(1, 512)
                fields = self.distinct(n, lambda: self.elem(0.2, 1, 30))
                values = [self.elem(0.4, 0, 64) for _ in fields]
            else:
                n = rng.randint(1, 600)
                fields = self.distinct(n, lambda: self.elem(0.2, 1, 40))
                values = [self.elem(0.4, 0, 70) for _ in fields]
            self.add("hash:random", self.name("h"), self.hset(fields, values), db=self.some_db())

    def hash_field_ttls(self):
        """Valkey 9 hash field TTLs (HPEXPIREAT), some fields with a TTL and some without."""
        rng = self.rng
        for n in (1, 2, 10, 127, 128, 129, 512, 513, 2000):
            for share in ("one", "half", "all"):
                fields = self.distinct(n, lambda: self.elem(0.2, 1, 40))
                values = [self.elem(0.3, 0, 70) for _ in fields]
                cmds = self.hset(fields, values)
                pick = fields[:1] if share == "one" else fields[: max(1, n // 2)] if share == "half" else fields
                for i in range(0, len(pick), 500):
                    part = pick[i:i + 500]
                    cmds.append(["HPEXPIREAT", None, TTL_BASE_MS + rng.randrange(10 ** 11), "FIELDS", len(part)] + part)
                self.add("hash:fieldttl", self.name("hx"), cmds)
        # TTLs set then removed from every field again (HPERSIST)
        fields = self.distinct(20, lambda: self.word(8))
        cmds = self.hset(fields, [self.word(8) for _ in fields])
        cmds.append(["HPEXPIREAT", None, TTL_BASE_MS, "FIELDS", len(fields)] + fields)
        cmds.append(["HPERSIST", None, "FIELDS", len(fields)] + fields)
        self.add("hash:fieldttl", self.name("hx"), cmds)

    def streams(self):
        rng = self.rng
        fieldpool = [b"f", b"name", b"temperature", b"id", b"payload", b"ts", b"a" * 30, b"b" * 70, b"1", b"42"]

        def make(n, same_fields, deletes, groups, trim=None, group_mkstream=False):
            cmds, ids = [], []
            ms, seq = 1_700_000_000_000 + rng.randrange(10 ** 9), 0
            fixed = rng.sample(fieldpool, rng.randint(1, 4))
            for _ in range(n):
                if rng.random() < 0.7:
                    ms += rng.randint(1, 5000)
                    seq = 0
                else:
                    seq += rng.randint(1, 3)
                flds = fixed if same_fields else rng.sample(fieldpool, rng.randint(1, 5))
                args = []
                for f in flds:
                    args += [f, self.elem(0.4, 0, 60)]
                eid = "%d-%d" % (ms, seq)
                ids.append(eid)
                cmds.append(["XADD", None, eid] + args)
            if deletes == "some" and ids:
                dels = rng.sample(ids, max(1, len(ids) // 10))
                cmds.append(["XDEL", None] + dels)
            elif deletes == "first" and ids:
                cmds.append(["XDEL", None, ids[0]])
            elif deletes == "all" and ids:
                cmds += [["XDEL", None] + ids[i:i + 1000] for i in range(0, len(ids), 1000)]
            if trim:
                cmds.append(["XTRIM", None, "MAXLEN", str(trim)])
            for g in range(groups):
                gname = b"g%d" % g + (self.word(rng.randint(0, 20)))
                start = rng.choice(["0", "0", "$"] + ([ids[len(ids) // 2]] if ids else []))
                if group_mkstream and not ids:
                    cmds.append(["XGROUP", "CREATE", None, gname, "$", "MKSTREAM"])
                else:
                    cmds.append(["XGROUP", "CREATE", None, gname, start])
                consumers = [b"c%d" % c + self.word(rng.randint(0, 30)) for c in range(rng.randint(0, 5))]
                for c in consumers:
                    r = rng.random()
                    if r < 0.15:
                        cmds.append(["XGROUP", "CREATECONSUMER", None, gname, c])  # no pending entries
                    else:
                        cnt = rng.choice([1, 5, 50, 100, 500])
                        cmds.append(["XREADGROUP", "GROUP", gname, c, "COUNT", str(cnt), "STREAMS", None, ">"])
                if consumers and ids and rng.random() < 0.6:
                    acks = rng.sample(ids, min(len(ids), rng.randint(1, 50)))
                    cmds.append(["XACK", None, gname] + acks)
                if len(consumers) >= 2 and ids and rng.random() < 0.6:
                    claim = rng.sample(ids, min(len(ids), rng.randint(1, 30)))
                    cmds.append(["XCLAIM", None, gname, consumers[-1], "0"] + claim)
                if consumers and ids and rng.random() < 0.3:
                    cmds.append(["XAUTOCLAIM", None, gname, consumers[0], "0", "0-0", "COUNT", "25"])
                if rng.random() < 0.2:
                    cmds.append(["XGROUP", "SETID", None, gname, "$"])
            return cmds

        # XREADGROUP with the key as a placeholder inside the args: fixed up in add() via None substitution
        for n in (1, 100, 101, 1000, 10000):
            nn = n if n <= 1000 else self.n(n, 1001)
            for same in (True, False):
                self.add("stream:plain", self.name("x"), make(nn, same, "none", 0))
            self.add("stream:dels", self.name("x"), make(nn, rng.random() < 0.5, "some", 0))
            for groups in (1, 2, 3):
                self.add("stream:groups", self.name("x"), make(nn, rng.random() < 0.5,
                                                               rng.choice(["none", "some", "first"]), groups))
        self.add("stream:edge", self.name("x"), make(10, True, "all", 0))
        self.add("stream:edge", self.name("x"), make(50, True, "all", 2))
        self.add("stream:edge", self.name("x"), make(0, True, "none", 1, group_mkstream=True))
        self.add("stream:edge", self.name("x"), make(3000, False, "none", 1, trim=777))
        for _ in range(self.n(40)):
            self.add("stream:random", self.name("x"), make(rng.randint(1, 400), rng.random() < 0.5,
                                                           rng.choice(["none", "some"]), rng.randint(0, 3)),
                     db=self.some_db())


def lp_str_entry(n):
    """Bytes of a listpack string entry of length n (encoding + data + backlen)."""
    enc = 1 if n < 64 else 2 if n < 4096 else 5
    body = enc + n
    return body + (1 if body < 128 else 2 if body < 16384 else 3 if body < 2097152 else 4)


def zl_str_entry(n):
    """Bytes of a ziplist string entry (prevlen assumed 1 or 5 by the previous entry's size)."""
    enc = 1 if n < 64 else 2 if n < 16384 else 5
    body = enc + n
    return body + (1 if body + 1 < 254 else 5)


# ------------------------------------------------------------------------------------------- run
def dump_key(b):
    try:
        t = b.decode("utf-8")
        if not t.startswith("base64:"):
            return t
    except UnicodeDecodeError:
        pass
    return "base64:" + base64.b64encode(b).decode()


def fill(conn, specs):
    cur = None
    batch = []
    for sp in specs:
        if sp["db"] != cur:
            batch.append(["SELECT", sp["db"]])
            cur = sp["db"]
        for c in sp["cmds"]:
            batch.append([sp["key"] if a is None else a for a in c])
    # check=False then report: XAUTOCLAIM etc. reply arrays; only errors matter
    res = conn.pipe(batch, check=False)
    errs = [(c, r) for c, r in zip(batch, res) if isinstance(r, ReplyError)]
    if errs:
        for c, r in errs[:10]:
            print("  error: %r -> %s" % ([x[:40] if isinstance(x, bytes) else x for x in c[:5]], r), file=sys.stderr)
        raise RuntimeError("%d commands failed" % len(errs))
    conn.cmd("SELECT", 0)
    return len(batch)


def info(conn, section):
    out = {}
    raw = s(conn.cmd("INFO", section))
    for line in raw.splitlines():
        if ":" in line and not line.startswith("#"):
            a, b = line.split(":", 1)
            try:
                out[a] = int(b)
            except ValueError:
                out[a] = b
    return out


def config(conn):
    cfg = {}
    for pat in ("*-max-*", "list-compress-depth"):
        r = conn.cmd("CONFIG", "GET", pat)
        for i in range(0, len(r), 2):
            cfg[s(r[i])] = s(r[i + 1])
    return dict(sorted(cfg.items()))


def measure(conn):
    """Everything about the loaded state: INFO first (before our queries grow the client's buffers)."""
    out = {"info_memory_after_load": info(conn, "memory")}
    out["info_server"] = {k: v for k, v in info(conn, "server").items()
                          if k in ("redis_version", "valkey_version", "server_name", "redis_git_sha1", "arch_bits",
                                   "executable", "config_file", "server_mode")}
    out["info_keyspace"] = info(conn, "keyspace")
    dbs = sorted(int(k[2:]) for k in out["info_keyspace"] if k.startswith("db"))
    rows = []
    out["dbsize"] = {}
    for db in dbs:
        conn.cmd("SELECT", db)
        out["dbsize"][db] = conn.cmd("DBSIZE")
        keys = []
        cursor = b"0"
        while True:
            cursor, ks = conn.cmd("SCAN", cursor, "COUNT", "1000")
            keys.extend(ks)
            if cursor == b"0":
                break
        keys = sorted(set(keys))
        q = []
        for k in keys:
            q += [["MEMORY", "USAGE", k, "SAMPLES", "0"], ["OBJECT", "ENCODING", k], ["TYPE", k], ["PTTL", k]]
        res = conn.pipe(q)
        types = []
        for i, k in enumerate(keys):
            mem, enc, typ, pttl = res[4 * i:4 * i + 4]
            rows.append({"db": db, "key": dump_key(k), "key_hex": k.hex(), "type": typ, "encoding": s(enc),
                         "memory_usage": mem, "expires": pttl >= 0})
            types.append(typ)
        lencmd = {"string": "STRLEN", "list": "LLEN", "set": "SCARD", "zset": "ZCARD", "hash": "HLEN",
                  "stream": "XLEN"}
        res = conn.pipe([[lencmd[t], k] for k, t in zip(keys, types)])
        for r, n in zip(rows[len(rows) - len(keys):], res):
            r["length"] = n
        # quicklist node counts (DEBUG OBJECT), for lists only
        lk = [(r, k) for r, k in zip(rows[len(rows) - len(keys):], keys) if r["encoding"] == "quicklist"]
        res = conn.pipe([["DEBUG", "OBJECT", k] for _, k in lk], check=False)
        for (r, _), d in zip(lk, res):
            if isinstance(d, str):
                for tok in d.split():
                    if tok.startswith("ql_nodes:"):
                        r["ql_nodes"] = int(tok.split(":")[1])
    conn.cmd("SELECT", 0)
    out["rows"] = sorted(rows, key=lambda r: (r["db"], r["key_hex"]))
    out["info_memory_after_queries"] = info(conn, "memory")
    ms = conn.cmd("MEMORY", "STATS", check=False)
    if isinstance(ms, list):
        out["memory_stats"] = flatten_stats(ms)
    return out


def flatten_stats(lst):
    d = {}
    for i in range(0, len(lst) - 1, 2):
        k, v = s(lst[i]), lst[i + 1]
        if isinstance(v, list):
            v = flatten_stats(v)
        elif isinstance(v, bytes):
            v = v.decode(errors="replace")
        d[k] = v
    return d


def one_run(args, run_no, specs_fn, workdir):
    """Fill, SAVE, stop; then load the file --reloads times. Returns (config, file path, [measurements])."""
    d = os.path.join(workdir, "run%d" % run_no)
    os.makedirs(d)
    srv = Server(args.binary, d, args.server)
    t0 = time.time()
    conn = srv.start()
    try:
        cfg = config(conn)
        hfe = conn.cmd("COMMAND", "INFO", "HPEXPIREAT")
        has_hfe = bool(hfe and hfe[0])
        specs = specs_fn(has_hfe)
        ncmd = fill(conn, specs)
        conn.cmd("SAVE")
    finally:
        srv.stop(conn)
    t1 = time.time()
    print("  run %d: %d keys, %d commands, filled and saved in %.1f s" % (run_no, len(specs), ncmd, t1 - t0),
          file=sys.stderr)
    loads = []
    for l in range(args.reloads):
        conn = srv.start()
        try:
            m = measure(conn)
        finally:
            srv.stop(conn)
        im = m["info_memory_after_load"]
        print("  run %d load %d: %d keys, used_memory - used_memory_startup = %d (%.1f s)"
              % (run_no, l + 1, len(m["rows"]), im["used_memory"] - im["used_memory_startup"], time.time() - t1),
              file=sys.stderr)
        loads.append(m)
    return cfg, has_hfe, specs, os.path.join(d, "dump.rdb"), loads


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True, choices=SERVER_NAMES)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=1, help="full fill/save/load runs with the same seed")
    ap.add_argument("--reloads", type=int, default=None,
                    help="loads of each run's file (default 2 with --repeat >= 2, else 1)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary server directories")
    args = ap.parse_args()
    if args.reloads is None:
        args.reloads = 2 if args.repeat >= 2 else 1
    os.makedirs(args.out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="memory-oracle-%s-" % args.server)
    t0 = time.time()
    try:
        runs = []
        for r in range(args.repeat):
            runs.append(one_run(args, r + 1, lambda hfe: Gen(args.seed, args.scale, hfe).generate(), workdir))
        cfg, has_hfe, specs, rdb, loads = runs[0]
        first = loads[0]
        shutil.copyfile(rdb, os.path.join(args.out, "dump.rdb"))
        with open(os.path.join(args.out, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
            f.write("\n")
        group_of = {(sp["db"], sp["key"].hex()): sp["group"] for sp in specs}
        with open(os.path.join(args.out, "expected.jsonl"), "w") as f:
            for row in first["rows"]:
                row = dict(row, group=group_of.get((row["db"], row["key_hex"])))
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        im = first["info_memory_after_load"]
        inf = {
            "server": args.server, "binary": args.binary, "seed": args.seed, "scale": args.scale,
            "version": first["info_server"], "hash_field_ttl": has_hfe,
            "keys": len(first["rows"]), "dbsize": first["dbsize"], "info_keyspace": first["info_keyspace"],
            "used_memory_delta": im["used_memory"] - im["used_memory_startup"],
            "sum_memory_usage": sum(r["memory_usage"] for r in first["rows"]),
            "info_memory": {k: im.get(k) for k in ("used_memory", "used_memory_startup", "used_memory_dataset",
                                                   "used_memory_overhead", "mem_clients_normal", "mem_allocator")},
            "info_memory_after_load": im,
            "info_memory_after_queries": first["info_memory_after_queries"],
            "memory_stats": first.get("memory_stats"),
            "rdb_bytes": os.path.getsize(rdb),
            "runs": [{"run": i + 1, "rdb_bytes": os.path.getsize(r[3]),
                      "rdb_sha256": hashlib.sha256(open(r[3], "rb").read()).hexdigest(),
                      "loads": [{"used_memory_delta": m["info_memory_after_load"]["used_memory"]
                                 - m["info_memory_after_load"]["used_memory_startup"],
                                 "used_memory": m["info_memory_after_load"]["used_memory"],
                                 "mem_clients_normal": m["info_memory_after_load"].get("mem_clients_normal"),
                                 "sum_memory_usage": sum(x["memory_usage"] for x in m["rows"])}
                                for m in r[4]]}
                     for i, r in enumerate(runs)],
        }
        with open(os.path.join(args.out, "info.json"), "w") as f:
            json.dump(inf, f, indent=1)
            f.write("\n")
        if args.repeat * args.reloads >= 2:
            write_nondeterminism(args, runs)
    finally:
        if args.keep:
            print("kept " + workdir, file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print("%s: wrote %s in %.1f s" % (args.server, args.out, time.time() - t0), file=sys.stderr)


def write_nondeterminism(args, runs):
    """Which keys' MEMORY USAGE (or encoding) differs between measurements.

    Two kinds of difference are told apart: between loads of one file (the server is not deterministic for a
    given file: what a model fed by the file can never predict) and between runs (the files differ too: field
    order in a hashtable follows the writer's random hash seed, so e.g. where a hash converts mid-load moves)."""
    labels, tables = [], []
    per_run = len(runs[0][4])
    for i, r in enumerate(runs):
        for j, m in enumerate(r[4]):
            labels.append("run%d.load%d" % (i + 1, j + 1))
            tables.append({(x["db"], x["key_hex"]): x for x in m["rows"]})
    base = tables[0]
    out = []
    summary = collections.defaultdict(lambda: {"keys": 0, "differing_same_file": 0, "differing_any": 0,
                                               "first_above_min": 0, "max_abs_same_file": 0, "max_rel_same_file": 0.0,
                                               "max_abs_any": 0, "max_rel_any": 0.0, "spreads_same_file": {}})
    for k, row in sorted(base.items()):
        vals = [t.get(k, {}).get("memory_usage") for t in tables]
        encs = [t.get(k, {}).get("encoding") for t in tables]
        sm = summary["%s/%s" % (row["type"], row["encoding"])]
        sm["keys"] += 1
        if len(set(vals)) == 1 and len(set(encs)) == 1:
            continue
        nums = [v for v in vals if v is not None]
        spread = max(nums) - min(nums)
        same = max(max(v) - min(v) for v in (nums[i:i + per_run] for i in range(0, len(nums), per_run)))
        sm["differing_any"] += 1
        sm["first_above_min"] += vals[0] > min(nums)
        sm["max_abs_any"] = max(sm["max_abs_any"], spread)
        sm["max_rel_any"] = max(sm["max_rel_any"], spread / max(1, min(nums)))
        if same:
            sm["differing_same_file"] += 1
            sm["max_abs_same_file"] = max(sm["max_abs_same_file"], same)
            sm["max_rel_same_file"] = max(sm["max_rel_same_file"], same / max(1, min(nums)))
            sm["spreads_same_file"][same] = sm["spreads_same_file"].get(same, 0) + 1
        out.append({"db": k[0], "key": row["key"] if len(row["key"]) <= 80 else row["key"][:80] + "...",
                    "key_hex": k[1], "type": row["type"], "encoding": row["encoding"], "length": row["length"],
                    "memory_usage": vals, "encodings": encs if len(set(encs)) > 1 else None,
                    "spread_same_file": same, "spread_any": spread})
    missing = [label for label, t in zip(labels, tables) if set(t) != set(base)]
    for v in summary.values():
        v["max_rel_any"] = round(v["max_rel_any"], 5)
        v["max_rel_same_file"] = round(v["max_rel_same_file"], 5)
        v["spreads_same_file"] = dict(sorted(v["spreads_same_file"].items()))
    res = {"server": args.server, "seed": args.seed, "scale": args.scale, "measurements": labels,
           "note": "memory_usage lists the measurements in the order of 'measurements'; spread_same_file is the "
                   "largest max-min among loads of one run's file, spread_any among all measurements",
           "key_sets_differ": missing,
           "differing_keys": len(out),
           "differing_between_loads_of_one_file": sum(1 for o in out if o["spread_same_file"]),
           "summary": {k: v for k, v in sorted(summary.items())},
           "keys": out}
    with open(os.path.join(args.out, "nondeterministic.json"), "w") as f:
        json.dump(res, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("  nondeterminism: %d keys differ (%d between loads of one file)"
          % (len(out), res["differing_between_loads_of_one_file"]), file=sys.stderr)


if __name__ == "__main__":
    main()
