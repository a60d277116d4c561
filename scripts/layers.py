#!/usr/bin/env python3
"""The crate's layers as the code has them (STYLE.md's table, README "Layout").

  layers.py lines    source lines per layer, and the largest files
  layers.py imports  every `crate::` path that names a higher layer, and
                     every pair of modules that name each other; exit 1 if any

A layer may use the layers below it only. `format` (constants and rules of
the format, no I/O) is the lowest; `error`, `clock` and `escape` are the
foundation every layer may use; `testkit` (arbitrary keyspaces for property
tests and fuzzing) uses them all; `lib.rs` and `main.rs` sit on top.
"""
import os
import re
import sys
from collections import defaultdict

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")

# Lowest first.
ORDER = ["format", "error", "clock", "escape", "progress", "input", "token", "event",
         "keyspace", "source", "output", "memory", "cmd", "testkit", "cli", "main", "lib"]
FOUNDATION = {"error", "clock", "escape", "progress"}


def files():
    for root, _, names in os.walk(SRC):
        for n in sorted(names):
            if n.endswith(".rs"):
                path = os.path.join(root, n)
                yield os.path.relpath(path, SRC), path


def module_path(rel):
    """`cmd/check/mod.rs` -> ["cmd", "check"]; `main.rs` -> ["main"]."""
    parts = rel[:-3].split(os.sep)
    if parts[-1] == "mod":
        parts.pop()
    return parts


def layer(rel):
    return module_path(rel)[0]


def rank(name):
    return ORDER.index(name) if name in ORDER else None


def code_lines(text):
    """Lines that are not blank and not only a comment; unit tests left out."""
    n = 0
    for line in text.split("\n"):
        if line.strip() == "#[cfg(test)]":
            break
        s = line.strip()
        if s and not s.startswith("//"):
            n += 1
    return n


def lines():
    per_layer = defaultdict(int)
    sizes = []
    for rel, path in files():
        text = open(path, encoding="utf-8").read()
        n = code_lines(text)
        per_layer[layer(rel)] += n
        sizes.append((len(text.split("\n")), n, rel))
    total = sum(per_layer.values())
    for name in sorted(per_layer, key=lambda k: (rank(k) is None, rank(k) or 0, k)):
        print(f"  {name:10} {per_layer[name]:6} code lines")
    print(f"  {'total':10} {total:6} code lines (blank, comment and #[cfg(test)] lines left out)")
    print("  largest files (all lines / code lines):")
    for all_lines, n, rel in sorted(sizes, reverse=True)[:5]:
        print(f"    {rel}: {all_lines} / {n}")


PATH = re.compile(r"\b(crate|super)((?:::\w+)*)(::\{[^}]*\})?")


def resolve(mod, kind, rest):
    """The module path a `crate::…` or `super::…` path names."""
    names = rest.strip(":").split("::")
    if kind == "crate":
        return names
    base = list(mod)
    while names and names[0] == "super":
        names.pop(0)
        base.pop()
    # `super::x` from a file module `a/b.rs` ([a, b]) names a::x.
    return base[:-1] + names if base else names


def imports():
    bad = []
    edges = defaultdict(set)  # second-level module -> second-level modules it names
    known = {tuple(module_path(rel)) for rel, _ in files()}
    for rel, path in files():
        mod = module_path(rel)
        text = open(path, encoding="utf-8").read()
        text = text.split("#[cfg(test)]")[0]
        own = layer(rel)
        paths = []
        for m in PATH.finditer(text):
            if m.group(3):  # `use crate::a::{b, c::d}`: each item.
                for item in m.group(3)[3:-1].split(","):
                    first = item.strip().split("::")[0].split(" ")[0]
                    if first and first != "self":
                        paths.append((m.group(1), f"{m.group(2)}::{first}"))
            if m.group(2):
                paths.append((m.group(1), m.group(2)))
        for kind, rest in paths:
            target = resolve(mod, kind, rest)
            if not target:
                continue
            top = target[0]
            if top == own or top in FOUNDATION or rank(top) is None or rank(own) is None:
                pass
            elif rank(top) > rank(own):
                bad.append(f"{rel}: names {'::'.join(target[:2])} ({top} is above {own})")
            # The module a path names: its longest prefix that is a file.
            for k in range(len(target), 0, -1):
                if tuple(target[:k]) in known:
                    a, b = tuple(mod[:2]), tuple(target[:k][:2])
                    if a != b and a[:1] != ("lib",) and a[:1] != ("main",):
                        edges[a].add(b)
                    break
    cycles = sorted({tuple(sorted((a, b))) for a in edges for b in edges[a] if a in edges.get(b, ())})
    for line in sorted(set(bad)):
        print("  upward: " + line)
    for a, b in cycles:
        print(f"  cycle: {'::'.join(a)} <-> {'::'.join(b)}")
    print(f"  {len(set(bad))} upward paths, {len(cycles)} module cycles")
    return 1 if bad or cycles else 0


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "imports"
    sys.exit(lines() if what == "lines" else imports())
