//! Prompt framing (agents.md §7) and the large-prompt rule (§1).
//!
//! The wording is fixed by the spec, so it lives here as functions of the few facts that change
//! it: the step id, the root workflow's name and description, the runner's own path, and whether
//! the step starts fresh, continues a session or is the first step after `--resume`.

use std::path::Path;

/// Prompts longer than this many bytes go to a file (agents.md §1).
pub const LARGE_PROMPT_BYTES: usize = 100 * 1024;

/// How an interactive step relates to earlier work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Situation {
    /// A new session.
    Fresh,
    /// An existing session is continued (`resume`, `inherit`, or a named session used before).
    Continuing,
    /// The first agent step after `agent-runner --resume`.
    ResumedRun,
}

/// The facts the framing mentions.
#[derive(Debug, Clone, Copy)]
pub struct Framing<'a> {
    pub step_id: &'a str,
    /// The root workflow's name.
    pub workflow: &'a str,
    /// The root workflow's description (may be empty).
    pub description: &'a str,
    /// The profile's `system_prompt`, if any.
    pub profile_prompt: Option<&'a str>,
}

/// The system text of a headless step. `interrupted` adds the sentence for a step whose previous
/// attempt was interrupted.
pub fn headless_system_text(f: &Framing<'_>, interrupted: bool) -> String {
    let mut text = format!(
        "You are running non-interactively as step \"{id}\" of the agent-runner workflow \"{wf}\". Nobody \
will answer questions before this step ends. Do not ask for confirmation or clarification: choose \
the most reasonable option, note your assumptions, and keep going. Do only this step's task; later \
steps are handled separately. End with a short summary of what you did and what, if anything, is \
left undone.",
        id = f.step_id,
        wf = f.workflow
    );
    if interrupted {
        text.push_str(
            " Your previous attempt at this step was interrupted. Check what is already done, then finish the rest.",
        );
    }
    with_profile(f, text)
}

/// The system text of an interactive step; `runner_exe` is the absolute path of agent-runner.
pub fn interactive_system_text(f: &Framing<'_>, situation: Situation, runner_exe: &Path) -> String {
    let first = match situation {
        Situation::Fresh => {
            let description = if f.description.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", f.description.trim())
            };
            format!(
                "You are working with a user on step \"{}\" of the \"{}\" workflow{description}.",
                f.step_id, f.workflow
            )
        }
        Situation::Continuing => {
            format!(
                "We are continuing our conversation; the next step is \"{}\".",
                f.step_id
            )
        }
        Situation::ResumedRun => format!(
            "This run was interrupted and is being resumed at step \"{}\"; if you had already started on it, \
check what is done and continue from there.",
            f.step_id
        ),
    };
    let text = format!(
        "{first} The step's task is in the user's first message. Start by saying in one sentence that you \
are beginning this step, then work on it together. When the user says the step is done, or you both \
agree it is complete, end the step by running exactly `{exe} step continue` with no commentary. If you \
cannot run commands, ask the user to type /continue and press Enter.",
        exe = runner_exe.display()
    );
    with_profile(f, text)
}

fn with_profile(f: &Framing<'_>, framing: String) -> String {
    match f.profile_prompt.map(str::trim).filter(|p| !p.is_empty()) {
        Some(profile) => format!("{profile}\n\n{framing}"),
        None => framing,
    }
}

/// The positional prompt: the rendered step prompt, plus the engine's enrichment block.
pub fn assemble_prompt(prompt: &str, enrichment: Option<&str>) -> String {
    match enrichment.filter(|e| !e.trim().is_empty()) {
        Some(block) => format!("{prompt}\n\n{block}"),
        None => prompt.to_string(),
    }
}

/// The prompt of a retried attempt that continues the previous attempt's session (control.md
/// §4): what stopped it, then the original prompt.
pub fn retry_prompt(class: &str, message: &str, prompt: &str) -> String {
    format!(
        "The previous attempt of this step stopped early ({class}: {message}). Continue the task \
         from where it stopped; do not redo finished work.\n\n{prompt}"
    )
}

/// The request for a structured answer, appended to the prompt of a step with `output:` when
/// its CLI has no native schema option (or there is no schema): one JSON value, in a ```json
/// block at the end (control.md §7).
pub fn output_request(schema: Option<&serde_json::Value>) -> String {
    match schema {
        Some(schema) => format!(
            "Answer with one JSON value that matches this JSON Schema:\n```json\n{}\n```\nPut the value in a ```json block at the end of your answer.",
            serde_json::to_string_pretty(schema).unwrap_or_else(|_| schema.to_string())
        ),
        None => "Answer with one JSON value. Put it in a ```json block at the end of your answer."
            .to_owned(),
    }
}

/// The prompt of the repair turn: the answer did not match the schema (control.md §7).
pub fn output_repair(errors: &str) -> String {
    format!(
        "Your answer did not match the required JSON schema: {errors}. Reply with only the corrected JSON."
    )
}

/// The large-prompt rule: `None` when `prompt` can be passed as it is; otherwise the short prompt
/// that points at `file` (an absolute path), where the caller must write the full prompt.
pub fn large_prompt(prompt: &str, file: &Path) -> Option<String> {
    (prompt.len() > LARGE_PROMPT_BYTES).then(|| {
        format!(
            "Your full instructions for this step are in {}. Read the whole file, then follow it.",
            file.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Framing = Framing {
        step_id: "plan",
        workflow: "flokay",
        description: "",
        profile_prompt: None,
    };

    #[test]
    fn headless_wording() {
        let text = headless_system_text(&F, false);
        assert!(text.starts_with("You are running non-interactively as step \"plan\" of the agent-runner workflow \"flokay\". Nobody will answer"));
        assert!(text.ends_with("what, if anything, is left undone."));
        let again = headless_system_text(&F, true);
        assert!(again.ends_with(" Your previous attempt at this step was interrupted. Check what is already done, then finish the rest."));
        let with = headless_system_text(
            &Framing {
                profile_prompt: Some("Be terse."),
                ..F
            },
            false,
        );
        assert!(with.starts_with("Be terse.\n\nYou are running"));
    }

    #[test]
    fn interactive_wording() {
        let exe = Path::new("/usr/bin/agent-runner");
        let fresh = interactive_system_text(
            &Framing {
                description: "Ship it",
                ..F
            },
            Situation::Fresh,
            exe,
        );
        assert_eq!(
            fresh,
            "You are working with a user on step \"plan\" of the \"flokay\" workflow: Ship it. The step's task is in \
the user's first message. Start by saying in one sentence that you are beginning this step, then work on it \
together. When the user says the step is done, or you both agree it is complete, end the step by running exactly \
`/usr/bin/agent-runner step continue` with no commentary. If you cannot run commands, ask the user to type \
/continue and press Enter."
        );
        let cont = interactive_system_text(&F, Situation::Continuing, exe);
        assert!(cont.starts_with(
            "We are continuing our conversation; the next step is \"plan\". The step's task"
        ));
        let resumed = interactive_system_text(&F, Situation::ResumedRun, exe);
        assert!(resumed.starts_with("This run was interrupted and is being resumed at step \"plan\"; if you had already started on it, check what is done and continue from there. The step's"));
        assert!(
            interactive_system_text(&F, Situation::Fresh, exe)
                .contains("of the \"flokay\" workflow. The step's")
        );
    }

    #[test]
    fn large_prompts_go_to_a_file() {
        let file = Path::new("/runs/r/output/003-plan.prompt.md");
        assert_eq!(large_prompt(&"x".repeat(LARGE_PROMPT_BYTES), file), None);
        assert_eq!(
            large_prompt(&"x".repeat(LARGE_PROMPT_BYTES + 1), file).as_deref(),
            Some(
                "Your full instructions for this step are in /runs/r/output/003-plan.prompt.md. Read the whole file, then follow it."
            )
        );
        assert_eq!(
            assemble_prompt("do it", Some("## Context")),
            "do it\n\n## Context"
        );
        assert_eq!(assemble_prompt("do it", None), "do it");
    }
}
