//! One module per command group.

pub mod bench;
pub mod cluster;
pub mod crash_demo;
pub mod data;
pub mod dump;
pub mod load;
pub mod maintenance;
pub mod remote;
pub mod serve;
pub mod stats;
pub mod tour;
pub mod verify;
