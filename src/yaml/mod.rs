//! Lossless YAML: documents, mappings and scalars with exact byte spans, go-yaml-v3 scalar
//! typing, and splicing replacement text into the original bytes.

pub mod json;
pub mod mapping_edit;
pub mod scalar;
pub mod splice;
pub mod tree;
