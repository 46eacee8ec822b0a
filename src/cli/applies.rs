//! Which options each command takes (cli.md §2). An option given to a command that would ignore
//! it, or two options that both decide the same thing, is a usage error (exit 2), never dropped
//! in silence: `agent-runner wf --json` would otherwise run the workflow and print no JSON.

use super::{Command, RawArgs};

/// The commands as the options table knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Run,
    DryRun,
    Simulate,
    Resume,
    Validate,
    List,
    Show,
    Log,
    Workflows,
    Migrate,
    Schema,
    Ui,
    WorktreesList,
    WorktreesPrune,
    K8s,
    StepContinue,
}

impl Kind {
    fn of(command: &Command) -> Option<Kind> {
        Some(match command {
            Command::Run(request) if request.dry_run => Kind::DryRun,
            Command::Run(request) if request.simulate.is_some() => Kind::Simulate,
            Command::Run(_) => Kind::Run,
            Command::Resume { .. } => Kind::Resume,
            Command::Validate { .. } => Kind::Validate,
            Command::List { .. } => Kind::List,
            Command::Show { .. } => Kind::Show,
            Command::Log { .. } => Kind::Log,
            Command::Workflows { .. } => Kind::Workflows,
            Command::Migrate { .. } => Kind::Migrate,
            Command::Schema => Kind::Schema,
            Command::Ui(_) => Kind::Ui,
            Command::WorktreesList => Kind::WorktreesList,
            Command::WorktreesPrune { .. } => Kind::WorktreesPrune,
            Command::K8s(_) => Kind::K8s,
            Command::StepContinue { .. } => Kind::StepContinue,
            // `--version` prints the version whatever else is given.
            Command::Version => return None,
        })
    }

    /// How a message names the command.
    fn name(self) -> &'static str {
        match self {
            Kind::Run => "a workflow run",
            Kind::DryRun => "--dry-run",
            Kind::Simulate => "--simulate",
            Kind::Resume => "--resume",
            Kind::Validate => "--validate",
            Kind::List => "\"list\"",
            Kind::Show => "\"show\"",
            Kind::Log => "\"log\"",
            Kind::Workflows => "\"workflows\"",
            Kind::Migrate => "\"migrate\"",
            Kind::Schema => "\"schema\"",
            Kind::Ui => "\"ui\"",
            Kind::WorktreesList => "\"worktrees list\"",
            Kind::WorktreesPrune => "\"worktrees prune\"",
            Kind::K8s => "\"k8s\"",
            Kind::StepContinue => "\"step continue\"",
        }
    }
}

/// Refuses options the command would ignore, naming the commands they apply to.
pub(super) fn check(raw: &RawArgs, command: &Command) -> Result<(), String> {
    use Kind::*;
    let Some(kind) = Kind::of(command) else {
        return Ok(());
    };
    if let (Some(Some(run_id)), Some(session)) = (&raw.resume, &raw.session) {
        return Err(format!(
            "--resume {run_id} and --session {session} both name the run to resume; give only one"
        ));
    }
    let options: [(bool, &str, &[Kind]); 23] = [
        (
            raw.json,
            "--json",
            &[Validate, DryRun, List, Show, Log, Workflows, WorktreesList],
        ),
        (raw.quiet, "--quiet", &[Run, Resume, Simulate]),
        (raw.verbose, "--verbose", &[Run, Resume, Simulate]),
        (raw.all, "--all", &[List, Workflows, Ui]),
        (raw.write, "--write", &[Migrate]),
        (raw.limit.is_some(), "--limit", &[List]),
        (raw.follow, "--follow", &[Log]),
        (raw.note.is_some(), "--note", &[StepContinue]),
        (raw.from.is_some(), "--from", &[Run, Resume]),
        (raw.session.is_some(), "--session", &[Run, Resume]),
        (raw.simulate, "--simulate", &[Simulate]),
        (raw.port.is_some(), "--port", &[Ui]),
        (raw.bind.is_some(), "--bind", &[Ui]),
        (raw.token_file.is_some(), "--token-file", &[Ui]),
        (raw.open, "--open", &[Ui]),
        (raw.max_cost.is_some(), "--max-cost", &[Run, Resume]),
        (raw.max_tokens.is_some(), "--max-tokens", &[Run, Resume]),
        (raw.force, "--force", &[WorktreesPrune]),
        (raw.run_id.is_some(), "--run-id", &[Run, K8s]),
        (raw.image.is_some(), "--image", &[K8s]),
        (!raw.secrets.is_empty(), "--secret", &[K8s]),
        (raw.pvc.is_some(), "--pvc", &[K8s]),
        (raw.namespace.is_some(), "--namespace", &[K8s]),
    ];
    for (given, option, applies_to) in options {
        if given && !applies_to.contains(&kind) {
            let names: Vec<&str> = applies_to.iter().map(|k| k.name()).collect();
            return Err(format!(
                "{option} cannot be used with {}; it applies only to {}",
                kind.name(),
                names.join(", ")
            ));
        }
    }
    Ok(())
}
