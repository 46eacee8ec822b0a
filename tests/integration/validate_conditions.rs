//! What `--validate` says about conditions (control.md §6, §11): a syntax error at its column in
//! the file, unknown names with a did-you-mean, names that are not in scope yet, and the
//! reserved names.

use crate::test::Test;

fn validate(yaml: &str) -> crate::test::Output {
    Test::new()
        .write(".agent-runner/workflows/c.yaml", yaml)
        .args(["--validate", "c"])
        .status(3)
        .run()
}

#[test]
fn a_syntax_error_points_at_its_column_in_the_file() {
    let out = validate("name: c\nsteps:\n  - id: a\n    when: review == \n    command: ls\n");
    assert_eq!(
        out.stderr,
        ".agent-runner/workflows/c.yaml:4:20: error[when-syntax]: steps[0] (id \"a\"): invalid expression in \"when\": the expression ends too early (line 1, column 10 of the expression)\n  \
         help: write a CEL expression, for example: review.verdict == \"fail\" && steps.tests.outcome == \"success\"\n\
         agent-runner: validation failed: 1 error(s), 0 warning(s) in 1 file(s)\n"
    );
    // Past the quote of a quoted value, and on the right line of a block value.
    let out = validate("name: c\nsteps:\n  - id: a\n    when: \"a &&& b\"\n    command: ls\n");
    assert!(
        out.stderr
            .starts_with(".agent-runner/workflows/c.yaml:4:16: error[when-syntax]"),
        "{}",
        out.stderr
    );
    let out = validate(
        "name: c\nsteps:\n  - id: a\n    when: |\n      true &&\n        x @ y\n    command: ls\n",
    );
    assert!(
        out.stderr
            .starts_with(".agent-runner/workflows/c.yaml:6:11: error[when-syntax]"),
        "{}",
        out.stderr
    );
}

#[test]
fn unknown_names_get_a_did_you_mean_at_their_column() {
    let out = validate(
        "name: c\nparams: [mode]\nsteps:\n  - id: review\n    command: ls\n    capture: verdict\n  - id: fix\n    when: verdcit == \"fail\" && params.mod == \"x\" && steps.reveiw.outcome == \"failed\" && run.cost > 1.0\n    command: ls\n",
    );
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines[0],
        ".agent-runner/workflows/c.yaml:8:11: error[undefined-variable]: steps[1] (id \"fix\"): undefined variable \"verdcit\" in \"when\" (did you mean \"verdict\"?)"
    );
    assert_eq!(
        lines[1],
        "  help: known here: mode, verdict, steps, run, env, params"
    );
    assert!(
        out.stderr.contains(":8:32: error[undefined-variable]: steps[1] (id \"fix\"): \"params.mod\" in \"when\": this workflow has no parameter \"mod\" (did you mean \"mode\"?)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("error[undefined-variable]: steps[1] (id \"fix\"): \"steps.reveiw\" in \"when\": no step \"reveiw\" runs before this one in this file (did you mean \"review\"?)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("\"run.cost\" in \"when\": run has cost_usd, tokens and id\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn names_are_checked_against_what_is_in_scope_at_the_step() {
    // A later step's id and capture are not in scope yet; inside a loop body they are (an
    // earlier iteration ran them), and break_if sees its own step's capture.
    let out = validate(
        "name: c\nsteps:\n  - id: early\n    when: steps.late.outcome == \"success\" || later == \"x\"\n    command: ls\n  - id: late\n    command: ls\n    capture: later\n",
    );
    assert!(
        out.stderr.contains("no step \"late\" runs before this one"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("undefined variable \"later\""),
        "{}",
        out.stderr
    );
    Test::new()
        .write(
            ".agent-runner/workflows/ok.yaml",
            "name: ok\nsteps:\n  - id: l\n    loop: {max: 2, as_index: i}\n    steps:\n      - id: first\n        when: 'int(i) == 0 || steps.second.outcome == \"success\" && v == \"x\"'\n        command: ls\n      - id: second\n        command: ls\n        capture: v\n        break_if: v == \"done\" && [1, 2].all(x, x > 0)\n",
        )
        .args(["--validate", "ok"])
        .stdout("ok: ok (1 file checked)\n")
        .run();
}

#[test]
fn reserved_names_cannot_be_parameters_or_captures_of_a_file_with_conditions() {
    let out = validate(
        "name: c\nparams: [env]\nsteps:\n  - id: a\n    command: ls\n    capture: steps\n  - id: b\n    when: 1 == 1\n    command: ls\n",
    );
    assert!(
        out.stderr.contains(".agent-runner/workflows/c.yaml:2:10: error[reserved-name]: params[0] (name \"env\"): \"env\" is reserved for conditions (\"when\", \"break_if\") and cannot be used as a parameter name"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            ":6:14: error[reserved-name]: steps[0] (id \"a\"): \"steps\" is reserved for conditions"
        ),
        "{}",
        out.stderr
    );
    // A file without conditions keeps its first-release meaning: nothing to confuse.
    Test::new()
        .write(
            ".agent-runner/workflows/old.yaml",
            "name: old\nparams: [env]\nsteps:\n  - id: a\n    command: echo {{env}}\n    capture: run\n",
        )
        .args(["--validate", "old"])
        .stdout("ok: old (1 file checked)\n")
        .run();
}

#[test]
fn break_if_outside_a_loop_is_still_refused_in_its_expression_form() {
    let out = validate("name: c\nsteps:\n  - id: a\n    command: ls\n    break_if: 1 == 1\n");
    assert!(
        out.stderr.contains("error[break-if-outside-loop]"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_broken_condition_among_a_thousand_is_reported_where_it_is() {
    // Conditions are parsed on a second thread while the file is read: what is reported, and
    // where, must not depend on it.
    let mut yaml = String::from("name: c\nparams: [mode]\nsteps:\n");
    for k in 0..1000 {
        let when = match k {
            499 => format!("mode == \"full\" && {k} > "),
            899 => format!("mdoe == \"full\" && steps.s{}.outcome != \"failed\"", k - 1),
            0 => "mode == \"full\"".to_owned(),
            _ => format!(
                "mode == \"full\" && {k} > 0 && steps.s{}.outcome != \"failed\"",
                k - 1
            ),
        };
        yaml.push_str(&format!(
            "  - id: s{k}\n    when: {when}\n    command: ls\n"
        ));
    }
    yaml.push_str(
        "  - id: again\n    loop: {max: 2}\n    steps:\n      - id: inner\n        command: ls\n        break_if: steps.inner.outcome = 'success'\n",
    );
    let out = validate(&yaml);
    assert_eq!(
        out.stderr,
        ".agent-runner/workflows/c.yaml:1502:34: error[when-syntax]: steps[499] (id \"s499\"): invalid expression in \"when\": the expression ends too early (line 1, column 24 of the expression)\n  \
         help: write a CEL expression, for example: review.verdict == \"fail\" && steps.tests.outcome == \"success\"\n\
         .agent-runner/workflows/c.yaml:2702:11: error[undefined-variable]: steps[899] (id \"s899\"): undefined variable \"mdoe\" in \"when\" (did you mean \"mode\"?)\n  \
         help: known here: mode, steps, run, env, params\n\
         .agent-runner/workflows/c.yaml:3009:39: error[when-syntax]: steps[1000].steps[0] (id \"inner\"): invalid expression in \"break_if\": unexpected '=' (compare with ==) (line 1, column 21 of the expression)\n  \
         help: write a CEL expression, for example: review.verdict == \"fail\" && steps.tests.outcome == \"success\"\n\
         agent-runner: validation failed: 3 error(s), 0 warning(s) in 1 file(s)\n"
    );
}
