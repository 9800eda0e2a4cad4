//! go-yaml v3 scalar typing (placeholder, being written).
