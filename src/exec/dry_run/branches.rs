//! How `--dry-run` lays out the branches of a parallel step (control.md §8): side by side in
//! columns when every branch's lines fit their column of an 80-column page, otherwise one branch
//! after the other, each line marked with `║` (these run at the same time).

/// The width the plan is laid out for.
pub const WIDTH: usize = 80;

/// Between two columns.
const GAP: &str = " │ ";

/// Below this, a column is too narrow to read.
const MIN_COLUMN: usize = 16;

/// The marker of a branch line in the list layout.
const MARK: &str = "║ ";

/// The lines of `branches` (each the plan lines of one branch, unindented), indented by
/// `indent`: in columns when there are at least two and each line fits its column, else as a
/// marked list (so a parallel loop's one body is always marked).
pub fn layout(branches: &[Vec<String>], indent: &str) -> Vec<String> {
    columns(branches, indent).unwrap_or_else(|| marked(branches.iter().flatten(), indent))
}

/// Every line, indented by `indent` and marked with [`MARK`].
fn marked<'a>(lines: impl IntoIterator<Item = &'a String>, indent: &str) -> Vec<String> {
    lines
        .into_iter()
        .map(|line| format!("{indent}{MARK}{line}").trim_end().to_owned())
        .collect()
}

fn columns(branches: &[Vec<String>], indent: &str) -> Option<Vec<String>> {
    let n = branches.len();
    if n < 2 {
        return None;
    }
    let room = WIDTH.checked_sub(indent.chars().count() + GAP.chars().count() * (n - 1))?;
    let width = room / n;
    let fits = branches
        .iter()
        .flatten()
        .all(|line| line.chars().count() <= width);
    if width < MIN_COLUMN || !fits {
        return None;
    }
    let rows = branches.iter().map(Vec::len).max().unwrap_or(0);
    let lines = (0..rows)
        .map(|row| {
            let cells: Vec<String> = branches
                .iter()
                .map(|branch| {
                    let cell = branch.get(row).map_or("", String::as_str);
                    format!("{cell:<width$}")
                })
                .collect();
            format!("{indent}{}", cells.join(GAP)).trim_end().to_owned()
        })
        .collect();
    Some(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn short_branches_stand_side_by_side() {
        let out = layout(
            &[
                lines(&["a  shell  sleep 1"]),
                lines(&["b  group", "  c  shell  true"]),
            ],
            "  ",
        );
        assert_eq!(
            out,
            [
                "  a  shell  sleep 1                     │ b  group",
                "                                        │   c  shell  true",
            ]
        );
        assert!(out.iter().all(|l| l.chars().count() <= WIDTH));
    }

    #[test]
    fn a_line_too_long_for_its_column_makes_a_marked_list() {
        let long = "x".repeat(40);
        let out = layout(&[lines(&["a  shell  true"]), lines(&[&long])], "    ");
        assert_eq!(
            out,
            ["    ║ a  shell  true".to_owned(), format!("    ║ {long}")]
        );
    }

    #[test]
    fn one_branch_or_too_many_narrow_columns_make_a_marked_list() {
        assert_eq!(layout(&[lines(&["a"])], ""), ["║ a"]);
        let many: Vec<Vec<String>> = (0..8).map(|i| lines(&[&format!("b{i}")])).collect();
        assert_eq!(
            layout(&many, "").len(),
            8,
            "eight columns of 7 are too narrow"
        );
    }
}
