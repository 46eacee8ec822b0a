//! Property test of shell quoting: hostile values rendered into every context the quote scanner
//! knows as safe, run with both `sh` and `bash`; the output must be exactly the value and
//! nothing the values ask for may happen. Every context it refuses is refused for any value.
//!
//! `cargo test` runs the fixed hostile values plus a few dozen random ones per context.
//! `AGENT_RUNNER_INJECTION_CASES=<n>` runs `n` random values per context instead (the seed is
//! printed, and `AGENT_RUNNER_INJECTION_SEED` replays one). Long runs outlast nextest's timeout:
//! `AGENT_RUNNER_INJECTION_CASES=2000 cargo test --lib injection_tests -- --nocapture`.

use std::path::Path;
use std::process::Command;

use super::{Vars, analyze, render};

/// Values that try to break out of every quoting context.
const HOSTILE: &[&str] = &[
    "it's \"ok\"",
    "$(touch pwned)",
    "`touch pwned`",
    "'; touch pwned; '",
    "\"; touch pwned; \"",
    "a\nb; touch pwned",
    "x` ; touch pwned ; `",
    "x) ; touch pwned ; (",
    "\\",
    "\\\\\"",
    "a\\`b$c\"d'e",
    "$HOME ${HOME} $((1+1))",
    "$(( $(touch pwned) ))",
    "a[$(touch pwned)]",
    "* ? [a] ~ {a,b}",
    "-n",
    "",
    " leading and trailing ",
    "é ü 漢字",
    "tab\there",
    "#not a comment",
    "\n",
    "line\ntouch pwned #",
    "EOF\ntouch pwned\nEOF",
    "esac) touch pwned ;; esac",
    "\\\"`touch pwned`\\\"",
    "'\"'\"'$(touch pwned)'\"'\"'",
    ";|&<>()!",
];

/// Fragments random values are made of: shell syntax of every kind, and odd characters.
const FRAGMENTS: &[&str] = &[
    "$(touch pwned)",
    "`touch pwned`",
    "$((",
    "))",
    "${",
    "}",
    "$[",
    "'",
    "\"",
    "\\",
    "\\\"",
    "\n",
    "\r",
    "\t",
    " ",
    ";",
    "|",
    "&",
    "*",
    "?",
    "[",
    "]",
    "~",
    "#",
    "(",
    ")",
    "<",
    ">",
    "!",
    "$",
    "{a,b}",
    "EOF",
    "esac",
    ";;",
    "touch pwned",
    "-n",
    "é",
    "漢",
    "\u{1}",
    "\u{7f}",
    "\u{1b}[31m",
    "a",
    "0",
];

/// A context: a template that prints `{{x}}`, and the output it must produce.
struct Context {
    template: &'static str,
    expect: fn(&str) -> String,
}

fn same(v: &str) -> String {
    v.to_owned()
}

/// What `$(…)` does to output: trailing newlines are removed.
fn substituted(v: &str) -> String {
    v.trim_end_matches('\n').to_owned()
}

const CONTEXTS: &[Context] = &[
    Context {
        template: "printf '%s' {{x}}",
        expect: same,
    },
    Context {
        template: "printf '%s|' a{{x}}b",
        expect: |v| format!("a{v}b|"),
    },
    Context {
        template: "printf '%s' \"{{x}}\"",
        expect: same,
    },
    Context {
        template: "printf '%s' \"pre {{x}} post\"",
        expect: |v| format!("pre {v} post"),
    },
    Context {
        template: "printf '%s' \"$(printf '%s' {{x}})\"",
        expect: substituted,
    },
    Context {
        template: "printf '%s' \"$(printf '%s' \"{{x}}\")\"",
        expect: substituted,
    },
    Context {
        template: "printf '%s' \"$( (printf '%s' {{x}}) )\"",
        expect: substituted,
    },
    Context {
        template: "printf '%s' \"$(printf '%s' \"$(printf '%s' {{x}})\")\"",
        expect: substituted,
    },
    Context {
        template: "printf ok # {{x}}",
        expect: |_| "ok".to_owned(),
    },
    Context {
        template: "printf '%s' \\\\{{x}}",
        expect: same,
    },
    Context {
        template: "printf '%s' \"\\\\{{x}}\"",
        expect: same,
    },
    Context {
        template: "printf '%s' 'a'{{x}}'b'",
        expect: |v| format!("a{v}b"),
    },
    Context {
        template: "printf '%s' \"a\"{{x}}\"b\"",
        expect: |v| format!("a{v}b"),
    },
    Context {
        template: "printf '%s' \"$(case y in y) printf '%s' {{x}};; esac)\"",
        expect: substituted,
    },
    Context {
        template: "printf '%s' \"$(case y in (y) printf '%s' \"{{x}}\";; esac)\"",
        expect: substituted,
    },
    Context {
        template: "cat <<EOF >/dev/null\nbody $(echo) ) '\nEOF\nprintf '%s' {{x}}",
        expect: same,
    },
    Context {
        template: "printf '%s' \"$((1 + 1))\"{{x}}",
        expect: |v| format!("2{v}"),
    },
    Context {
        template: "printf '%s' \"${unset_var:-a}\"{{x}}",
        expect: |v| format!("a{v}"),
    },
    Context {
        template: "[ {{x}} = {{x}} ] && printf '%s' {{x}}",
        expect: same,
    },
    Context {
        template: "for i in {{x}}; do printf '%s' \"$i\"; done",
        expect: same,
    },
    Context {
        template: "if true; then printf '%s' {{x}}; fi",
        expect: same,
    },
    Context {
        template: "printf '%s' {{x}} | cat",
        expect: same,
    },
    Context {
        template: "y={{x}}; printf '%s' \"$y\"",
        expect: same,
    },
    Context {
        template: "printf '%s' \"$(y={{x}}; printf '%s' \"$y\")\"",
        expect: substituted,
    },
    Context {
        template: "f() { printf '%s' {{x}}; }; f",
        expect: same,
    },
    Context {
        template: "printf '%s' `echo` {{x}}",
        expect: same,
    },
];

/// Templates the scanner must refuse, whatever the value (each one runs an injected value as
/// code or arithmetic in at least one of `sh` and `bash`).
const REFUSED: &[&str] = &[
    "echo \"$(( {{x}} + 1 ))\"",
    "echo $(( {{x}} ))",
    "(( {{x}} ))",
    "echo $[ {{x}} + 1 ]",
    "let n={{x}}",
    "echo `echo \\\"{{x}}\\\"`",
    "echo \"`echo \\\"{{x}}\\\"`\"",
    "echo `echo {{x}}`",
    "cat <<EOF\n{{x}}\nEOF",
    "cat <<'EOF'\n{{x}}\nEOF",
    "cat <<-EOF\n\t{{x}}\n\tEOF",
    "echo ${unset_var:-{{x}}}",
    "echo \"${unset_var:-{{x}}}\"",
    "[[ {{x}} -eq 1 ]]",
    "[[ 1 -eq 1 && {{x}} -eq 1 ]]",
    "eval {{x}}",
    "eval \"echo {{x}}\"",
    "eval \"$(echo {{x}})\"",
    "sh -c {{x}}",
    "bash -c \"echo {{x}}\"",
    "xargs sh -c {{x}} </dev/null",
    "declare -i n={{x}}",
    "printf -v {{x}} %s 1",
    "unset {{x}}",
    "trap {{x}} EXIT",
    "echo \"${{x}}\"",
    "echo ${{x}}",
    "arr[{{x}}]=1",
    "cat <<{{x}}\nbody\n",
    "python3 -c \"print({{x}})\"",
    "awk \"BEGIN { print {{x}} }\"",
    "sed \"s/a/{{x}}/\"",
];

fn run(shell: &str, dir: &Path, command: &str) -> std::process::Output {
    Command::new(shell)
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env_remove("BASH_ENV")
        .env_remove("ENV")
        .output()
        .unwrap()
}

/// A xorshift generator: the same seed gives the same values on every machine.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn value(&mut self) -> String {
        let len = self.next() % 12;
        (0..len)
            .map(|_| FRAGMENTS[self.next() as usize % FRAGMENTS.len()])
            .collect()
    }
}

fn random_count() -> usize {
    std::env::var("AGENT_RUNNER_INJECTION_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24)
}

fn seed() -> u64 {
    std::env::var("AGENT_RUNNER_INJECTION_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0x2545_f491_4f6c_dd1d)
}

/// Separates the cases of one batch in the output; no value can contain it.
const SEPARATOR: &str = "\u{1e}--case--\u{1e}";

/// Renders every value into `context`, runs them as one script per shell (the separator between
/// cases), and checks each output; returns how many cases ran.
fn check_context(context: &Context, values: &[String]) -> usize {
    let mut script = String::new();
    for value in values {
        let mut vars = Vars::new();
        vars.set("x", value.as_str());
        let command = render(context.template, &vars, true)
            .unwrap_or_else(|e| panic!("{:?} with {value:?}: {e}", context.template));
        script.push_str(&command);
        script.push_str(&format!("\nprintf '%s' '{SEPARATOR}'\n"));
    }
    let mut cases = 0;
    for shell in ["sh", "bash"] {
        let dir = tempfile::tempdir().unwrap();
        let output = run(shell, dir.path(), &script);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let got: Vec<&str> = stdout.split(SEPARATOR).collect();
        let pwned = dir.path().join("pwned").exists();
        for (i, value) in values.iter().enumerate() {
            let expected = (context.expect)(value);
            if pwned || got.get(i) != Some(&expected.as_str()) {
                // Find the case on its own, for a clear message.
                let mut vars = Vars::new();
                vars.set("x", value.as_str());
                let command = render(context.template, &vars, true).unwrap();
                let single = tempfile::tempdir().unwrap();
                let alone = run(shell, single.path(), &command);
                assert!(
                    !single.path().join("pwned").exists(),
                    "{shell}: {command:?} ran the value {value:?}"
                );
                assert_eq!(
                    String::from_utf8_lossy(&alone.stdout),
                    expected,
                    "{shell}: template {:?}, value {value:?}, command {command:?}",
                    context.template
                );
            }
        }
        cases += values.len();
    }
    cases
}

#[test]
fn hostile_values_stay_inert_in_every_context_with_sh_and_bash() {
    let seed = seed();
    let mut random = Random(seed);
    let mut values: Vec<String> = HOSTILE.iter().map(|v| (*v).to_owned()).collect();
    values.extend((0..random_count()).map(|_| random.value()));
    let mut cases = 0;
    for context in CONTEXTS {
        // One script per batch keeps each under the limit of one argument (128 KiB).
        for batch in values.chunks(100) {
            cases += check_context(context, batch);
        }
    }
    eprintln!(
        "{cases} cases run ({} contexts x {} values x 2 shells, seed {seed})",
        CONTEXTS.len(),
        values.len()
    );
}

#[test]
fn places_without_safe_quoting_are_refused() {
    let mut random = Random(seed());
    for template in REFUSED {
        let issues = analyze(template, "command", true).issues;
        assert!(
            issues.iter().any(|i| i.code == "unsafe-shell-context"),
            "{template:?} was accepted: {issues:?}"
        );
        let mut vars = Vars::new();
        vars.set("x", random.value());
        assert!(render(template, &vars, true).is_err(), "{template:?}");
    }
}
