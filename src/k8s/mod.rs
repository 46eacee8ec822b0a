//! `agent-runner k8s <workflow> [params] --image IMAGE`: prints the manifests that run a workflow
//! as a Kubernetes Job whose restarts resume the run (docs/kubernetes.md).
//!
//! Nothing is sent to a cluster: the output goes to `kubectl apply -f -`. The workflow and its
//! parameters are checked here, as for a run, so that a mistake shows now and not in a pod's log.
//! The run id is chosen now and written into the Job, so every pod of the Job — the first, and
//! each one that replaces a pod that died — works on the same run: the first starts it with
//! `--run-id`, the others resume it from the volume.

mod files;
mod manifest;

use std::path::Path;

use crate::cli::K8sRequest;
use crate::console;
use crate::exec::error::RunError;
use crate::exec::params::{self, Bound};
use crate::exec::subflow::Loader;
use crate::exit;
use crate::state::{new_run_id, validate_run_id};

pub use manifest::{Manifest, STATE_MOUNT, WORKSPACE};

/// Runs the command; returns the exit code.
pub fn run(request: &K8sRequest, project_dir: &Path) -> i32 {
    match manifests(request, project_dir) {
        Ok(text) => {
            console::print_stdout(&text);
            exit::SUCCESS
        }
        Err(Error::Run(err)) => crate::error::Error::Run(err).report(),
        Err(Error::Usage(message)) => {
            console::error(&message);
            exit::USAGE
        }
    }
}

enum Error {
    Run(RunError),
    Usage(String),
}

impl From<RunError> for Error {
    fn from(err: RunError) -> Self {
        Error::Run(err)
    }
}

fn manifests(request: &K8sRequest, project_dir: &Path) -> Result<String, Error> {
    let mut loader = Loader::new(project_dir)?;
    let workflow = loader.load_root(&request.workflow)?;
    let bound = params::bind(&workflow, &request.params).map_err(|err| {
        console::error(&err.message);
        console::eprint_line(&err.usage);
        RunError::Params
    })?;
    for (name, value) in &bound {
        let secret = workflow.params.iter().any(|p| &p.name == name && p.secret);
        if secret && matches!(value, Bound::Given(_)) {
            return Err(Error::Usage(format!(
                "parameter \"{name}\" is secret and would be written into the Job manifest in \
                 clear; run the workflow without it here, or drop \"secret: true\" if it is not one"
            )));
        }
    }
    let run_id = match &request.run_id {
        Some(id) => id.clone(),
        None => new_run_id(&workflow.name, std::time::SystemTime::now()),
    };
    check_label(&run_id, "--run-id")?;
    for name in request.secrets.iter().chain(&request.pvc) {
        check_object_name(name)?;
    }
    if let Some(namespace) = &request.namespace {
        check_object_name(namespace)?;
    }
    let files = files::collect(project_dir, loader.files().keys()).map_err(Error::Usage)?;
    let manifest = Manifest {
        run_id,
        workflow_name: workflow.name.clone(),
        args: std::iter::once(request.workflow.clone())
            .chain(request.params.iter().cloned())
            .collect(),
        image: request.image.clone(),
        secrets: request.secrets.clone(),
        pvc: request.pvc.clone(),
        namespace: request.namespace.clone(),
        files,
    };
    manifest.to_yaml().map_err(Error::Usage)
}

/// Run ids become label values and object names: at most 63 characters of `[a-z0-9-]`.
fn check_label(value: &str, option: &str) -> Result<(), Error> {
    validate_run_id(value).map_err(|err| Error::Usage(err.to_string()))?;
    let ok = value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{option} \"{value}\" cannot name Kubernetes objects: use at most 63 characters of a-z, 0-9 and -"
        )))
    }
}

/// A Secret, claim or namespace name: a DNS-1123 label.
fn check_object_name(name: &str) -> Result<(), Error> {
    check_label(name, "name").map_err(|_| {
        Error::Usage(format!(
            "\"{name}\" is not a valid Kubernetes object name (at most 63 characters of a-z, 0-9 and -, starting and ending with a letter or digit)"
        ))
    })
}
