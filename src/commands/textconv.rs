//! `kseal decrypt --textconv`: git's diff text conversion. It never fails the diff: a file
//! that cannot be decrypted here (no key, bad MAC, not YAML) is shown as it is, with a note.
//! A decrypted file is shown as `kseal edit` shows it: `data` values decoded, so a changed
//! password reads `s3cr3t` -> `n3w`, not `czNjcjN0` -> `bjN3`.

use std::io::Read;

use kseal::error::Result;
use kseal::sops::file::{self, DecryptOptions};

use super::{load_identities, IdentityOpener};
use crate::cli::DecryptArgs;
use crate::fsio::{self, Input, MAX_INPUT};

pub fn run(args: &DecryptArgs) -> Result<()> {
    let inputs = fsio::expand_inputs(&args.files).unwrap_or_else(|_| {
        args.files
            .iter()
            .map(|p| Input::File(p.to_path_buf()))
            .collect()
    });
    for input in &inputs {
        let out = convert(input, &args.identity.files);
        // A closed pipe or a full disk must not turn into a failed diff either.
        let _ = fsio::write_stdout(&out);
    }
    Ok(())
}

/// The text git shows for one file.
fn convert(input: &Input, identity: &[std::path::PathBuf]) -> Vec<u8> {
    let mut bytes = Vec::new();
    let read = match input {
        Input::Stdin => std::io::stdin()
            .lock()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut bytes)
            .map(|_| ()),
        Input::File(p) => std::fs::File::open(p)
            .and_then(|f| f.take(MAX_INPUT + 1).read_to_end(&mut bytes))
            .map(|_| ()),
    };
    if let Err(e) = read {
        return format!("# kseal: cannot read this file for the diff: {e}\n").into_bytes();
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return bytes;
    };
    if !text.contains("sops") {
        return bytes;
    }
    let result = load_identities(identity).and_then(|ids| {
        file::decrypt(
            text,
            &IdentityOpener { ids: &ids },
            &DecryptOptions {
                plain_only: true,
                ..super::read_options()
            },
        )
    });
    match result {
        // The view only decodes; should it fail, the decrypted text is still worth a diff.
        Ok(d) => match kseal::view::to_view(&d.text) {
            Ok((view, _)) => view.as_bytes().to_vec(),
            Err(_) => d.text.as_bytes().to_vec(),
        },
        Err(e) => {
            // The error names kinds, paths and recipients, never a value.
            let first = e.message.lines().next().unwrap_or("").to_string();
            let mut out =
                format!("# kseal: not decrypted for this diff ({first}); showing the ciphertext\n")
                    .into_bytes();
            out.extend_from_slice(&bytes);
            out
        }
    }
}
