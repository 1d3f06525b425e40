//! Replication on openraft (not built yet).
