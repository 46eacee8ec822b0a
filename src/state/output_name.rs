//! Output file names (runs-and-state.md §2): `<seq>-<slug>.<ext>`, where `<seq>` is the audit
//! `seq` of the step's `step_start` padded to 4 digits (so every attempt gets its own files) and
//! `<slug>` is the step path with `/` as `.` and `[i]` as `-i`.

/// The step path as a file-name slug: `implement[1]/work/fix` → `implement-1.work.fix`.
pub fn output_slug(step_path: &str) -> String {
    step_path
        .chars()
        .filter_map(|c| match c {
            '/' => Some('.'),
            '[' => Some('-'),
            ']' => None,
            c => Some(c),
        })
        .collect()
}

/// The file name (no directory) of one output of a step, e.g.
/// `output_file_name(31, "implement[1]/work/validate/attempts[0]/fix", "txt")` =
/// `0031-implement-1.work.validate.attempts-0.fix.txt`. `ext` has no leading dot and may have
/// several parts (`stream.jsonl`).
pub fn output_file_name(seq: u64, step_path: &str, ext: &str) -> String {
    format!("{seq:04}-{}.{ext}", output_slug(step_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(
            output_file_name(31, "implement[1]/work/validate/attempts[0]/fix", "txt"),
            "0031-implement-1.work.validate.attempts-0.fix.txt"
        );
        assert_eq!(
            output_file_name(7, "create", "stdout"),
            "0007-create.stdout"
        );
        assert_eq!(
            output_file_name(12, "tasks", "stream.jsonl"),
            "0012-tasks.stream.jsonl"
        );
        assert_eq!(
            output_file_name(
                209,
                "implement[2]/work/validate/attempts[0]/check",
                "stderr"
            ),
            "0209-implement-2.work.validate.attempts-0.check.stderr"
        );
        assert_eq!(output_file_name(12345, "a", "txt"), "12345-a.txt");
    }
}
