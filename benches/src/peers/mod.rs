//! The peers a Rust user would otherwise pick, each behind the cargo feature of its name so
//! that CI and `cargo test` never build them.

#[cfg(feature = "fjall")]
pub mod fjall;
#[cfg(feature = "redb")]
pub mod redb;
#[cfg(feature = "rocksdb")]
pub mod rocksdb;
#[cfg(feature = "sled")]
pub mod sled;
