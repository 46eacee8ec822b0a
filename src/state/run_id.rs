//! Run ids (runs-and-state.md §1): `<slug>-<YYYYMMDD>-<HHMMSS>-<4 lowercase hex>` in UTC, and the
//! check applied to ids typed on the command line before they are used as a path component.

use std::time::SystemTime;

use sha2::{Digest, Sha256};

use super::error::StateError;
use super::time::format_utc;

/// Slugs are cut to this many characters.
const MAX_SLUG_CHARS: usize = 40;

/// The workflow-name part of a run id: [`slug`], or `run` if nothing is left.
pub fn workflow_slug(name: &str) -> String {
    slug_or(name, "run")
}

/// [`slug`], or `fallback` if nothing is left.
pub fn slug_or(name: &str, fallback: &str) -> String {
    let slug = slug(name);
    if slug.is_empty() {
        fallback.to_string()
    } else {
        slug
    }
}

/// A name made safe for a path component and a git ref: lower-cased, each run of characters
/// outside `[a-z0-9]` turned into one `-`, trimmed of `-`, cut to 40 characters. It may be empty.
///
/// A `-` that the cut leaves at the end is trimmed too, so that slugs never contain `--`.
pub fn slug(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug
        .trim_matches('-')
        .chars()
        .take(MAX_SLUG_CHARS)
        .collect();
    slug.trim_end_matches('-').to_string()
}

/// A new run id for a run of workflow `workflow_name` started at `now`, e.g.
/// `flokay-20261121-083312-7f3a`. The 4 hex digits come from the system's random source.
pub fn new_run_id(workflow_name: &str, now: SystemTime) -> String {
    let stamp = format_utc(
        now,
        time::macros::format_description!("[year][month][day]-[hour][minute][second]"),
    );
    format!(
        "{}-{stamp}-{:04x}",
        workflow_slug(workflow_name),
        random_u16()
    )
}

/// Checks a run id given on the command line: `^[A-Za-z0-9][A-Za-z0-9._-]*$` without `..`.
/// Error: `invalid run id "<id>"` (exit 2).
pub fn validate_run_id(id: &str) -> Result<(), StateError> {
    // A character class, checked directly: a run does not build a regex engine for it.
    let mut chars = id.chars();
    let shape_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if shape_ok && !id.contains("..") {
        Ok(())
    } else {
        Err(StateError::InvalidRunId(id.to_string()))
    }
}

/// Two random bytes from the system's random source; if that cannot be read, a hash of the time
/// and pid, which is still unpredictable enough to avoid collisions between runs.
fn random_u16() -> u16 {
    let mut bytes = [0u8; 2];
    if getrandom::fill(&mut bytes).is_ok() {
        return u16::from_be_bytes(bytes);
    }
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let digest = Sha256::new()
        .chain_update(nanos.to_le_bytes())
        .chain_update(std::process::id().to_le_bytes())
        .finalize();
    u16::from_be_bytes([digest[0], digest[1]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::time::parse_rfc3339;
    use regex::Regex;

    #[test]
    fn slug_rules() {
        assert_eq!(workflow_slug("flokay"), "flokay");
        assert_eq!(workflow_slug("Core/Implement Task"), "core-implement-task");
        assert_eq!(workflow_slug("  --Fix!!bugs__now--  "), "fix-bugs-now");
        assert_eq!(workflow_slug("résumé"), "r-sum");
        assert_eq!(workflow_slug(""), "run");
        assert_eq!(workflow_slug("---"), "run");
        assert_eq!(workflow_slug("日本"), "run");
        let long = "a".repeat(39) + "-b" + &"c".repeat(10);
        assert_eq!(workflow_slug(&long), "a".repeat(39));
        assert_eq!(workflow_slug(&"x".repeat(100)).len(), 40);
    }

    #[test]
    fn run_id_shape() {
        let now = parse_rfc3339("2026-11-21T08:33:12.511Z").unwrap();
        let id = new_run_id("flokay", now);
        let re = Regex::new(r"^flokay-20261121-083312-[0-9a-f]{4}$").unwrap();
        assert!(re.is_match(&id), "{id}");
        validate_run_id(&id).unwrap();
    }

    #[test]
    fn run_id_validation() {
        for ok in ["flokay-20261121-083312-7f3a", "a", "A.b_c-9", "x.y"] {
            validate_run_id(ok).unwrap();
        }
        for bad in [
            "", "-x", ".hidden", "_x", "a/b", "a..b", "../x", "a b", "a\n", "é", "aé",
        ] {
            let err = validate_run_id(bad).unwrap_err();
            assert_eq!(err.to_string(), format!("invalid run id \"{bad}\""));
            assert_eq!(err.exit_code(), crate::exit::USAGE);
        }
    }
}
