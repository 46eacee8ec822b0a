//! A template field of the model: its text as written, with the loader's analysis kept (see
//! [`crate::interpolate::Compiled`]) so that rendering it at run time neither lexes nor analyses
//! it again.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::interpolate::{Analysis, Compiled, Lookup, RenderError};

/// Template text as written in the file (Handlebars, see the `interpolate` module).
#[derive(Clone)]
pub struct Template {
    text: String,
    shell: bool,
    /// What rendering needs; `None` for text without `{{`, which renders as itself.
    compiled: Option<Arc<Compiled>>,
}

impl Template {
    /// A template whose values are written verbatim.
    pub fn new(text: impl Into<String>) -> Self {
        Self::analysed(text.into(), "template", false).0
    }

    /// A template in a shell context (`command`, `skip_if: sh:`): every value is quoted for the
    /// shell position it stands in (workflow-format.md §8.5).
    pub fn shell(text: impl Into<String>) -> Self {
        Self::analysed(text.into(), "template", true).0
    }

    /// A template and its analysis; `field` names it in the analysis' messages.
    pub fn analysed(text: String, field: &str, shell: bool) -> (Self, Analysis) {
        let (compiled, analysis) = Compiled::new(&text, field, shell);
        let template = Template {
            text,
            shell,
            compiled: (!compiled.is_static()).then(|| Arc::new(compiled)),
        };
        (template, analysis)
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// True when rendering cannot change the text (no `{{`).
    pub fn is_static(&self) -> bool {
        self.compiled.is_none()
    }

    /// True for a template whose values are shell-quoted.
    pub fn is_shell(&self) -> bool {
        self.shell
    }

    /// The text with the variables of `vars` in place.
    pub fn render(&self, vars: &dyn Lookup) -> Result<String, RenderError> {
        match &self.compiled {
            Some(compiled) => compiled.render(&self.text, vars),
            None => Ok(self.text.clone()),
        }
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Template").field(&self.text).finish()
    }
}

impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text && self.is_shell() == other.is_shell()
    }
}

impl Eq for Template {}

impl Hash for Template {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
        self.is_shell().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interpolate::{VarRef, Vars};

    /// Counts the lookups a render makes, to show it asks only for the names it uses.
    struct Counting<'a>(&'a Vars, std::cell::RefCell<Vec<String>>);

    impl Lookup for Counting<'_> {
        fn lookup(&self, name: &str) -> Option<VarRef<'_>> {
            self.1.borrow_mut().push(name.to_owned());
            self.0.lookup(name)
        }
    }

    fn vars() -> Vars {
        let mut vars = Vars::new();
        vars.set("who", "it's me")
            .set("other", "x")
            .set_unset("later");
        vars
    }

    #[test]
    fn renders_the_same_as_a_one_off_render() {
        let vars = vars();
        for (text, shell) in [
            ("echo {{who}}", true),
            ("echo '{{raw who}}'", true),
            ("Hi {{who}}{{#if later}} later{{else}} now{{/if}}", false),
            ("no tags", false),
            (r"\{{who}} {{! note }}", false),
            ("{{missing}}", false),
            ("{{later}}", false),
            ("{{#if who}}", false),
        ] {
            let template = if shell {
                Template::shell(text)
            } else {
                Template::new(text)
            };
            assert_eq!(
                template.render(&vars),
                crate::interpolate::render(text, &vars, shell),
                "{text}"
            );
            // The second render uses the kept rewrite and gives the same answer.
            assert_eq!(
                template.render(&vars),
                crate::interpolate::render(text, &vars, shell),
                "{text}"
            );
        }
        assert_eq!(
            Template::shell("echo {{who}}").render(&vars).unwrap(),
            r#"echo 'it'\''s me'"#
        );
    }

    #[test]
    fn looks_up_only_the_names_it_uses_once_each() {
        let vars = vars();
        let counting = Counting(&vars, Default::default());
        let template = Template::new("{{who}} and {{who}}{{#unless later}}!{{/unless}}");
        assert_eq!(template.render(&counting).unwrap(), "it's me and it's me!");
        assert_eq!(*counting.1.borrow(), ["who", "later"]);
    }

    #[test]
    fn keeps_the_analysis_of_its_field() {
        let (template, analysis) =
            Template::analysed("rm {{a}} '{{b}}'".to_owned(), "command", true);
        assert!(template.is_shell());
        let names: Vec<_> = analysis.vars.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(analysis.issues[0].message.contains("\"command\""));
        // A render words the problem as it always has, naming no field.
        let err = template.render(&Vars::new()).unwrap_err();
        assert!(
            matches!(&err, RenderError::Template(m) if m.contains("\"template\"")),
            "{err}"
        );
        assert_ne!(Template::new("x"), Template::shell("x"));
        assert_eq!(Template::new("x"), Template::new("x"));
        assert!(Template::new(r"\{{x}}").render(&Vars::new()).is_ok());
        assert!(Template::new("x").is_static() && !Template::new("{{x}}").is_static());
    }
}
