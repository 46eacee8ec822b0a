//! The recorded stream fixtures, embedded so the fake works from any directory.

macro_rules! fixtures {
    ($($cli:literal / $name:literal),+ $(,)?) => {
        /// The template of `<cli>/<scenario>.jsonl`.
        pub fn template(cli: &str, scenario: &str) -> Option<&'static str> {
            match (cli, scenario) {
                $(($cli, $name) => Some(include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/streams/", $cli, "/", $name, ".jsonl"
                ))),)+
                _ => None,
            }
        }
    };
}

fixtures!(
    "claude" / "success",
    "claude" / "logged_out",
    "claude" / "no_conversation",
    "claude" / "api_error",
    "claude" / "asks_user",
    "claude" / "rate_limited",
    "claude" / "usage_limit",
    "claude" / "connection_lost",
    "claude" / "max_turns",
    "claude" / "denied",
    "claude" / "structured",
    "claude" / "structured_gave_up",
    "codex" / "success",
    "codex" / "rate_limited",
    "codex" / "usage_limit",
    "codex" / "asks_user",
    "codex" / "reconnecting",
    "codex" / "turn_failed",
    "codex" / "logged_out",
    "codex" / "no_rollout",
    "copilot" / "success",
    "copilot" / "logged_out",
    "copilot" / "no_session",
    "cursor-agent" / "success",
    "cursor-agent" / "logged_out",
    "opencode" / "success",
    "opencode" / "error",
    "opencode" / "no_session",
    "gemini" / "success",
    "gemini" / "logged_out",
    "gemini" / "turn_limit",
    "gemini" / "no_session",
);
