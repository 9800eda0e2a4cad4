//! age recipients and identities (placeholder, being written).
