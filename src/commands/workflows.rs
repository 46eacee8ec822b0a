//! `agent-runner workflows [--json]`: the workflows available here (cli.md §2, §9).
