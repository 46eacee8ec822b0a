//! `agent-runner k8s`: the manifests validate against the official Kubernetes JSON schemas (the
//! `kubernetes-validate` package that `make tools` installs), and the Job's pod lifecycle —
//! start, killed mid-run, replaced by a new pod on the same volume — completes the run without
//! re-running a completed step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use crate::test::Test;

const RUN_ID: &str = "steps-20261205-010203-ab12";

/// Counts each step's runs in files of the workspace; `two` waits to be killed the first time.
const WORKFLOW: &str = r#"name: steps
params:
  - name: note
steps:
  - id: one
    command: echo {{note}} >> one.count
  - id: two
    command: |
      echo run >> two.count
      if [ ! -e two.seen ]; then touch two.seen; sleep 60; fi
  - id: three
    command: echo run >> three.count
"#;

fn validator() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/py/bin/kubernetes-validate");
    assert!(
        path.exists(),
        "{} is missing: run `make tools` (it installs kubernetes-validate)",
        path.display()
    );
    path
}

fn generate(extra: &[&str]) -> (crate::test::Output, String) {
    let mut test = Test::new()
        .workflow("steps", WORKFLOW)
        .project_config("{}\n")
        .args(["k8s", "steps", "note=$(HOME) 'q' $x"]);
    for arg in extra {
        test = test.arg(arg);
    }
    let output = test.run();
    let text = output.stdout.clone();
    (output, text)
}

#[test]
fn the_manifests_validate_against_the_kubernetes_schemas() {
    let (output, text) = generate(&[
        "--image",
        "registry.example/agents:1",
        "--secret",
        "agent-keys",
    ]);
    let file = output.tempdir.path().join("job.yaml");
    std::fs::write(&file, &text).unwrap();
    let checked = Command::new(validator())
        .args(["--strict", "-k", "1.31.0"])
        .arg(&file)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    for kind in ["configmap", "persistentvolumeclaim", "job"] {
        assert!(
            report.contains(&format!("passed for resource {kind}/")),
            "{report}"
        );
    }
    // The check can fail: a field the schema does not know is refused.
    let broken = text.replace("backoffLimit: 6", "backoffLimit: 6\n  retries: 3");
    std::fs::write(&file, broken).unwrap();
    let checked = Command::new(validator())
        .args(["--strict", "-k", "1.31.0"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!checked.status.success());
    // Secrets are referenced by name, never read or inlined.
    let job = text.split("kind: Job").nth(1).unwrap();
    assert!(
        job.contains("- secretRef:\n") && job.contains(" name: agent-keys\n"),
        "{text}"
    );
}

#[test]
fn bad_requests_are_refused_before_anything_is_printed() {
    Test::new()
        .workflow("steps", WORKFLOW)
        .args(["k8s", "steps", "note=x"])
        .status(2)
        .stderr_contains("\"k8s\" needs --image <IMAGE>")
        .run();
    Test::new()
        .workflow("steps", WORKFLOW)
        .args([
            "k8s",
            "steps",
            "note=x",
            "--image",
            "i",
            "--run-id",
            "Upper_Case",
        ])
        .status(2)
        .stdout("")
        .stderr_contains("cannot name Kubernetes objects")
        .run();
    Test::new()
        .workflow(
            "secretive",
            "name: secretive\nparams:\n  - {name: token, secret: true}\nsteps:\n  - {id: a, command: \"true\"}\n",
        )
        .args(["k8s", "secretive", "token=abcdef123", "--image", "i"])
        .status(2)
        .stdout("")
        .stderr_contains("parameter \"token\" is secret and would be written into the Job manifest in clear")
        .run();
    Test::new()
        .args(["steps", "--image", "i"])
        .status(2)
        .stderr_contains("--image cannot be used with a workflow run; it applies only to \"k8s\"")
        .run();
}

#[test]
fn a_killed_pod_is_replaced_and_the_run_resumes_without_rerunning_a_step() {
    let (output, text) = generate(&["--image", "i", "--run-id", RUN_ID]);
    let pod = Pod::from_manifests(&text, &output.tempdir.path().join("volume"));
    let workspace = pod.workspace();

    // The first pod: killed while step "two" runs.
    let mut first = pod.start();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !workspace.join("two.seen").exists() {
        assert!(Instant::now() < deadline, "step two never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap();
    first.wait().unwrap();

    // Its replacement resumes the same run from the volume.
    let second = pod.start().wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("resuming run {RUN_ID}")),
        "{stderr}"
    );
    let read = |name: &str| std::fs::read_to_string(workspace.join(name)).unwrap();
    // The parameter arrived exactly as given, through Kubernetes' $(VAR) expansion.
    assert_eq!(read("one.count"), "$(HOME) 'q' $x\n");
    assert_eq!(read("two.count"), "run\nrun\n");
    assert_eq!(read("three.count"), "run\n");

    // A pod started after the end finds the run complete and does nothing.
    let third = pod.start().wait_with_output().unwrap();
    assert_eq!(third.status.code(), Some(0));
    assert_eq!(read("one.count").lines().count(), 1);
}

/// The Job's pod, played locally: the container's command with its environment, the claim's
/// sub-paths as directories of `volume`, the ConfigMap's files written where they are mounted.
struct Pod {
    command: Vec<String>,
    env: Vec<(String, String)>,
    mounts: BTreeMap<String, PathBuf>,
    bin: PathBuf,
}

#[derive(Deserialize)]
struct Object {
    kind: String,
    #[serde(default)]
    data: BTreeMap<String, String>,
    #[serde(default)]
    spec: Value,
}

impl Pod {
    fn from_manifests(text: &str, volume: &Path) -> Pod {
        let objects: Vec<Object> = serde_yaml::Deserializer::from_str(text)
            .map(|doc| Object::deserialize(doc).unwrap())
            .collect();
        let config = &objects.iter().find(|o| o.kind == "ConfigMap").unwrap().data;
        let job = &objects.iter().find(|o| o.kind == "Job").unwrap().spec;
        let spec = &job["template"]["spec"];
        assert_eq!(spec["restartPolicy"], "Never");
        let container = &spec["containers"][0];
        let env: Vec<(String, String)> = container["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap().to_owned(),
                    e["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        // Mount points of the claim, longest last so that files land inside the workspace.
        let mut mounts = BTreeMap::new();
        for mount in container["volumeMounts"].as_array().unwrap() {
            let target = mount["mountPath"].as_str().unwrap().to_owned();
            let sub = mount["subPath"].as_str().unwrap();
            if mount["name"] == "data" {
                let dir = volume.join(sub);
                std::fs::create_dir_all(&dir).unwrap();
                mounts.insert(target, dir);
            }
        }
        for mount in container["volumeMounts"].as_array().unwrap() {
            if mount["name"] == "project" {
                let target = mount["mountPath"].as_str().unwrap();
                let local = Pod::local_in(&mounts, target);
                std::fs::create_dir_all(local.parent().unwrap()).unwrap();
                std::fs::write(&local, &config[mount["subPath"].as_str().unwrap()]).unwrap();
            }
        }
        let env_map: BTreeMap<&str, &str> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let command = container["command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| expand(a.as_str().unwrap(), &env_map))
            .collect();
        let bin = volume.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_agent-runner"), bin.join("agent-runner"))
            .unwrap();
        Pod {
            command,
            env,
            mounts,
            bin,
        }
    }

    /// The local path of a path inside the container.
    fn local_in(mounts: &BTreeMap<String, PathBuf>, target: &str) -> PathBuf {
        let (mount, dir) = mounts
            .iter()
            .filter(|(m, _)| target.starts_with(m.as_str()))
            .max_by_key(|(m, _)| m.len())
            .unwrap();
        dir.join(target[mount.len()..].trim_start_matches('/'))
    }

    fn workspace(&self) -> PathBuf {
        Pod::local_in(&self.mounts, "/workspace")
    }

    fn start(&self) -> std::process::Child {
        let mut command = Command::new(&self.command[0]);
        command
            .args(&self.command[1..])
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .env("HOME", self.workspace())
            .env("NO_COLOR", "1")
            .current_dir(self.workspace())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in &self.env {
            // The claim is mounted where the manifest says; here that is a local directory.
            let value = if value.starts_with('/') && name == "AGENT_RUNNER_HOME" {
                Pod::local_in(&self.mounts, value).display().to_string()
            } else {
                value.clone()
            };
            command.env(name, value);
        }
        command.spawn().unwrap()
    }
}

/// Kubernetes' expansion of a container command: `$(NAME)` of a defined variable becomes its
/// value, `$$` becomes `$`, anything else stays.
fn expand(text: &str, env: &BTreeMap<&str, &str>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(close) = inner.find(')')
            && let Some(value) = env.get(&inner[..close])
        {
            out.push_str(value);
            rest = &inner[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn a_chosen_run_id_names_one_run_only() {
    let first = Test::new()
        .workflow("w", "name: w\nsteps:\n  - {id: a, command: \"true\"}\n")
        .args(["--run-id", "nightly-1", "w"])
        .run();
    assert_eq!(first.run_id(), "nightly-1");
    first
        .then()
        .args(["--run-id", "nightly-1", "w"])
        .status(2)
        .stderr(
            "agent-runner: error: run \"nightly-1\" already exists; resume it with \"agent-runner --resume nightly-1\"\n",
        )
        .run();
}
