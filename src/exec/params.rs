//! Binding command-line parameters to a workflow's `params` (cli.md §3).
//!
//! `key=value` arguments bind by name (split at the first `=`), the others by position in
//! declaration order. Defaults are templates over builtins such as `run_id`, so binding returns
//! them unrendered; the run renders them once the run id exists.

use crate::workflow::{Param, Template, Workflow};

/// How one parameter got its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    Given(String),
    Default(Template),
    /// `required: false` without a default.
    Empty,
}

/// A usage error, already worded; the caller prints it and the usage line, and exits 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub message: String,
    pub usage: String,
}

/// Binds `args` to the workflow's parameters, in declaration order.
pub fn bind(workflow: &Workflow, args: &[String]) -> Result<Vec<(String, Bound)>, ParamError> {
    let params = &workflow.params;
    let fail = |message: String| ParamError {
        message,
        usage: usage_line(workflow),
    };
    let mut given: Vec<Option<String>> = vec![None; params.len()];
    let mut positional = Vec::new();
    for arg in args {
        match split_keyed(arg) {
            Some(("", _)) => {
                return Err(fail(format!(
                    "invalid parameter \"{arg}\": the name before \"=\" is empty"
                )));
            }
            Some((key, value)) => {
                let Some(index) = params.iter().position(|p| p.name == key) else {
                    let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
                    let hint = crate::workflow::suggest::did_you_mean(key, names.iter().copied());
                    let takes = if names.is_empty() {
                        "no parameters".to_owned()
                    } else {
                        names.join(", ")
                    };
                    return Err(fail(format!(
                        "unknown parameter \"{key}\"{hint}; workflow \"{}\" takes: {takes}",
                        workflow.name
                    )));
                };
                if given[index].is_some() {
                    return Err(fail(format!("parameter \"{key}\" is given twice")));
                }
                given[index] = Some(value.to_owned());
            }
            None => positional.push(arg.clone()),
        }
    }
    if positional.len() > params.len() {
        let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        return Err(fail(format!(
            "too many parameters: workflow \"{}\" takes {} ({}), got {}",
            workflow.name,
            params.len(),
            names.join(", "),
            positional.len()
        )));
    }
    // Positionals fill the declared parameters in order, skipping none: a parameter that is also
    // given by key is "given twice".
    for (index, value) in positional.into_iter().enumerate() {
        if given[index].is_some() {
            return Err(fail(format!(
                "parameter \"{}\" is given twice",
                params[index].name
            )));
        }
        given[index] = Some(value);
    }
    params
        .iter()
        .zip(given)
        .map(|(param, value)| match (value, &param.default) {
            (Some(value), _) => Ok((param.name.clone(), Bound::Given(value))),
            (None, Some(default)) => Ok((param.name.clone(), Bound::Default(default.clone()))),
            (None, None) if !param.required => Ok((param.name.clone(), Bound::Empty)),
            (None, None) => Err(fail(format!(
                "missing required parameter \"{}\"",
                param.name
            ))),
        })
        .collect()
}

/// `key=value` when `key` is an identifier (or empty, which is an error the caller reports).
fn split_keyed(arg: &str) -> Option<(&str, &str)> {
    let (key, value) = arg.split_once('=')?;
    (key.is_empty() || crate::workflow::fields::is_identifier(key)).then_some((key, value))
}

/// `usage: agent-runner <workflow> <required...> [<optional>...]`, then one line per parameter
/// that has a description: `  <name>  <description>`.
pub fn usage_line(workflow: &Workflow) -> String {
    let mut line = format!("usage: agent-runner {}", workflow.name);
    for param in &workflow.params {
        line.push(' ');
        line.push_str(&display_param(param));
    }
    let width = workflow
        .params
        .iter()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(0);
    for param in workflow.params.iter().filter(|p| !p.description.is_empty()) {
        let description = param.description.split_whitespace().collect::<Vec<_>>();
        line.push_str(&format!(
            "\n  {:width$}  {}",
            param.name,
            description.join(" ")
        ));
    }
    line
}

fn display_param(param: &Param) -> String {
    if param.required && param.default.is_none() {
        format!("<{}>", param.name)
    } else {
        format!("[<{}>]", param.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{AgentSettings, Source};
    use pretty_assertions::assert_eq;

    fn workflow(params: &[(&str, Option<&str>, bool)]) -> Workflow {
        Workflow {
            name: "wf".into(),
            description: String::new(),
            params: params
                .iter()
                .map(|(name, default, required)| Param {
                    name: (*name).into(),
                    description: String::new(),
                    default: default.map(Template::new),
                    required: *required,
                    secret: false,
                })
                .collect(),
            sessions: vec![],
            default_limits: Default::default(),
            default_launcher: None,
            budget: None,
            default_retry: None,
            default_deny: None,
            engine: None,
            requires: Vec::new(),
            defaults: AgentSettings::default(),
            env: vec![],
            steps: vec![],
            source: Source::Builtin("wf".into()),
            hash: Default::default(),
        }
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn positional_keyed_and_defaults() {
        let wf = workflow(&[
            ("a", None, true),
            ("b", Some("x-{{run_id}}"), false),
            ("c", None, false),
        ]);
        let bound = bind(&wf, &args(&["one", "c=k=v"])).unwrap();
        assert_eq!(
            bound,
            vec![
                ("a".into(), Bound::Given("one".into())),
                ("b".into(), Bound::Default(Template::new("x-{{run_id}}"))),
                ("c".into(), Bound::Given("k=v".into())),
            ]
        );
    }

    #[test]
    fn errors_are_worded_as_the_spec_says() {
        let wf = workflow(&[("change", None, true), ("base", Some("main"), false)]);
        let err = |list: &[&str]| bind(&wf, &args(list)).unwrap_err().message;
        assert_eq!(err(&[]), "missing required parameter \"change\"");
        assert_eq!(
            err(&["a", "b", "c"]),
            "too many parameters: workflow \"wf\" takes 2 (change, base), got 3"
        );
        assert_eq!(
            err(&["x", "change=y"]),
            "parameter \"change\" is given twice"
        );
        assert_eq!(
            err(&["=v"]),
            "invalid parameter \"=v\": the name before \"=\" is empty"
        );
        assert_eq!(
            err(&["chnage=x"]),
            "unknown parameter \"chnage\" (did you mean \"change\"?); workflow \"wf\" takes: change, base"
        );
        assert_eq!(
            bind(&wf, &[]).unwrap_err().usage,
            "usage: agent-runner wf <change> [<base>]"
        );
    }

    #[test]
    fn usage_lists_the_parameter_descriptions() {
        let mut wf = workflow(&[("change", None, true), ("base", Some("main"), false)]);
        wf.params[0].description = "The OpenSpec change\nto work on".into();
        assert_eq!(
            usage_line(&wf),
            "usage: agent-runner wf <change> [<base>]\n  change  The OpenSpec change to work on"
        );
    }

    #[test]
    fn a_value_with_equals_after_a_non_identifier_is_positional() {
        let wf = workflow(&[("msg", None, true)]);
        assert_eq!(
            bind(&wf, &args(&["a b=c"])).unwrap(),
            vec![("msg".into(), Bound::Given("a b=c".into()))]
        );
    }
}
