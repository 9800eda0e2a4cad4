//! `kseal encrypt`: seal the Secrets of a manifest for their recipients, keeping every other
//! byte, and check the result reads back as what was sealed before writing it (the pipeline is
//! `kseal::ops::seal`; the recipients come from `kseal::ops::plan`).

use std::path::Path;

use kseal::error::{Error, Kind, Result};
use kseal::ops::plan;
use kseal::ops::seal::{self, Recipients};

use super::{check_in_place, warn, Process};
use crate::cli::EncryptArgs;
use crate::fsio::{self, Input};

pub fn run(args: &EncryptArgs) -> Result<()> {
    if let Some(previous) = &args.previous {
        return run_previous(args, previous);
    }
    let inputs = fsio::expand_inputs(&args.files)?;
    if inputs.is_empty() {
        // Only an empty directory gets here: succeeding silently would look like a sealed file.
        return Err(
            Error::new(Kind::Input, "no *.yaml, *.yml or *.json file to encrypt")
                .with_hint("name the files to encrypt"),
        );
    }
    if args.out.in_place {
        check_in_place(&inputs)?;
    } else if inputs.len() > 1 {
        return Err(Error::new(
            Kind::Usage,
            "several inputs need --in-place: each file is its own envelope",
        )
        .with_hint("encrypt one file at a time to stdout or -o, or use -i"));
    }
    if args.filename_override.path.is_some() && inputs.len() > 1 {
        return Err(Error::new(
            Kind::Usage,
            "--filename-override names one file: give one input",
        ));
    }
    let planner = super::planner(&args.recipients)?;
    for input in &inputs {
        let name = match (input, &args.filename_override.path) {
            (Input::Stdin, Some(o)) => o.display().to_string(),
            _ => input.name(),
        };
        let target = plan::rules_target(
            args.filename_override.path.as_deref(),
            args.out.output.as_deref(),
            match input {
                Input::File(p) => Some(p),
                Input::Stdin => None,
            },
        );
        // Plan before reading, so that a missing recipient fails before stdin is read, unless
        // a namespace rule needs the manifest.
        let early = planner.plan_early(target).map_err(|e| e.in_file(&name))?;
        let text = zeroize::Zeroizing::new(fsio::read_input(input).map_err(|e| e.in_file(&name))?);
        let recipients = match &early {
            Some(p) => Recipients::Plan(p),
            None => Recipients::Rules(&planner, target),
        };
        let out = seal::seal(&name, &text, recipients, args.clean, &Process)
            .map_err(|e| e.in_file(&name))?;
        fsio::check_output_size(out.len()).map_err(|e| e.in_file(&name))?;
        match (input, &args.out.output, args.out.in_place) {
            // Compare-before-rename: a file changed (or encrypted by another kseal) since it
            // was read is not overwritten with the encryption of its old content.
            (Input::File(p), _, true) => {
                let expected = fsio::Expect::Content(text.as_bytes());
                if !fsio::replace_if_unchanged(p, expected, out.as_bytes(), 0o644)? {
                    return Err(fsio::changed_on_disk(p));
                }
            }
            (_, Some(o), _) => fsio::write_atomic(o, out.as_bytes(), 0o644)?,
            _ => fsio::write_stdout(out.as_bytes())?,
        }
    }
    Ok(())
}

/// `--previous FILE`, for editor plugins: the input is the edited plaintext of FILE, sealed
/// into FILE's own envelope (same data key, recipients and crypt rule; unchanged values keep
/// their `ENC[...]` text through the IV stash), so the Git diff shows only what was edited.
fn run_previous(args: &EncryptArgs, previous: &Path) -> Result<()> {
    if args.out.in_place {
        return Err(Error::new(
            Kind::Usage,
            "--previous writes to stdout or -o, not --in-place",
        )
        .with_hint("the plaintext comes from stdin or a file; FILE itself is only read"));
    }
    let inputs = fsio::expand_inputs(&args.files)?;
    let [input] = inputs.as_slice() else {
        return Err(Error::new(
            Kind::Usage,
            "--previous takes one input: the edited plaintext (stdin or a file)",
        ));
    };
    if !args.recipients.age.is_empty()
        || !args.recipients.recipients_file.is_empty()
        || args.recipients.config.file.is_some()
        || args.filename_override.path.is_some()
    {
        warn(&format!(
            "--age, --recipients-file, --config and --filename-override are ignored with --previous: the recipients are those of {}",
            previous.display()
        ));
    }
    let opened = super::open_encrypted(previous, &args.identity.files)?;
    let name = input.name();
    let text = zeroize::Zeroizing::new(fsio::read_input(input).map_err(|e| e.in_file(&name))?);
    let select = opened.selector();
    let out = seal::reseal(
        &name,
        &text,
        opened.envelope(),
        &select,
        args.clean,
        &Process,
    )
    .map_err(|e| e.in_file(&name))?;
    fsio::check_output_size(out.len()).map_err(|e| e.in_file(&name))?;
    match &args.out.output {
        // `-o FILE` over FILE itself (the editor plugins' save): compare-before-rename, as
        // `kseal edit` does, so a change made on disk since FILE was read is not lost.
        Some(o) if same_file(o, previous) => super::write_back(previous, &opened.original, &out),
        Some(o) => fsio::write_atomic(o, out.as_bytes(), 0o644),
        None => fsio::write_stdout(out.as_bytes()),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}
