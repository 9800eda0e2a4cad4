//! Lossless YAML: documents, mappings and scalars with exact byte spans, go-yaml-v3 scalar
//! typing, splicing replacement text into the original bytes, and go-yaml v2's emitter.

pub mod goyaml_v2;
pub mod input;
pub mod json;
pub mod layout;
pub mod mapping_edit;
pub mod merge;
pub mod scalar;
pub mod splice;
pub mod tree;
