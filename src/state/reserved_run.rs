//! A new run's id, claimed on disk before the run dir is complete ([`ReservedRun`]).
//!
//! The id of a new run is drawn before its run dir can be made: engine hooks and parameter
//! defaults see it, and an engine's `state_dir` decides where the run dir goes. Claiming
//! `runs/<id>/` as soon as the id is drawn keeps two runs started in the same second from drawing
//! and using the same id; [`ReservedRun::create`] then completes the run dir.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::error::StateError;
use super::fs_util::{create_private_dir_new, write_atomic};
use super::paths::{REDIRECT_FILE, Redirect, prepare_relocation};
use super::run_dir::{OUTPUT_DIR, RunDir};

/// A run id claimed by [`ProjectDir::reserve_run`]: `runs/<id>/` exists and belongs to this run.
/// Dropped without [`ReservedRun::create`] (the run stopped before it started), the empty dir is
/// removed again.
#[derive(Debug)]
pub struct ReservedRun {
    dir: PathBuf,
    run_id: String,
    created: bool,
}

impl ReservedRun {
    pub(super) fn new(dir: PathBuf, run_id: String) -> Self {
        ReservedRun {
            dir,
            run_id,
            created: false,
        }
    }

    pub fn id(&self) -> &str {
        &self.run_id
    }

    /// Where the run dir is unless an engine relocates it.
    pub fn default_dir(&self) -> &Path {
        &self.dir
    }

    /// Completes the run dir with its `output/`. With `relocate_to = Some(D)` (an engine's
    /// `state_dir`) and `D` an existing directory, the run dir is `D/.agent-runner/runs/<id>/`
    /// and the default location gets a `redirect.json` stub; a missing `D` keeps the default
    /// location.
    pub fn create(mut self, relocate_to: Option<&Path>) -> Result<RunDir, StateError> {
        let relocated_runs = match relocate_to {
            Some(d) if d.is_dir() => Some(prepare_relocation(d)?),
            _ => None,
        };
        let run = self
            .complete(relocated_runs.as_deref())
            .map_err(|e| StateError::io("create run dir", &self.dir, e))?;
        self.created = true;
        Ok(run)
    }

    fn complete(&self, relocated_runs: Option<&Path>) -> io::Result<RunDir> {
        let default_dir = &self.dir;
        let run_id = self.run_id.as_str();
        let Some(relocated_runs) = relocated_runs else {
            create_private_dir_new(&default_dir.join(OUTPUT_DIR))?;
            return Ok(RunDir::at(default_dir.clone(), run_id));
        };
        let real_dir = relocated_runs.join(run_id);
        create_private_dir_new(&real_dir)?;
        create_private_dir_new(&real_dir.join(OUTPUT_DIR))?;
        let stub = Redirect {
            run_dir: real_dir.to_string_lossy().into_owned(),
        };
        let bytes = serde_json::to_vec_pretty(&stub).map_err(io::Error::other)?;
        write_atomic(
            default_dir,
            REDIRECT_FILE,
            &[bytes, b"\n".to_vec()].concat(),
        )?;
        Ok(RunDir::at(real_dir, run_id))
    }
}

impl Drop for ReservedRun {
    fn drop(&mut self) {
        if !self.created {
            // Gives the id back; only what the reservation made is there.
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
