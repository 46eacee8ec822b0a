//! `agent-runner schema`: prints the JSON Schema of the workflow format.
