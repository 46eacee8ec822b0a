//! The agent profiles the Go agent-runner creates on first run, built in here with the Go
//! defaults at the lowest precedence (compat-go.md §1): a user or project profile of the same
//! name replaces one as a whole.
//!
//! The Go tool wrote `interactive_base`, `headless_base`, `planner`, `implementor` and
//! `summarizer` into the config it generated; later releases added `lead`, `crosscheck` and
//! `tester` (and renamed headless to autonomous, which is headless here).

use std::collections::BTreeMap;

use crate::config::Profile;
use crate::workflow::model::{AgentMode, Effort};

/// One implicit Go profile: name, default mode, CLI, model, effort, parent.
pub struct GoProfile {
    pub name: &'static str,
    pub mode: AgentMode,
    pub cli: &'static str,
    pub model: &'static str,
    pub effort: Effort,
    /// The Go default config expressed `planner` and `implementor` through `extends`.
    pub extends: Option<&'static str>,
}

use AgentMode::{Headless, Interactive};

/// The Go defaults, in the order the Go tool listed them.
pub const GO_PROFILES: &[GoProfile] = &[
    go("interactive_base", Interactive, "opus", Effort::High, None),
    go("headless_base", Headless, "opus", Effort::High, None),
    go(
        "planner",
        Interactive,
        "opus",
        Effort::High,
        Some("interactive_base"),
    ),
    go(
        "implementor",
        Headless,
        "opus",
        Effort::High,
        Some("headless_base"),
    ),
    go("summarizer", Headless, "haiku", Effort::Low, None),
    go("lead", Interactive, "opus", Effort::High, None),
    go("crosscheck", Headless, "opus", Effort::High, None),
    go("tester", Headless, "sonnet", Effort::High, None),
];

const fn go(
    name: &'static str,
    mode: AgentMode,
    model: &'static str,
    effort: Effort,
    extends: Option<&'static str>,
) -> GoProfile {
    GoProfile {
        name,
        mode,
        cli: "claude",
        model,
        effort,
        extends,
    }
}

/// The implicit profiles as configuration profiles (the lowest configuration layer).
///
/// `planner` and `implementor` extend their base as in the Go default config, so a project that
/// replaces `interactive_base` changes `planner` too, as it did under the Go tool.
pub fn implicit_profiles() -> BTreeMap<String, Profile> {
    GO_PROFILES
        .iter()
        .map(|p| (p.name.to_owned(), p.profile()))
        .collect()
}

impl GoProfile {
    /// The profile as configuration holds it.
    pub fn profile(&self) -> Profile {
        match self.extends {
            Some(parent) => Profile {
                extends: Some(parent.to_owned()),
                ..Profile::default()
            },
            None => Profile {
                cli: Some(self.cli.to_owned()),
                model: Some(self.model.to_owned()),
                effort: Some(self.effort),
                default_mode: Some(self.mode),
                ..Profile::default()
            },
        }
    }
}

/// True for the name of an implicit Go profile.
pub fn is_implicit(name: &str) -> bool {
    GO_PROFILES.iter().any(|p| p.name == name)
}
