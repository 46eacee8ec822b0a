//! Each prompt step's mode as the Go agent-runner resolved it, known at load time
//! (compat-go.md §1). A step without `mode` takes, in order: its profile's `default_mode`; for a
//! step that continues a session, the mode of the step that started that session (sessions
//! assigned statically in document order, as workflow-format.md §6 does); the configuration's
//! `default_mode`; then `interactive`. The resolved mode is written into the step, so every
//! later check sees it.

use std::collections::BTreeMap;

use super::workflow::GoContext;
use crate::workflow::model::{AgentMode, SESSION_KEYWORDS};
use crate::workflow::yaml::Node;

/// The walk's view of sessions so far.
pub struct Modes<'c> {
    ctx: &'c GoContext,
    /// `sessions:` declarations and their profile.
    declared: BTreeMap<String, Option<String>>,
    /// `defaults.agent` of the file.
    default_agent: Option<String>,
    /// The mode of the session the most recent agent step used.
    current: Option<AgentMode>,
    /// Named sessions started so far, with their mode.
    named: BTreeMap<String, AgentMode>,
    seen_agent: bool,
}

impl<'c> Modes<'c> {
    pub fn new(ctx: &'c GoContext, top: &[(String, Node)]) -> Self {
        let get = |key: &str| top.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        let declared = match get("sessions") {
            Some(Node::Seq(items)) => items
                .iter()
                .filter_map(|item| {
                    let name = item.get("name")?.as_str()?.to_owned();
                    let agent = item.get("agent").and_then(Node::as_str).map(str::to_owned);
                    Some((name, agent))
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        let default_agent = get("defaults")
            .and_then(|d| d.get("agent"))
            .and_then(Node::as_str)
            .map(str::to_owned);
        Modes {
            ctx,
            declared,
            default_agent,
            current: None,
            named: BTreeMap::new(),
            seen_agent: false,
        }
    }

    fn profile_mode(&self, profile: Option<&str>) -> Option<AgentMode> {
        self.ctx.profile_modes.get(profile?).copied()
    }

    /// Resolves the mode of a prompt step, writes it in when the step has none, and returns it.
    pub fn resolve(&mut self, fields: &mut Vec<(String, Node)>) -> AgentMode {
        let get = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.as_str())
        };
        let explicit = get("mode").and_then(|m| match m {
            "interactive" => Some(AgentMode::Interactive),
            "headless" => Some(AgentMode::Headless),
            _ => None,
        });
        let has_mode = fields.iter().any(|(k, _)| k == "mode");
        let agent = get("agent").map(str::to_owned);
        let session = get("session").map(str::to_owned);
        let named = session
            .as_deref()
            .filter(|s| !SESSION_KEYWORDS.contains(s))
            .map(str::to_owned);
        let is_new = match session.as_deref() {
            Some("new") => true,
            None => !self.seen_agent,
            _ => false,
        };
        let profile = agent.or_else(|| match &named {
            Some(name) => self.declared.get(name).cloned().flatten(),
            None if is_new => self.default_agent.clone(),
            None => None,
        });
        let continued = match &named {
            Some(name) => self.named.get(name).copied(),
            None if is_new => None,
            None => self.current,
        };
        let derived = self
            .profile_mode(profile.as_deref())
            .or(continued)
            .or(self.ctx.default_mode);
        let mode = explicit.or(derived).unwrap_or(AgentMode::Interactive);
        if !has_mode && let Some(derived) = derived {
            fields.push(("mode".to_owned(), Node::Str(derived.as_str().to_owned())));
        }
        self.seen_agent = true;
        match named {
            Some(name) => {
                let started = *self.named.entry(name).or_insert(mode);
                self.current = Some(started);
            }
            None if is_new || self.current.is_none() => self.current = Some(mode),
            None => {}
        }
        mode
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::workflow::normalize;
    use crate::workflow::fields::Sink;
    use crate::workflow::yaml::parse;

    /// The mode each step of `yaml` ends up with (`-` for none written in).
    fn modes(yaml: &str, ctx: &GoContext) -> Vec<String> {
        let mut node = parse(yaml).unwrap();
        normalize(&mut node, ctx, &mut Sink::default());
        let mut out = Vec::new();
        fn collect(steps: &Node, out: &mut Vec<String>) {
            let Node::Seq(steps) = steps else { return };
            for step in steps {
                out.push(
                    step.get("mode")
                        .and_then(Node::as_str)
                        .unwrap_or("-")
                        .to_owned(),
                );
                if let Some(children) = step.get("steps") {
                    collect(children, out);
                }
            }
        }
        collect(node.get("steps").unwrap(), &mut out);
        out
    }

    fn ctx(default_mode: Option<AgentMode>) -> GoContext {
        GoContext {
            profile_modes: [
                ("implementor".to_owned(), AgentMode::Headless),
                ("planner".to_owned(), AgentMode::Interactive),
            ]
            .into_iter()
            .collect(),
            default_mode,
            go_project: true,
        }
    }

    #[test]
    fn the_profile_then_the_session_start_then_the_config_then_interactive() {
        let yaml = "name: w\nsteps:\n\
            - {id: a, agent: implementor, prompt: x}\n\
            - {id: b, prompt: x}\n\
            - {id: c, session: new, agent: planner, prompt: x}\n\
            - {id: d, session: resume, prompt: x}\n\
            - {id: e, session: new, prompt: x}\n\
            - {id: f, mode: interactive, session: new, agent: implementor, prompt: x}\n\
            - {id: g, command: ls}\n";
        assert_eq!(
            modes(yaml, &ctx(None)),
            [
                "headless",
                "headless",
                "interactive",
                "interactive",
                "-",
                "interactive",
                "-"
            ]
        );
        assert_eq!(
            modes(yaml, &ctx(Some(AgentMode::Headless)))[4],
            "headless",
            "the configuration's default_mode comes last"
        );
    }

    #[test]
    fn named_sessions_take_their_declared_profile_and_keep_the_mode_they_started_with() {
        let yaml = "name: w\nsessions:\n  - {name: lead-agent, agent: planner}\n  - {name: worker}\nsteps:\n\
            - {id: a, session: lead-agent, prompt: x}\n\
            - {id: b, session: worker, mode: autonomous, prompt: x}\n\
            - id: loop\n  loop: {max: 2}\n  steps:\n    - {id: c, session: worker, prompt: x}\n    - {id: d, prompt: x}\n\
            - {id: e, session: lead-agent, prompt: x}\n";
        assert_eq!(
            modes(yaml, &ctx(None)),
            [
                "interactive",
                "headless",
                "-",
                "headless",
                "headless",
                "interactive"
            ]
        );
    }
}
