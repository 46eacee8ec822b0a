//! `GET /api/runs/<id>/files/<path>`: a step's saved output, only when `path` is listed in one of
//! the run's `step_end.outputs` (every other path is 404), redacted like `show` and `log`.

use crate::report::show::RunReport;
use crate::state::Redactor;

/// The text of the output file `path` of the run, or `None` (404).
pub fn read(report: &RunReport, path: &str, redactor: &Redactor) -> Option<String> {
    let listed = report
        .steps
        .iter()
        .any(|step| step.outputs.iter().any(|o| o == path));
    if !listed {
        return None;
    }
    let bytes = std::fs::read(std::path::Path::new(&report.run_dir).join(path)).ok()?;
    Some(
        redactor
            .redact(&String::from_utf8_lossy(&bytes))
            .into_owned(),
    )
}
