//! `kvstore`: the embeddable LSM key-value engine.
#![forbid(unsafe_code)]

pub mod error;
pub mod filename;
pub mod format;
pub mod manifest;
pub mod version;
pub mod version_edit;
pub mod version_set;

pub use error::{Error, Result};
