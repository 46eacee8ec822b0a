//! Reading and writing state.json: pretty JSON with a trailing newline, the `format_version`
//! check, and the rule that a newer or unreadable file is reported and never touched.

use std::path::Path;

use super::document::{FORMAT_VERSION, StateDoc};
use super::error::StateError;
use super::fs_util::write_atomic;
use crate::capped;

/// The file name inside a run dir.
pub const STATE_FILE: &str = "state.json";

/// state.json files larger than this are reported as unreadable rather than loaded.
const MAX_STATE_BYTES: u64 = 256 * 1024 * 1024;

/// The document as written: 2-space pretty JSON and a trailing newline.
/// The `format_version` written is always the one the document's fields require.
pub fn encode_state(doc: &StateDoc) -> Result<Vec<u8>, StateError> {
    let required = doc.required_format_version();
    let encoded = if doc.format_version == required {
        serde_json::to_vec_pretty(doc)
    } else {
        let mut stamped = doc.clone();
        stamped.format_version = required;
        serde_json::to_vec_pretty(&stamped)
    };
    let mut bytes = encoded.map_err(|e| StateError::Save(std::io::Error::other(e)))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Parses state.json bytes of run `run_id`, checking the format version before the shape so that
/// a newer file is reported as newer, not as malformed.
pub fn decode_state(run_id: &str, bytes: &[u8]) -> Result<StateDoc, StateError> {
    // Fast path: a current, well-formed file parses straight into the document. Going through
    // `serde_json::Value` first costs a second copy of every string, which is most of the time
    // of reading a state with a 10 000-item loop list. Anything else (a newer or bad version, a
    // shape error) takes the path below, which finds the precise reason.
    if let Ok(doc) = serde_json::from_slice::<StateDoc>(bytes)
        && (1..=FORMAT_VERSION).contains(&doc.format_version)
    {
        return Ok(doc);
    }
    let unreadable = |reason: String| StateError::Unreadable {
        run_id: run_id.to_string(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| unreadable(e.to_string()))?;
    let Some(object) = value.as_object() else {
        return Err(unreadable("not a JSON object".to_string()));
    };
    let version = match object.get("format_version") {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| unreadable("format_version is not a positive integer".to_string()))?,
        // The Go agent-runner wrote its state.json without a format version (compat-go.md §3).
        None if object.contains_key("workflowFile") || object.contains_key("currentStep") => {
            return Err(StateError::GoRun {
                run: run_id.to_string(),
            });
        }
        None => return Err(unreadable("missing field `format_version`".to_string())),
    };
    if version > FORMAT_VERSION {
        return Err(StateError::NewerFormat {
            run_id: run_id.to_string(),
            version,
        });
    }
    if version == 0 {
        return Err(unreadable(
            "format_version 0 is not a state format".to_string(),
        ));
    }
    // Versions 1 and 2 share one shape (2 only adds fields); older formats would be migrated
    // here, in memory.
    serde_json::from_value(value).map_err(|e| unreadable(e.to_string()))
}

/// Reads and checks `dir/state.json` of run `run_id`. Never writes anything. An unreadable file
/// is named in the error, so that the user can look at it.
pub fn read_state(dir: &Path, run_id: &str) -> Result<StateDoc, StateError> {
    let path = dir.join(STATE_FILE);
    let named = |reason: String| StateError::Unreadable {
        run_id: run_id.to_string(),
        reason: format!("{}: {reason}", path.display()),
    };
    let bytes = capped::read(&path, MAX_STATE_BYTES).map_err(|e| named(e.to_string()))?;
    decode_state(run_id, &bytes).map_err(|err| match err {
        StateError::Unreadable { reason, .. } => named(reason),
        StateError::GoRun { .. } => StateError::GoRun {
            run: dir.display().to_string(),
        },
        other => other,
    })
}

/// Replaces `dir/state.json` atomically with `doc` (runs-and-state.md §4).
pub fn write_state(dir: &Path, doc: &StateDoc) -> Result<(), StateError> {
    let bytes = encode_state(doc)?;
    write_atomic(dir, STATE_FILE, &bytes).map_err(StateError::Save)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::document::*;
    use std::fs;

    /// The example of runs-and-state.md §3, verbatim.
    const SPEC_EXAMPLE: &str = include_str!("testdata/spec-example-state.json");

    #[test]
    fn spec_example_round_trips() {
        let doc = decode_state("flokay-20261121-083312-7f3a", SPEC_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(doc.status, RunStatus::Interrupted);
        assert_eq!(
            doc.position_path().as_deref(),
            Some("implement[2]/work/validate/attempts[1]/fix")
        );
        let leaf = doc.position.as_ref().unwrap().leaf();
        assert_eq!(leaf.state, FrameState::Interrupted);
        assert!(leaf.agent.as_ref().unwrap().preassigned);

        let bytes = encode_state(&doc).unwrap();
        assert!(bytes.ends_with(b"}\n"));
        assert!(String::from_utf8_lossy(&bytes).contains("\n  \"format_version\": 1,"));
        let original: serde_json::Value = serde_json::from_str(SPEC_EXAMPLE).unwrap();
        let written: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(original, written);
        assert_eq!(decode_state(&doc.run_id, &bytes).unwrap(), doc);
    }

    #[test]
    fn fresh_document_round_trips() {
        let mut doc = StateDoc::new("r-1", "/p", WorkflowRef::default());
        doc.position = Some(Frame::pending(0, "first"));
        let dir = tempfile::tempdir().unwrap();
        write_state(dir.path(), &doc).unwrap();
        assert_eq!(read_state(dir.path(), "r-1").unwrap(), doc);
    }

    #[test]
    fn newer_format_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        let text = SPEC_EXAMPLE.replace("\"format_version\": 1", "\"format_version\": 7");
        fs::write(&path, &text).unwrap();
        let err = read_state(dir.path(), "flokay-x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "run flokay-x was written by a newer agent-runner (state format 7); upgrade to resume it"
        );
        assert_eq!(err.exit_code(), crate::exit::INVALID);
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn corrupt_files_are_reported_and_left_alone() {
        let cut = &SPEC_EXAMPLE[..SPEC_EXAMPLE.len() / 2];
        let missing_field =
            SPEC_EXAMPLE.replace("\"run_id\": \"flokay-20261121-083312-7f3a\",", "");
        let cases: Vec<Vec<u8>> = vec![
            cut.as_bytes().to_vec(),
            vec![0xff, 0x00, 0x9c, 0x12, 0x80],
            b"[1,2,3]".to_vec(),
            b"{}".to_vec(),
            br#"{"format_version": "1"}"#.to_vec(),
            br#"{"format_version": 0}"#.to_vec(),
            missing_field.into_bytes(),
            Vec::new(),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        for bytes in cases {
            fs::write(&path, &bytes).unwrap();
            let err = read_state(dir.path(), "r").unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with("state of run r is unreadable ("), "{text}");
            assert!(text.ends_with("); the file was left as it is"), "{text}");
            assert_eq!(fs::read(&path).unwrap(), bytes);
        }
    }

    #[test]
    fn missing_file_is_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_state(dir.path(), "r").unwrap_err();
        assert!(matches!(err, StateError::Unreadable { .. }));
    }

    #[test]
    fn failed_write_reports_cannot_save() {
        let dir = tempfile::tempdir().unwrap();
        let doc = StateDoc::new("r", "/p", WorkflowRef::default());
        let err = write_state(&dir.path().join("missing"), &doc).unwrap_err();
        assert!(err.to_string().starts_with("cannot save run state: "));
        assert_eq!(err.exit_code(), crate::exit::RUNTIME);
    }
}
