//! `kseal set` and `kseal unset`: change one key of one Secret in an encrypted file (see
//! `kseal::ops::set`, which splices the decrypted text and seals it into the same envelope).

use std::io::Read;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use kseal::error::{Error, Kind, Result};
use kseal::ops::set::{self as op, Entry, Unset, Which};

use super::{note, open_encrypted_as, warn, write_back};
use crate::cli::{FilenameOverrideArgs, SetArgs, UnsetArgs};
use crate::fsio::{read_bytes, MAX_INPUT};

pub fn run_set(a: &SetArgs) -> Result<()> {
    let name = a.file.display().to_string();
    op::check_key(&a.key)?;
    let value = read_value(a)?;
    let value: Zeroizing<String> = if a.string {
        match std::str::from_utf8(&value) {
            Ok(s) => Zeroizing::new(s.to_string()),
            Err(_) => {
                return Err(Error::format(
                    "the value is not UTF-8 text, so it cannot go under stringData",
                )
                .with_hint(
                    "leave out --string: the bytes are then stored base64-encoded under data",
                ))
            }
        }
    } else {
        Zeroizing::new(STANDARD.encode(&*value))
    };
    let opened = open_encrypted_as(
        &a.file,
        rules_as(&a.file, &a.filename_override),
        &a.identity.files,
    )?;
    let entry = Entry {
        key: &a.key,
        value: &value,
        string: a.string,
    };
    let done = op::set(
        &name,
        &opened.decrypted.text,
        opened.envelope(),
        which(&a.select),
        entry,
        &mut |w| warn(w),
    )?;
    write_back(&a.file, &opened.original, &done.text)?;
    if let Some(other) = done.removed_from {
        // Kubernetes merges stringData over data: a copy left in the other mapping would hide
        // the new value or be hidden by it.
        let target = if a.string { "stringData" } else { "data" };
        note(&format!(
            "{name}: document {}: removed {other}.{}: the key is now in {target}",
            done.doc + 1,
            a.key
        ));
    }
    Ok(())
}

pub fn run_unset(a: &UnsetArgs) -> Result<()> {
    let name = a.file.display().to_string();
    let opened = open_encrypted_as(
        &a.file,
        rules_as(&a.file, &a.filename_override),
        &a.identity.files,
    )?;
    let done = op::unset(
        &name,
        &opened.decrypted.text,
        opened.envelope(),
        which(&a.select),
        &a.key,
        &mut |w| warn(w),
    )?;
    match done {
        Unset::Changed(done) => write_back(&a.file, &opened.original, &done.text),
        Unset::Absent { .. } if a.idempotent => Ok(()),
        Unset::Absent { secret, .. } => Err(Error::format(format!(
            "{secret} has no key `{}` in data or stringData",
            a.key
        ))
        .in_file(&name)
        .with_hint("--idempotent succeeds without changing the file when the key is absent")),
    }
}

/// The path `.sops.yaml` rules are matched against: `--filename-override`, else the file.
fn rules_as<'a>(file: &'a Path, o: &'a FilenameOverrideArgs) -> &'a Path {
    o.path.as_deref().unwrap_or(file)
}

fn which(s: &crate::cli::DocSelector) -> Which<'_> {
    Which {
        doc: s.doc,
        name: s.name.as_deref(),
    }
}

fn read_value(a: &SetArgs) -> Result<Zeroizing<Vec<u8>>> {
    match (&a.value, &a.from_file, a.stdin) {
        (Some(v), None, false) => Ok(Zeroizing::new(v.as_bytes().to_vec())),
        (None, Some(p), false) => read_bytes(p),
        (None, None, true) => {
            let mut buf = Zeroizing::new(Vec::new());
            std::io::stdin()
                .lock()
                .take(MAX_INPUT + 1)
                .read_to_end(&mut buf)
                .map_err(|e| Error::new(Kind::Input, format!("cannot read stdin: {e}")))?;
            if buf.len() as u64 > MAX_INPUT {
                return Err(Error::new(
                    Kind::Input,
                    format!("stdin is larger than {} MiB", MAX_INPUT / 1024 / 1024),
                ));
            }
            Ok(buf)
        }
        (None, None, false) => Err(Error::new(
            Kind::Usage,
            "no value given: use --stdin, --from-file PATH or --value V",
        )),
        _ => Err(Error::new(
            Kind::Usage,
            "give the value once: --value, --from-file and --stdin exclude each other",
        )),
    }
}
