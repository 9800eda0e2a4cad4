//! Kubernetes knowledge.
