//! Micro-benchmarks of kseal's hot paths (issue 8): `cargo bench --bench micro`.
//!
//! - `value_seal` / `value_open`: one AES-256-GCM value with sops's 32-byte IV, by size.
//! - `mac`: the SHA-512 file MAC over a value, by size.
//! - `yaml_parse`: `yaml::tree::parse` of a Secret document, by document size.
//! - `splice_apply`: `yaml::splice::apply` of the edits an encryption makes, by document size.
//! - `file_decrypt` / `file_encrypt` / `file_encrypt_checked`: a whole document through
//!   `sops::file` with a fixed data key (no age), by document size.
//! - `unwrap_data_key`: `keys::Identities::unwrap` of an armored age envelope made by
//!   `keys::wrap` (one X25519 stanza), and `wrap_data_key`, its inverse.
//!
//! Whole-command comparisons with sops are `make bench` (bench/run.sh); results and their
//! reading are in docs/benchmarks.md.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use divan::counter::BytesCount;
use divan::{black_box, Bencher};

use kseal::keys::{self, Identities, Recipient};
use kseal::kube;
use kseal::secret::DataKey;
use kseal::sops::file::{self, DecryptOptions, EncryptSettings};
use kseal::sops::mac::MacHasher;
use kseal::sops::metadata::AgeEntry;
use kseal::sops::rules::CryptRule;
use kseal::sops::value;
use kseal::yaml::splice::{self, Edit};
use kseal::yaml::tree;

fn main() {
    divan::main();
}

/// The public, insecure demo key pair of `keys-example/` (never a real secret).
const DEMO_IDENTITY: &str = include_str!("../keys-example/demo.agekey");
const DEMO_RECIPIENT: &str = include_str!("../keys-example/demo.recipient");

const VALUE_SIZES: [usize; 3] = [100, 10_000, 1_000_000];

/// Deterministic pseudo-random bytes (xorshift64*): incompressible like real binary values.
fn bytes(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ n as u64;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(n);
    out
}

fn fixed_key() -> DataKey {
    DataKey::from_bytes(&[7u8; 32]).expect("32 bytes")
}

const AAD: &[u8] = b"data:blob:";
const IV: [u8; value::IV_LEN] = [42u8; value::IV_LEN];

#[divan::bench(args = VALUE_SIZES)]
fn value_seal(bencher: Bencher, size: usize) {
    let key = fixed_key();
    let pt = bytes(size);
    bencher
        .counter(BytesCount::new(size))
        .bench(|| value::seal(&key, black_box(&pt), AAD, &IV, "str").unwrap());
}

#[divan::bench(args = VALUE_SIZES)]
fn value_open(bencher: Bencher, size: usize) {
    let key = fixed_key();
    let sealed = value::seal(&key, &bytes(size), AAD, &IV, "str").unwrap();
    // `open` takes the parsed value; the parse (base64 decoding of the ENC[...] text) is part
    // of every decryption, so it is measured separately below and together here.
    bencher.counter(BytesCount::new(size)).bench(|| {
        let v = value::parse(black_box(&sealed)).unwrap();
        value::open(&key, &v, AAD).unwrap()
    });
}

#[divan::bench(args = VALUE_SIZES)]
fn value_parse(bencher: Bencher, size: usize) {
    let key = fixed_key();
    let sealed = value::seal(&key, &bytes(size), AAD, &IV, "str").unwrap();
    bencher
        .counter(BytesCount::new(size))
        .bench(|| value::parse(black_box(&sealed)).unwrap());
}

#[divan::bench(args = VALUE_SIZES)]
fn mac(bencher: Bencher, size: usize) {
    let pt = bytes(size);
    bencher.counter(BytesCount::new(size)).bench(|| {
        let mut m = MacHasher::new(false);
        m.value(black_box(&pt), true);
        m.finish()
    });
}

/// The documents of the whole-file benchmarks.
#[derive(Clone, Copy, Debug)]
enum Doc {
    /// A Secret with 3 short `data` keys and 3 `stringData` keys, labels and comments
    /// (about 600 bytes: `keys-example/secret.yaml`).
    Small,
    /// A Secret holding one 100 KB binary value (about 137 KB of YAML).
    Value100K,
    /// A Secret holding one 1 MB binary value (about 1.37 MB of YAML).
    Value1M,
}

const DOCS: [Doc; 3] = [Doc::Small, Doc::Value100K, Doc::Value1M];

impl std::fmt::Display for Doc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Doc::Small => "small",
            Doc::Value100K => "100KB",
            Doc::Value1M => "1MB",
        })
    }
}

impl Doc {
    fn plain(self) -> String {
        let size = match self {
            Doc::Small => return include_str!("../keys-example/secret.yaml").to_string(),
            Doc::Value100K => 100_000,
            Doc::Value1M => 1_000_000,
        };
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: blob\n  namespace: bench\n\
             type: Opaque\ndata:\n  blob: {}\n  user: YWRtaW4=\n",
            STANDARD.encode(bytes(size))
        )
    }
}

fn settings(key: &DataKey) -> EncryptSettings<'_> {
    let recipient = Recipient::parse(DEMO_RECIPIENT).unwrap();
    EncryptSettings {
        key_groups: None,
        rule: CryptRule::kubernetes(),
        mac_only_encrypted: false,
        key,
        age: vec![AgeEntry {
            recipient: recipient.text().to_string(),
            enc: keys::wrap(key, &recipient).unwrap(),
        }],
        lastmodified: "2026-01-01T00:00:00Z".to_string(),
        version: "3.11.0".to_string(),
        stash: None,
        policy: None,
    }
}

#[divan::bench(args = DOCS)]
fn yaml_parse(bencher: Bencher, doc: Doc) {
    let src = doc.plain();
    bencher
        .counter(BytesCount::of_str(&src))
        .bench(|| tree::parse(black_box(&src)).unwrap());
}

/// Parse of the encrypted form (what decrypt parses: `ENC[...]` values and the `sops:` block).
#[divan::bench(args = DOCS)]
fn yaml_parse_encrypted(bencher: Bencher, doc: Doc) {
    let key = fixed_key();
    let enc = file::encrypt(&doc.plain(), &settings(&key), &kube::is_secret).unwrap();
    bencher
        .counter(BytesCount::of_str(&enc))
        .bench(|| tree::parse(black_box(&enc)).unwrap());
}

/// Splicing: the edits of an encryption applied to the document, each `data` value replaced
/// by a text as long as its `ENC[...]` (base64 of the value text plus about 130 bytes).
#[divan::bench(args = DOCS)]
fn splice_apply(bencher: Bencher, doc: Doc) {
    let src = doc.plain();
    let stream = tree::parse(&src).unwrap();
    let data = stream.docs[0]
        .root_mapping()
        .and_then(|m| m.get("data"))
        .and_then(|n| n.as_mapping())
        .unwrap();
    let edits: Vec<(usize, usize, String)> = data
        .entries
        .iter()
        .filter_map(|(_, v)| v.as_scalar())
        .map(|s| (s.start, s.end, "x".repeat((s.end - s.start) * 4 / 3 + 130)))
        .collect();
    let out_len = src.len() + edits.iter().map(|e| e.2.len() - (e.1 - e.0)).sum::<usize>();
    bencher
        .counter(BytesCount::new(out_len))
        .with_inputs(|| {
            edits
                .iter()
                .map(|(a, b, t)| Edit::new(*a, *b, t.clone()))
                .collect::<Vec<_>>()
        })
        .bench_values(|edits| splice::apply(black_box(&src), edits).unwrap());
}

#[divan::bench(args = DOCS)]
fn file_decrypt(bencher: Bencher, doc: Doc) {
    let key = fixed_key();
    let enc = file::encrypt(&doc.plain(), &settings(&key), &kube::is_secret).unwrap();
    let opts = DecryptOptions::default();
    bencher
        .counter(BytesCount::of_str(&enc))
        .bench(|| file::decrypt(black_box(&enc), &key, &opts).unwrap());
}

#[divan::bench(args = DOCS)]
fn file_encrypt(bencher: Bencher, doc: Doc) {
    let key = fixed_key();
    let s = settings(&key);
    let src = doc.plain();
    bencher
        .counter(BytesCount::of_str(&src))
        .bench(|| file::encrypt(black_box(&src), &s, &kube::is_secret).unwrap());
}

/// What `kseal encrypt` runs: encrypt, then decrypt its own output and verify the MAC.
#[divan::bench(args = DOCS)]
fn file_encrypt_checked(bencher: Bencher, doc: Doc) {
    let key = fixed_key();
    let s = settings(&key);
    let src = doc.plain();
    bencher.counter(BytesCount::of_str(&src)).bench(|| {
        let stream = tree::parse(black_box(&src)).unwrap();
        file::encrypt_checked(&src, &stream, &s, &kube::is_secret).unwrap()
    });
}

#[divan::bench]
fn unwrap_data_key(bencher: Bencher) {
    let key = fixed_key();
    let recipient = Recipient::parse(DEMO_RECIPIENT).unwrap();
    let enc = keys::wrap(&key, &recipient).unwrap();
    let mut ids = Identities::new();
    ids.add_identity_file_text(DEMO_IDENTITY, "keys-example/demo.agekey")
        .unwrap();
    bencher.bench(|| ids.unwrap(black_box(&enc)).unwrap());
}

#[divan::bench]
fn wrap_data_key(bencher: Bencher) {
    let key = fixed_key();
    let recipient = Recipient::parse(DEMO_RECIPIENT).unwrap();
    bencher.bench(|| keys::wrap(&key, black_box(&recipient)).unwrap());
}
