//! `agent-runner schema`: prints the JSON Schema of the workflow format (for editors).

use crate::console;
use crate::exit;

/// Prints the schema to stdout.
pub fn run() -> i32 {
    console::print_stdout(&crate::workflow::schema::schema_text());
    exit::SUCCESS
}
