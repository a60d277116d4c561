//! Commands: each a function over writers, so tests can call them directly.
