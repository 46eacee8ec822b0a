//! Records of an agent step's session and of how an interactive step was ended.

use serde::{Deserialize, Serialize};

use super::lenient;

/// How a step's session id became known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionHow {
    Preassigned,
    Stream,
    Discovered,
    Resumed,
    Seed,
    Named,
}

impl SessionHow {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionHow::Preassigned => "preassigned",
            SessionHow::Stream => "stream",
            SessionHow::Discovered => "discovered",
            SessionHow::Resumed => "resumed",
            SessionHow::Seed => "seed",
            SessionHow::Named => "named",
        }
    }
}

/// `session`: an agent step's session id, as soon as it is known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionRecord {
    #[serde(deserialize_with = "lenient::option")]
    pub cli: Option<String>,
    #[serde(deserialize_with = "lenient::option")]
    pub session_id: Option<String>,
    #[serde(deserialize_with = "lenient::option")]
    pub how: Option<SessionHow>,
}

impl SessionRecord {
    pub fn new(cli: &str, session_id: &str, how: SessionHow) -> Self {
        SessionRecord {
            cli: Some(cli.to_owned()),
            session_id: Some(session_id.to_owned()),
            how: Some(how),
        }
    }
}

/// What the user (or agent) did to end an interactive step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlAction {
    Continue,
    Abort,
}

/// `control`: how an interactive agent step was ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Control {
    #[serde(deserialize_with = "lenient::option")]
    pub action: Option<ControlAction>,
    #[serde(deserialize_with = "lenient::option")]
    pub source: Option<String>,
    #[serde(deserialize_with = "lenient::option")]
    pub note: Option<String>,
}
