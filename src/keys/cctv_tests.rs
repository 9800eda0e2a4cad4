//! The C2SP age test vectors (npm `cctv-age`) for the hybrid post-quantum type: every hybrid
//! vector's identities load through kseal's identity parsing, success vectors decrypt to the
//! stated payload (so the stated file key was unwrapped), failure vectors are refused.

use std::io::Read;
use std::process::Command;

use base64::prelude::{Engine, BASE64_STANDARD};
use sha2::{Digest, Sha256};

use super::Identities;
use crate::keys::testutil::hex;

/// Prints one tab-separated line per hybrid vector: name, expect, payload hash, identities
/// (comma-separated), the age file (zlib-inflated when the vector says so) in base64.
const DUMP: &str = r#"
const v = require(process.argv[1] + '/cctv-age');
const zlib = require('node:zlib');
for (const [name, bytes] of Object.entries(v)) {
  if (!name.includes('hybrid')) continue;
  const buf = Buffer.from(bytes);
  const cut = buf.indexOf('\n\n');
  const head = buf.subarray(0, cut).toString('utf8').split('\n');
  let body = buf.subarray(cut + 2);
  const field = (k) => head.filter((l) => l.startsWith(k + ': ')).map((l) => l.slice(k.length + 2));
  if (field('compressed')[0] === 'zlib') body = zlib.inflateSync(body);
  console.log([name, field('expect')[0], field('payload')[0] || '-',
    field('identity').join(','), body.toString('base64')].join('\t'));
}
"#;

#[test]
fn c2sp_hybrid_vectors() {
    // `make mutants` runs this in a copy of the tree without target/: it names the
    // original's modules through KSEAL_TEST_NODE_MODULES.
    let modules = std::env::var_os("KSEAL_TEST_NODE_MODULES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/node/node_modules")
        });
    let out = match Command::new("node")
        .arg("-e")
        .arg(DUMP)
        .arg(&modules)
        .output()
    {
        Ok(o) => o,
        Err(_) => {
            eprintln!("note: node is not installed: the C2SP vector test is skipped");
            return;
        }
    };
    assert!(
        out.status.success(),
        "cctv-age is not installed under target/node (.ci/run installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = String::from_utf8(out.stdout).unwrap();
    let mut count = 0;
    for line in lines.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [name, expect, payload, identities, file] = f[..] else {
            panic!("unexpected vector line");
        };
        let file = BASE64_STANDARD.decode(file).unwrap();
        let mut ids = Identities::new();
        let text: Vec<&str> = identities.split(',').collect();
        ids.add_identity_file_text(&text.join("\n"), name)
            .unwrap_or_else(|e| panic!("{name}: identity refused: {}", e.message));
        assert_eq!(ids.len(), text.len(), "{name}");

        // armor_hybrid is armored; the reader passes binary files through.
        let decryptor = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(&file[..]));
        let result = decryptor.map_err(|e| e.to_string()).and_then(|d| {
            let mut r = d
                .decrypt(ids.native.iter().map(|i| i.as_ref() as &dyn age::Identity))
                .map_err(|e| e.to_string())?;
            let mut plain = Vec::new();
            r.read_to_end(&mut plain).map_err(|e| e.to_string())?;
            Ok(plain)
        });
        match expect {
            "success" => {
                let plain = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(hex(&Sha256::digest(&plain)), payload, "{name}");
            }
            _ => {
                assert!(result.is_err(), "{name}: expected {expect}");
                // kseal's own unwrap refuses it too.
                assert!(ids.unwrap_bytes(&file).is_err(), "{name}");
            }
        }
        count += 1;
    }
    assert_eq!(count, 19, "hybrid vectors");
}
