//! The objects of a Kubernetes run: a ConfigMap with the project's files, a PersistentVolumeClaim
//! for the state root and the workspace (unless an existing claim is named), and the Job.
//!
//! The pod runs one small POSIX shell script whose only inputs are its environment and its
//! arguments (the workflow and parameters, never spliced into the script): resume the run if it
//! exists on the volume, else start it under the Job's run id. `restartPolicy: Never` with a pod
//! failure policy makes the Job replace a pod that was killed, evicted or crashed (the new pod
//! resumes), and fail at once on the exit codes that a retry cannot change (1 the workflow failed,
//! 2 usage, 3 invalid workflow or configuration).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::state::workflow_slug;

/// Where the state root is mounted in the pod (`AGENT_RUNNER_HOME`).
pub const STATE_MOUNT: &str = "/var/lib/agent-runner";
/// The project directory in the pod.
pub const WORKSPACE: &str = "/workspace";

/// The container's command: resume the Job's run, or start it the first time.
const ENTRY_SCRIPT: &str = r#"set -eu
if agent-runner show "$AGENT_RUNNER_RUN_ID" >/dev/null 2>&1; then
  exec agent-runner --resume "$AGENT_RUNNER_RUN_ID"
fi
exec agent-runner --run-id "$AGENT_RUNNER_RUN_ID" run "$@"
"#;

/// Exit codes that end the Job without another pod (cli.md §8).
const FINAL_EXIT_CODES: [i32; 3] = [1, 2, 3];

/// Everything the manifests are made of.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub run_id: String,
    pub workflow_name: String,
    /// The workflow argument and the parameters, as given.
    pub args: Vec<String>,
    pub image: String,
    pub secrets: Vec<String>,
    pub pvc: Option<String>,
    pub namespace: Option<String>,
    /// Project files by relative path.
    pub files: BTreeMap<String, String>,
}

impl Manifest {
    /// The objects as one multi-document YAML text.
    pub fn to_yaml(&self) -> Result<String, String> {
        let mut text = String::new();
        for object in self.objects() {
            let yaml = serde_yaml::to_string(&object).map_err(|e| e.to_string())?;
            text.push_str("---\n");
            text.push_str(&yaml);
        }
        Ok(text)
    }

    /// The Job's name, also the prefix of the other objects.
    pub fn job_name(&self) -> String {
        let name: String = format!("ar-{}", self.run_id).chars().take(63).collect();
        name.trim_end_matches('-').to_owned()
    }

    fn objects(&self) -> Vec<Value> {
        let mut objects = vec![self.config_map()];
        if self.pvc.is_none() {
            objects.push(self.claim());
        }
        objects.push(self.job());
        objects
    }

    fn metadata(&self, name: String) -> Value {
        let mut metadata = json!({"name": name, "labels": self.labels()});
        if let Some(namespace) = &self.namespace {
            metadata["namespace"] = json!(namespace);
        }
        metadata
    }

    fn labels(&self) -> Value {
        json!({
            "app.kubernetes.io/name": "agent-runner",
            "agent-runner/workflow": workflow_slug(&self.workflow_name),
            "agent-runner/run-id": self.run_id,
        })
    }

    fn config_map_name(&self) -> String {
        format!("{}-project", self.job_name())
    }

    fn claim_name(&self) -> String {
        self.pvc
            .clone()
            .unwrap_or_else(|| format!("{}-data", self.job_name()))
    }

    /// ConfigMap keys cannot hold `/`: the files are `f0`, `f1`, … in path order.
    fn config_map(&self) -> Value {
        let data: serde_json::Map<String, Value> = self
            .files
            .values()
            .enumerate()
            .map(|(i, text)| (format!("f{i}"), json!(text)))
            .collect();
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": self.metadata(self.config_map_name()),
            "data": data,
        })
    }

    fn claim(&self) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": self.metadata(self.claim_name()),
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        })
    }

    fn job(&self) -> Value {
        let mut mounts = vec![
            json!({"name": "data", "mountPath": STATE_MOUNT, "subPath": "state"}),
            json!({"name": "data", "mountPath": WORKSPACE, "subPath": format!("workspace/{}", self.run_id)}),
        ];
        mounts.extend(self.files.keys().enumerate().map(|(i, path)| {
            json!({
                "name": "project",
                "mountPath": format!("{WORKSPACE}/{path}"),
                "subPath": format!("f{i}"),
                "readOnly": true,
            })
        }));
        let env_from: Vec<Value> = self
            .secrets
            .iter()
            .map(|name| json!({"secretRef": {"name": name}}))
            .collect();
        let mut command = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            ENTRY_SCRIPT.to_owned(),
            "agent-runner-job".to_owned(),
        ];
        command.extend(self.args.iter().map(|a| escape_expansion(a)));
        let container = json!({
            "name": "agent-runner",
            "image": self.image,
            "workingDir": WORKSPACE,
            "command": command,
            "env": [
                {"name": "AGENT_RUNNER_HOME", "value": STATE_MOUNT},
                {"name": "AGENT_RUNNER_RUN_ID", "value": self.run_id},
            ],
            "envFrom": env_from,
            "volumeMounts": mounts,
        });
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": self.metadata(self.job_name()),
            "spec": {
                "backoffLimit": 6,
                "podFailurePolicy": {"rules": [
                    {"action": "FailJob", "onExitCodes": {
                        "containerName": "agent-runner",
                        "operator": "In",
                        "values": FINAL_EXIT_CODES,
                    }},
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                ]},
                "template": {
                    "metadata": {"labels": self.labels()},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [container],
                        "volumes": [
                            {"name": "data", "persistentVolumeClaim": {"claimName": self.claim_name()}},
                            {"name": "project", "configMap": {"name": self.config_map_name()}},
                        ],
                    },
                },
            },
        })
    }
}

/// Kubernetes expands `$(NAME)` in a container's command; `$$` keeps a `$` as it is, so a
/// parameter reaches the runner exactly as it was given.
fn escape_expansion(arg: &str) -> String {
    arg.replace('$', "$$")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            run_id: "demo-20261205-010203-ab12".to_owned(),
            workflow_name: "Demo".to_owned(),
            args: vec!["demo".to_owned(), "topic=$(HOME) $x".to_owned()],
            image: "registry.example/agents:1".to_owned(),
            secrets: vec!["agent-keys".to_owned()],
            pvc: None,
            namespace: Some("agents".to_owned()),
            files: BTreeMap::from([
                (".agent-runner/config.yaml".to_owned(), "{}\n".to_owned()),
                (
                    ".agent-runner/workflows/a.yaml".to_owned(),
                    "name: a\n".to_owned(),
                ),
            ]),
        }
    }

    #[test]
    fn objects_and_names() {
        let m = manifest();
        let objects = m.objects();
        let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
        assert_eq!(kinds, ["ConfigMap", "PersistentVolumeClaim", "Job"]);
        assert_eq!(m.job_name(), "ar-demo-20261205-010203-ab12");
        let job = &objects[2];
        assert_eq!(job["metadata"]["namespace"], "agents");
        let container = &job["spec"]["template"]["spec"]["containers"][0];
        let command = container["command"].as_array().unwrap();
        assert_eq!(command[4], "demo");
        assert_eq!(command[5], "topic=$$(HOME) $$x");
        assert_eq!(
            container["volumeMounts"][3]["mountPath"],
            "/workspace/.agent-runner/workflows/a.yaml"
        );
        assert_eq!(container["volumeMounts"][3]["subPath"], "f1");
        assert_eq!(objects[0]["data"]["f1"], "name: a\n");
    }

    #[test]
    fn a_named_claim_is_used_not_generated() {
        let m = Manifest {
            pvc: Some("shared".to_owned()),
            ..manifest()
        };
        let objects = m.objects();
        assert_eq!(objects.len(), 2);
        assert_eq!(
            objects[1]["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
            "shared"
        );
    }

    #[test]
    fn long_run_ids_make_valid_names() {
        let m = Manifest {
            run_id: format!("{}-20261205-010203-ab12", "x".repeat(40)),
            ..manifest()
        };
        assert!(m.job_name().len() <= 63);
        assert!(!m.job_name().ends_with('-'));
    }
}
