//! Conditions through the real binary (control.md §6, §11 "Conditions, precisely"): `when:` on
//! every kind of step over parameters, captures, loop variables, `steps.<id>`, `run` and `env`;
//! its order with `skip_if`; the failure classes of a condition that cannot be evaluated; the
//! expression form of `break_if`; and resume.

use pretty_assertions::assert_eq;

use crate::run_support::{only_run, stable, wf};
use crate::test::Test;

#[test]
fn when_reads_params_captures_loop_variables_steps_run_and_env() {
    let out = Test::new()
        .write(
            &wf("cond"),
            r#"name: cond
params:
  - name: mode
    default: fast
steps:
  - id: classify
    command: printf bug
    capture: kind
  - id: flaky-tests
    command: exit 3
    continue_on_failure: true
  - id: fix
    when: kind == "bug" && steps["flaky-tests"].exit_code == 3 && steps["flaky-tests"].class == "exit_status"
    command: echo fixing
  - id: feature
    when: kind == "feature"
    command: echo never
  - id: each
    loop: {max: 3, as_index: i}
    steps:
      - id: odd
        when: int(i) % 2 == 1 && params.mode == "fast" && mode == "fast"
        command: echo odd-{{i}}
  - id: group
    when: 'steps.feature.outcome == "skipped" && steps.fix.outcome == "success" && steps.fix.exit_code == 0'
    steps:
      - id: report
        when: run.id.startsWith("cond-") && run.tokens == 0 && run.cost_usd == 0.0 && env.GATE == "open"
        command: echo report
  - id: sub
    when: has(steps.group) && steps.group.class == null
    workflow: leaf.yaml
"#,
        )
        .write(
            ".agent-runner/workflows/leaf.yaml",
            "name: leaf\nsteps:\n  - id: hello\n    when: '!has(steps.hello)'\n    command: echo leaf\n",
        )
        .env("GATE", "open")
        .args(["cond"])
        .stdout("bugfixing\nodd-1\nreport\nleaf\n")
        .run();
    let stderr = stable(&out.stderr);
    assert!(
        stderr.contains("==> 4/7 feature [skipped: when: kind == \"feature\"]\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "==> 5/7 each > #1/3 > odd [skipped: when: int(i) % 2 == 1 && params.mode == \"fast\" && mode == \"fast\"]\n"
        ),
        "{stderr}"
    );
    let run = only_run(out.tempdir.path());
    assert_eq!(
        run.skips(),
        [
            "feature when".to_owned(),
            "each[0]/odd when".to_owned(),
            "each[2]/odd when".to_owned()
        ]
    );
    let skip = &run.events_named("skip")[0];
    assert_eq!(skip["data"]["reason"], "when");
    assert_eq!(skip["data"]["expression"], "kind == \"feature\"");
    // The results conditions read are kept in the scope: a second-release field.
    let state = run.state();
    assert_eq!(state["format_version"], 2);
    assert_eq!(state["scope"]["steps"]["feature"]["outcome"], "skipped");
    assert_eq!(state["scope"]["steps"]["flaky-tests"]["exit_code"], 3);
    assert_eq!(
        state["scope"]["steps"]["flaky-tests"]["class"],
        "exit_status"
    );
}

#[test]
fn a_file_without_step_conditions_keeps_the_first_state_format() {
    let out = Test::new()
        .write(
            &wf("plain"),
            "name: plain\nsteps:\n  - id: a\n    when: 1 == 1\n    command: echo a\n",
        )
        .args(["plain"])
        .stdout("a\n")
        .run();
    let state = only_run(out.tempdir.path()).state();
    assert_eq!(state["format_version"], 1);
    assert!(state["scope"].get("steps").is_none(), "{state}");
}

#[test]
fn when_is_evaluated_before_skip_if_and_either_one_skips() {
    let out = Test::new()
        .write(
            &wf("order"),
            r#"name: order
steps:
  - id: a
    when: "false"
    skip_if: "sh: touch skip-if-ran"
    command: echo a
  - id: b
    when: "true"
    skip_if: "sh: true"
    command: echo b
  - id: c
    when: "true"
    command: echo c
"#,
        )
        .args(["order"])
        .stdout("c\n")
        .run();
    assert!(!out.project().join("skip-if-ran").exists());
    assert_eq!(
        only_run(out.tempdir.path()).skips(),
        ["a when".to_owned(), "b sh".to_owned()]
    );
}

#[test]
fn a_type_error_fails_the_step_with_invalid_value() {
    let out = Test::new()
        .write(
            &wf("typed"),
            "name: typed\nsteps:\n  - id: n\n    command: printf 3\n    capture: n\n  - id: big\n    when: n > 2\n    command: echo big\n",
        )
        .args(["typed"])
        .status(1)
        .run();
    assert!(
        out.stderr
            .contains("==> 2/2 big [shell]\n  failed: when \"n > 2\" cannot be evaluated:"),
        "{}",
        out.stderr
    );
    let state = only_run(out.tempdir.path()).state();
    assert_eq!(state["last_failure"]["class"], "invalid_value");
    assert_eq!(state["last_failure"]["path"], "big");
}

#[test]
fn a_capture_whose_step_was_skipped_is_undefined_unless_guarded_with_has() {
    let workflow = |condition: &str| {
        format!(
            "name: unset\nsteps:\n  - id: review\n    when: 'false'\n    command: echo pass\n    capture: verdict\n  - id: after\n    when: '{condition}'\n    command: echo after\n"
        )
    };
    let out = Test::new()
        .write(&wf("unset"), workflow("verdict == \"pass\""))
        .args(["unset"])
        .status(1)
        .run();
    assert!(
        out.stderr
            .contains("reads \"verdict\", which has no value here"),
        "{}",
        out.stderr
    );
    let state = only_run(out.tempdir.path()).state();
    assert_eq!(state["last_failure"]["class"], "undefined_variable");

    Test::new()
        .write(
            &wf("unset"),
            workflow("!has(verdict.text) && steps.review.outcome == \"skipped\""),
        )
        .args(["unset"])
        .stdout("after\n")
        .run();
}

#[test]
fn break_if_expression_ends_the_loop_and_consumes_a_failure() {
    let out = Test::new()
        .write(
            &wf("until"),
            r#"name: until
steps:
  - id: attempts
    loop: {max: 5, as_index: i}
    steps:
      - id: judge
        command: if [ {{i}} -ge 2 ]; then printf pass; else printf fail; fi
        capture: verdict
        break_if: verdict == "pass"
  - id: failing
    loop: {max: 3, as_index: i}
    steps:
      - id: check
        command: echo try-{{i}}; exit 2
        continue_on_failure: true
        break_if: steps.check.exit_code == 2 && int(i) == 1
  - id: after
    command: echo after
"#,
        )
        .args(["until"])
        .stdout("failfailpasstry-0\ntry-1\nafter\n")
        .run();
    let stderr = stable(&out.stderr);
    assert!(
        stderr.contains("  break_if verdict == \"pass\" matched: leaving loop \"attempts\"\n"),
        "{stderr}"
    );
    // The first failure of `check` is continued (the expression is false); the second one is
    // consumed by the expression, as `break_if: failure` would.
    assert!(
        stderr.contains("  break_if steps.check.exit_code == 2 && int(i) == 1 matched: leaving loop \"failing\"\n"),
        "{stderr}"
    );
}

#[test]
fn break_if_keywords_keep_their_meaning_even_with_a_capture_of_that_name() {
    Test::new()
        .write(
            &wf("words"),
            r#"name: words
steps:
  - id: l
    loop: {max: 3}
    steps:
      - id: s
        command: printf no
        capture: success
        break_if: success
  - id: end
    command: echo end
"#,
        )
        .args(["words"])
        .stdout("noend\n")
        .run();
}

#[test]
fn a_step_a_resume_reenters_is_not_checked_again() {
    let out = Test::new()
        .write(
            &wf("gate"),
            "name: gate\nsteps:\n  - id: work\n    when: env.GATE == \"open\"\n    command: test -f ready && echo worked\n",
        )
        .env("GATE", "open")
        .args(["gate"])
        .status(1)
        .run();
    std::fs::write(out.project().join("ready"), "").unwrap();
    // The gate is closed now, but the failed step is re-run, not skipped.
    out.then()
        .env_remove("GATE")
        .args(["--resume"])
        .stdout("worked\n")
        .run();
}

#[test]
fn a_json_capture_is_a_map_in_conditions() {
    Test::new()
        .write(
            &wf("typed"),
            r#"name: typed
steps:
  - id: review
    command: echo '{"verdict":"fail","issues":["x","y"],"score":3}'
    output: json
    capture: review
  - id: fix
    when: review.verdict == "fail" && size(review.issues) == 2 && review.score < 5
    command: echo fixing
  - id: ship
    when: review.verdict == "pass"
    command: echo shipping
"#,
        )
        .args(["typed"])
        .stdout("{\"verdict\":\"fail\",\"issues\":[\"x\",\"y\"],\"score\":3}\nfixing\n")
        .run();
}

#[test]
fn dry_run_shows_each_when() {
    let test = Test::new().write(
        &wf("plan"),
        "name: plan\nsteps:\n  - id: review\n    command: printf pass\n    capture: verdict\n  - id: g\n    when: verdict != \"pass\"\n    steps:\n      - id: fix\n        when: steps.review.outcome == \"success\"\n        command: echo fix\n",
    );
    let out = test.args(["--dry-run", "plan"]).run();
    assert!(
        out.stdout.ends_with(
            "review  shell  printf pass\ng  group  \n  when: verdict != \"pass\"\n  fix  shell  echo fix\n    when: steps.review.outcome == \"success\"\n"
        ),
        "{}",
        out.stdout
    );
    let out = out.then().args(["--dry-run", "--json", "plan"]).run();
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(plan["steps"][1]["when"], "verdict != \"pass\"");
    assert_eq!(
        plan["steps"][1]["steps"][0]["when"],
        "steps.review.outcome == \"success\""
    );
    assert!(plan["steps"][0].get("when").is_none());
}
