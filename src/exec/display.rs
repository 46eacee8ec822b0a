//! Step paths: the console form (`4/9 implement > #2/5 > run-tests`) and the audit/state form
//! (`implement[1]/run-tests`, iterations 0-based).

/// Both forms of the path of the current step list, extended as the run descends.
#[derive(Debug, Clone, Default)]
pub struct StepPath {
    /// Console form of the list's parent (empty at top level).
    display: String,
    /// Audit form of the list's parent (empty at top level).
    audit: String,
}

impl StepPath {
    /// The console form of step `id` at `index` of this list (`len` steps).
    pub fn display_of(&self, index: usize, len: usize, id: &str) -> String {
        if self.display.is_empty() {
            format!("{}/{len} {id}", index + 1)
        } else {
            format!("{} > {id}", self.display)
        }
    }

    pub fn audit_of(&self, id: &str) -> String {
        join_audit(&self.audit, id)
    }

    /// The path of the list inside step `id` (a group or sub-workflow body).
    pub fn enter(&self, index: usize, len: usize, id: &str) -> StepPath {
        StepPath {
            display: self.display_of(index, len, id),
            audit: self.audit_of(id),
        }
    }

    /// The path of the body of loop `id` in `iteration` (0-based) of `total`.
    pub fn enter_iteration(
        &self,
        index: usize,
        len: usize,
        id: &str,
        iteration: u64,
        total: u64,
    ) -> StepPath {
        StepPath {
            display: format!(
                "{} > #{}/{total}",
                self.display_of(index, len, id),
                iteration + 1
            ),
            audit: join_audit(&self.audit, &format!("{id}[{iteration}]")),
        }
    }
}

fn join_audit(parent: &str, segment: &str) -> String {
    if parent.is_empty() {
        segment.to_owned()
    } else {
        format!("{parent}/{segment}")
    }
}

/// `<seq 4 digits>-<slug>`: the audit path with `/` → `.` and `[i]` → `-i` (runs-and-state.md §2).
pub fn output_stem(seq: u64, audit_path: &str) -> String {
    let slug: String = audit_path
        .replace('/', ".")
        .replace('[', "-")
        .replace(']', "");
    format!("{seq:04}-{slug}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_and_audit_forms() {
        let top = StepPath::default();
        assert_eq!(top.display_of(3, 9, "implement"), "4/9 implement");
        let body = top.enter_iteration(3, 9, "implement", 1, 5);
        assert_eq!(
            body.display_of(0, 2, "run-tests"),
            "4/9 implement > #2/5 > run-tests"
        );
        assert_eq!(body.audit_of("run-tests"), "implement[1]/run-tests");
        assert_eq!(
            output_stem(31, "implement[1]/work/validate/attempts[0]/fix"),
            "0031-implement-1.work.validate.attempts-0.fix"
        );
    }
}
