//! Template checks and the known-names logic (workflow-format.md §8.4).
//!
//! A template field is checked only when its text contains `{{`. The template itself is analysed
//! by the `interpolate` module (syntax, helpers, quoting in shell contexts), and the model keeps
//! that analysis in its [`Template`] for run time; this module decides
//! which variable names are known at that point of the file and reports the others as
//! `undefined-variable`, with a did-you-mean and the list of known names.

use super::fields::{Target, YamlPath};
use super::loader::Analyzer;
use super::model::{BUILTIN_VARS, Template};
use super::suggest::suggest;

impl<'a> Analyzer<'a> {
    /// Checks a template field at `path` and returns it as the model keeps it, with its
    /// analysis. `builtins_only` is for param defaults.
    pub(crate) fn template(
        &mut self,
        text: &str,
        field: &str,
        shell: bool,
        path: YamlPath<'_>,
        builtins_only: bool,
    ) -> Template {
        // The analysis returns at once, allocating nothing, for text without `{{`.
        let (template, analysis) = Template::analysed(text.to_owned(), field, shell);
        for issue in analysis.issues {
            self.sink
                .error(issue.code, issue.message, path, Target::Value);
        }
        let mut reported: Vec<&str> = Vec::new();
        for var in &analysis.vars {
            let name = var.name.as_str();
            if reported.contains(&name) || self.is_known(name, builtins_only) {
                continue;
            }
            reported.push(name);
            let known = self.known_names(builtins_only);
            let hint = match suggest(name, known.iter().copied()) {
                Some(best) => format!(" (did you mean \"{best}\"?)"),
                None => String::new(),
            };
            self.sink.error_help(
                "undefined-variable",
                format!("undefined variable \"{name}\" in \"{field}\"{hint}"),
                format!("known here: {}", known.join(", ")),
                path,
                Target::Value,
            );
        }
        template
    }

    fn is_known(&self, name: &str, builtins_only: bool) -> bool {
        if BUILTIN_VARS.contains(&name) {
            return true;
        }
        if builtins_only {
            return false;
        }
        let has = |list: &[&str]| list.contains(&name);
        has(&self.params) || has(&self.loop_vars) || has(&self.captures) || has(&self.body_captures)
    }

    /// Known names in the order the help lists them: params, captures, loop variables
    /// (innermost first), builtins.
    fn known_names(&self, builtins_only: bool) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        let mut add = |name: &&'a str| {
            if !names.contains(name) {
                names.push(name);
            }
        };
        if !builtins_only {
            self.params.iter().for_each(&mut add);
            self.captures.iter().for_each(&mut add);
            self.body_captures.iter().for_each(&mut add);
            self.loop_vars.iter().rev().for_each(&mut add);
        }
        BUILTIN_VARS.iter().for_each(&mut add);
        names
    }
}
