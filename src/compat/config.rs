//! The Go shapes of `config.yaml` (compat-go.md §1): `default_mode` (top level or in a profile,
//! `autonomous` meaning headless), `active_profile` with profile sets whose `agents` become
//! profiles here, and the leniency for keys only the Go tool knew.

use std::collections::BTreeMap;

use super::DEPRECATED_DEFAULT_MODE;
use crate::config::{Profile, read_profile};
use crate::workflow::fields::{Finding, MapReader, Sink, Target};
use crate::workflow::model::AgentMode;
use crate::workflow::positions::join;
use crate::workflow::yaml::Node;

/// The set the Go tool used when `active_profile` is not set; its agents are the implicit
/// profiles.
const DEFAULT_SET: &str = "default";

/// `default_mode` of a mapping: `interactive`, `headless` or the later Go name `autonomous`.
pub fn mode(r: &MapReader<'_, '_>, sink: &mut Sink) -> Option<AgentMode> {
    r.keyword(
        "default_mode",
        &["interactive", "headless", "autonomous"],
        parse_mode,
        sink,
    )
}

/// A Go mode keyword as this tool's mode (`autonomous` is headless).
pub fn parse_mode(text: &str) -> Option<AgentMode> {
    match text {
        "interactive" => Some(AgentMode::Interactive),
        "headless" | "autonomous" => Some(AgentMode::Headless),
        _ => None,
    }
}

/// True when the configuration mapping has a Go-only shape: `default_mode` (top level or in a
/// profile), `active_profile`, or a profile set with `agents`.
pub fn is_go_file(r: &MapReader<'_, '_>) -> bool {
    if r.has("default_mode") || r.has("active_profile") {
        return true;
    }
    r.get("profiles")
        .and_then(Node::as_map)
        .is_some_and(|profiles| {
            profiles
                .iter()
                .any(|(_, p)| p.get("agents").is_some() || p.get("default_mode").is_some())
        })
}

/// In a Go-written file, keys this tool does not know are warnings, not errors: the Go tool had
/// keys (and later shapes) that mean nothing here.
pub fn go_file_findings(findings: &mut [Finding]) {
    for finding in findings {
        let d = &mut finding.diagnostic;
        if d.code == "unknown-key" {
            d.severity = crate::workflow::Severity::Warning;
            d.message.push_str(
                "; this Go agent-runner configuration keeps working, and agent-runner ignores the key",
            );
        }
    }
}

/// One warning per file that sets `default_mode`, at its first use.
pub fn deprecate_default_mode(r: &MapReader<'_, '_>, sink: &mut Sink) {
    let path = first_default_mode(r).unwrap_or_else(|| "default_mode".to_owned());
    sink.warning(
        "deprecated",
        DEPRECATED_DEFAULT_MODE.to_owned(),
        path.as_str(),
        Target::Key,
    );
}

fn first_default_mode(r: &MapReader<'_, '_>) -> Option<String> {
    if r.has("default_mode") {
        return Some("default_mode".to_owned());
    }
    let profiles = r.get("profiles").and_then(Node::as_map)?;
    for (name, profile) in profiles {
        let base = join("profiles", name);
        if profile.get("default_mode").is_some() {
            return Some(join(&base, "default_mode"));
        }
        let agents = profile.get("agents").and_then(Node::as_map).unwrap_or(&[]);
        for (agent, fields) in agents {
            if fields.get("default_mode").is_some() {
                return Some(join(&join(&join(&base, "agents"), agent), "default_mode"));
            }
        }
    }
    None
}

/// Go profile sets (`profiles.<set>: {extends, agents}`), of one file or merged across layers
/// (the Go tool merged sets by name, agents of a higher layer replacing those of a lower one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileSets {
    sets: BTreeMap<String, (Option<String>, BTreeMap<String, Profile>)>,
}

impl ProfileSets {
    /// Reads `profiles.<name>` as a set.
    pub fn read(&mut self, name: &str, p: &MapReader<'_, '_>, sink: &mut Sink) {
        p.check_keys(&["extends", "agents"], sink);
        let extends = p.string("extends", sink).map(str::to_owned);
        let mut agents = BTreeMap::new();
        if let Some(entries) = p.map("agents", sink) {
            let base = join(&join("profiles", name), "agents");
            for (agent, node) in entries {
                let path = join(&base, agent);
                match node {
                    Node::Map(fields) => {
                        let reader = MapReader::new(fields, path.as_str());
                        agents.insert(agent.clone(), read_profile(&reader, sink));
                    }
                    other => sink.wrong_type(agent, "a mapping", other, path.as_str()),
                }
            }
        }
        self.sets.insert(name.to_owned(), (extends, agents));
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// `higher` over `self`: sets merge by name, agents by name.
    pub fn merge(&mut self, higher: ProfileSets) {
        for (name, (extends, agents)) in higher.sets {
            let low = self.sets.entry(name).or_default();
            if extends.is_some() {
                low.0 = extends;
            }
            low.1.extend(agents);
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        name == DEFAULT_SET || self.sets.contains_key(name)
    }

    /// The agents of the active set (`active_profile`, else `default`), its `extends` chain
    /// applied parent first. Agents of other sets are not read, as under the Go tool. `extends:
    /// default` without a `default` set means the built-in Go profiles.
    pub fn active_agents(&self, active: Option<&str>) -> Result<BTreeMap<String, Profile>, String> {
        let start = active.unwrap_or(DEFAULT_SET);
        if !self.contains(start) {
            let hint =
                crate::workflow::suggest::did_you_mean(start, self.sets.keys().map(String::as_str));
            return Err(format!(
                "active_profile \"{start}\" names no profile set{hint}"
            ));
        }
        let mut chain: Vec<&str> = Vec::new();
        let mut current = Some(start);
        while let Some(name) = current {
            if chain.contains(&name) {
                chain.push(name);
                return Err(format!("profile set cycle: {}", chain.join(" -> ")));
            }
            let Some((extends, _)) = self.sets.get(name) else {
                if name != DEFAULT_SET {
                    let child = chain.last().copied().unwrap_or(start);
                    return Err(format!(
                        "profile set \"{child}\" extends unknown set \"{name}\""
                    ));
                }
                break;
            };
            chain.push(name);
            current = extends.as_deref();
        }
        let mut agents = BTreeMap::new();
        for name in chain.iter().rev() {
            if let Some((_, set)) = self.sets.get(*name) {
                agents.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        Ok(agents)
    }

    /// The agents of one file's active set, for that file alone. An `active_profile` that names
    /// a set of another layer is left to [`crate::config::load`], which sees every layer.
    pub fn file_agents(&self, active: Option<&str>, sink: &mut Sink) -> BTreeMap<String, Profile> {
        if active.is_some_and(|a| !self.contains(a)) {
            return BTreeMap::new();
        }
        match self.active_agents(active) {
            Ok(agents) => agents,
            Err(message) => {
                sink.error("config", message, "profiles", Target::Key);
                BTreeMap::new()
            }
        }
    }
}
