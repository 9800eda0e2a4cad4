//! `kseal decrypt`: files or directories to one stream of plain manifests, or in place.
//! Nothing is written until every input has decrypted and verified.

use std::sync::Mutex;

use zeroize::Zeroizing;

use kseal::error::Result;
use kseal::keys::Identities;
use kseal::sops::file::{self, DecryptOptions};

use super::{check_in_place, load_identities, parallel_map, warn, IdentityOpener};
use crate::cli::DecryptArgs;
use crate::fsio::{self, Input};

struct Done {
    text: Zeroizing<String>,
    encrypted: bool,
    mac_ok: bool,
    /// The input as read, kept for `-i` only.
    original: Option<String>,
    /// Why a file found in a directory was left out of the stream (not a Kubernetes object).
    skipped: Option<String>,
}

pub fn run(args: &DecryptArgs) -> Result<()> {
    let (inputs, walked) = collect_inputs(args)?;
    if args.out.in_place {
        check_in_place(&inputs)?;
    }
    // `--filename-override` names stdin in messages (sops scripts pass it).
    let name_of = |input: &Input| match (input, &args.filename_override.path) {
        (Input::Stdin, Some(o)) => o.display().to_string(),
        _ => input.name(),
    };
    let (slots, may_be_encrypted) = read_ahead(&inputs)?;
    let ids = if may_be_encrypted {
        load_identities(&args.identity.files)?
    } else {
        Identities::new()
    };
    let job = Job {
        opener: IdentityOpener { ids: &ids },
        opts: DecryptOptions {
            ignore_mac: args.ignore_mac,
            plain_only: true,
            ..super::read_options()
        },
        in_place: args.out.in_place,
    };
    let indexes: Vec<usize> = (0..inputs.len()).collect();
    let results = parallel_map(&indexes, |&i| {
        job.decrypt_one(&inputs[i], &slots[i], walked[i], &name_of)
    });
    let mut done = Vec::with_capacity(results.len());
    for r in results {
        done.push(r?);
    }
    report(&inputs, &done, &name_of);
    if args.out.in_place {
        return write_in_place(&inputs, &done);
    }
    write_stream(&done, args.out.output.as_deref())
}

/// The inputs, and for each whether it was found by walking a directory (as opposed to
/// named): those that are not Kubernetes objects (a kustomization, a KRM function config)
/// stay out of the stream, which is meant for `kubectl apply`.
fn collect_inputs(args: &DecryptArgs) -> Result<(Vec<Input>, Vec<bool>)> {
    let mut inputs = Vec::new();
    let mut walked = Vec::new();
    if args.files.is_empty() {
        inputs = fsio::expand_inputs(&args.files)?;
        walked.push(false);
    }
    for a in &args.files {
        let found = fsio::expand_inputs(std::slice::from_ref(a))?;
        walked.extend(std::iter::repeat_n(a.is_dir(), found.len()));
        inputs.extend(found);
    }
    Ok((inputs, walked))
}

/// Identities are loaded once, and only when some input may be encrypted: plain manifests
/// pass through without touching any key. Inputs are read in order until one may be (stdin
/// always, it can be read once only); the workers read the rest, so a directory run never
/// holds every input at once. The texts read here go to the workers as they are.
fn read_ahead(inputs: &[Input]) -> Result<(Vec<Mutex<Option<String>>>, bool)> {
    let mut slots: Vec<Mutex<Option<String>>> = Vec::with_capacity(inputs.len());
    let mut may_be_encrypted = false;
    for input in inputs {
        let text = if may_be_encrypted && !matches!(input, Input::Stdin) {
            None
        } else {
            let t = fsio::read_input(input).map_err(|e| e.in_file(input.name()))?;
            may_be_encrypted |= t.contains("sops");
            Some(t)
        };
        slots.push(Mutex::new(text));
    }
    Ok((slots, may_be_encrypted))
}

/// What every worker decrypts with.
struct Job<'a> {
    opener: IdentityOpener<'a>,
    opts: DecryptOptions,
    in_place: bool,
}

impl Job<'_> {
    /// Decrypts one input. Each input is freed by its worker as soon as it is decrypted (only
    /// `-i` keeps it, to check the file did not change before replacing it): a directory run
    /// holds the outputs until every file has verified, not the inputs too.
    fn decrypt_one(
        &self,
        input: &Input,
        slot: &Mutex<Option<String>>,
        walked: bool,
        name_of: &dyn Fn(&Input) -> String,
    ) -> Result<Done> {
        let read = slot.lock().ok().and_then(|mut t| t.take());
        let text = match read {
            Some(t) => t,
            None => fsio::read_input(input).map_err(|e| e.in_file(input.name()))?,
        };
        if walked && !self.in_place {
            if let Some(why) = kseal::kube::not_an_object(&text) {
                return Ok(Done {
                    text: Zeroizing::new(String::new()),
                    encrypted: false,
                    mac_ok: true,
                    original: None,
                    skipped: Some(why),
                });
            }
        }
        let out = file::decrypt(&text, &self.opener, &self.opts)
            .map_err(|e| e.in_file(name_of(input)))?;
        let (encrypted, mac_ok) = match &out.envelope {
            Some(env) => {
                super::warn_narrow(&input.name(), env);
                (true, env.mac_ok)
            }
            None => (false, true),
        };
        Ok(Done {
            text: out.text,
            encrypted,
            mac_ok,
            original: self.in_place.then_some(text),
            skipped: None,
        })
    }
}

/// The notes and warnings about each input, once every input has decrypted.
fn report(inputs: &[Input], done: &[Done], name_of: &dyn Fn(&Input) -> String) {
    for (input, d) in inputs.iter().zip(done) {
        if let Some(why) = &d.skipped {
            super::note(&format!(
                "{}: skipped, not a Kubernetes object to apply ({why}); name the file to decrypt it anyway",
                name_of(input)
            ));
        }
        if !d.mac_ok {
            warn(&format!(
                "{}: MAC mismatch ignored (--ignore-mac): this file may have been tampered with",
                name_of(input)
            ));
        }
    }
}

/// `-i`: replaces each encrypted file with its plaintext (private permissions).
fn write_in_place(inputs: &[Input], done: &[Done]) -> Result<()> {
    for (input, d) in inputs.iter().zip(done) {
        if let (Input::File(p), true, Some(original)) = (input, d.encrypted, &d.original) {
            // Compare-before-rename: an encrypted file changed since it was read (an edit,
            // another kseal) is not overwritten with the plaintext of its old version.
            let expected = fsio::Expect::Content(original.as_bytes());
            if !fsio::replace_private_if_unchanged(p, expected, d.text.as_bytes())? {
                return Err(fsio::changed_on_disk(p));
            }
        }
    }
    Ok(())
}

/// One stream of every input's documents, to `-o FILE` (private permissions) or stdout.
fn write_stream(done: &[Done], output: Option<&std::path::Path>) -> Result<()> {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(done.len() * 2);
    let mut first = true;
    let mut ends_with_break = true;
    for d in done {
        if d.text.trim().is_empty() {
            continue;
        }
        if !first {
            parts.push(separator(ends_with_break, &d.text));
        }
        first = false;
        ends_with_break = d.text.ends_with('\n');
        parts.push(d.text.as_bytes());
    }
    match output {
        Some(path) => fsio::write_private(path, &Zeroizing::new(parts.concat())),
        None => fsio::write_stdout_parts(&parts),
    }
}

/// What goes between one file's documents and the next file's: a line break if the first
/// lacks one, and `---` unless the next file starts with its own.
fn separator(prev_ends_with_break: bool, next: &str) -> &'static [u8] {
    match (prev_ends_with_break, next.starts_with("---")) {
        (true, true) => b"",
        (true, false) => b"---\n",
        (false, true) => b"\n",
        (false, false) => b"\n---\n",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_joined_with_separators() {
        let texts = ["a: 1", "", "---\nb: 2\n", "c: 3\n"];
        let mut out = Vec::new();
        let mut first = true;
        let mut ends = true;
        for t in texts {
            if t.trim().is_empty() {
                continue;
            }
            if !first {
                out.extend_from_slice(separator(ends, t));
            }
            first = false;
            ends = t.ends_with('\n');
            out.extend_from_slice(t.as_bytes());
        }
        assert_eq!(out, b"a: 1\n---\nb: 2\n---\nc: 3\n");
    }
}
