//! The WAL guide use cases as runnable programs.
