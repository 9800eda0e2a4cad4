//! The SOPS v3 format: encrypted values, crypt rules, the MAC, the `sops:` block, and whole
//! files (decrypt and encrypt by splicing into the original bytes).

pub mod chunked;
pub mod file;
pub mod keygroups;
pub mod mac;
pub mod metadata;
pub mod rekey;
pub mod rules;
pub mod shamir;
pub mod structural;
pub mod value;

#[cfg(test)]
mod nonce_tests;
#[cfg(test)]
mod test_support;
