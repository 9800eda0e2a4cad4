//! `kseal status`: an audit of encrypted files for people and for CI: recipients, when each
//! file was last encrypted, the sops version that wrote it, whether its recipients still match
//! `.sops.yaml`, and whether its MAC verifies (when an identity opens it). `--max-age` turns
//! "rotate regularly" into a check that fails; `--json` is documented in docs/status.md. The
//! audit and its reports are `kseal::ops::status`; here: files, identities, exit code.

use std::sync::OnceLock;

use time::OffsetDateTime;

use kseal::error::{Error, Kind, Result};
use kseal::keys::Identities;
use kseal::ops::plan::Planner;
use kseal::ops::status::{self, Audit, FileStatus, LoadIds};
use kseal::sops::rekey;

use super::{load_identities, parallel_map, warn};
use crate::cli::StatusArgs;
use crate::fsio::{self, Input};
use crate::fsio::{targets, Target};

pub fn run(args: &StatusArgs) -> Result<()> {
    let max_age = args
        .max_age
        .as_deref()
        .map(rekey::parse_duration)
        .transpose()?;
    let planner = Planner::from_config(args.config.file.as_deref(), &super::Process)?;
    if args.fail_stale && !planner.has_config() {
        // A gate with nothing to compare against would pass everything.
        return Err(Error::new(
            Kind::Config,
            "--fail-stale compares recipients with .sops.yaml, and no .sops.yaml was found",
        )
        .with_hint("run it inside the repository, or name the file with --config"));
    }
    let now = OffsetDateTime::now_utc();
    let targets = targets(&args.files)?;
    // Identities are loaded once, when the first encrypted file needs them.
    let ids: OnceLock<Option<Identities>> = OnceLock::new();
    let load_ids: &LoadIds<'_> = &|| {
        ids.get_or_init(|| match load_identities(&args.identity.files) {
            Ok(i) => Some(i),
            Err(e) => {
                warn(&format!("MACs are not checked: {e}"));
                None
            }
        })
        .as_ref()
    };
    let audit = Audit {
        planner: &planner,
        now,
        max_age,
        ids: (!args.no_verify).then_some(load_ids),
        read_options: super::read_options,
    };
    let results = parallel_map(&targets, |t: &Target| {
        let text = fsio::read_input(&Input::File(t.path.clone()));
        Ok(status::inspect(&t.path, text, &audit))
    });
    // Per-file problems are in the statuses; an error here is a worker thread that failed.
    let statuses = results.into_iter().collect::<Result<Vec<FileStatus>>>()?;

    let text = if args.json {
        status::render_json(&statuses, now, max_age)
    } else {
        kseal::error::escape_controls(&status::render_text(&statuses, max_age), true).into_owned()
    };
    fsio::write_stdout(text.as_bytes())?;

    if let Some(e) = statuses.iter().find_map(|s| s.error.as_ref()) {
        let n = statuses.iter().filter(|s| s.error.is_some()).count();
        return Err(Error::new(
            e.kind,
            format!(
                "{n} of {} could not be read (see above)",
                super::count(statuses.len(), "file")
            ),
        ));
    }
    let failed_mac = statuses.iter().filter(|s| s.mac == Some("failed")).count();
    if failed_mac > 0 {
        return Err(Error::integrity(format!(
            "the MAC of {} does not verify: modified after encryption",
            super::count(failed_mac, "file")
        ))
        .with_hint("restore them from version control"));
    }
    let old = statuses.iter().filter(|s| s.too_old).count();
    if old > 0 {
        return Err(Error::new(
            Kind::Refused,
            format!(
                "{} {} last encrypted more than {} ago",
                super::count(old, "file"),
                if old == 1 { "was" } else { "were" },
                rekey::format_duration(max_age.unwrap_or(0))
            ),
        )
        .with_hint("rotate them with `kseal rotate FILE...` (a new data key)"));
    }
    let stale = statuses.iter().filter(|s| s.rules == Some("stale")).count();
    if args.fail_stale && stale > 0 {
        return Err(Error::new(
            Kind::Refused,
            format!(
                "{} {} not encrypted to the recipients .sops.yaml names (--fail-stale)",
                super::count(stale, "file"),
                if stale == 1 { "is" } else { "are" }
            ),
        )
        .with_hint("run `kseal updatekeys` and commit the result"));
    }
    Ok(())
}
