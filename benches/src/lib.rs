//! Workspace-level benches.
