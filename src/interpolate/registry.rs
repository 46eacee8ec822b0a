//! The Handlebars registries: the shared base configuration, and the one workflow templates
//! render with.
//!
//! Rendering rewrites each placeholder into a call of one of the private helpers below (see the
//! `render` module), so the helpers, not Handlebars' default value output, decide how a value is
//! written: verbatim, or quoted for its shell position. They are also where an unset capture
//! (left out of the context data) turns into [`RenderError::NoValue`], and a missing field of a
//! JSON capture into [`RenderError::NoField`].

use std::sync::LazyLock;

use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderErrorReason,
};

use super::quote::quote_for;
use super::render::RenderError;
use super::shell::{Quote, Slot};
use crate::state::json_text;

/// Writes a value verbatim: `{{__ar_value [x]}}`.
pub(crate) const VALUE_HELPER: &str = "__ar_value";
/// Writes a value quoted for its shell position: `{{__ar_shell [x] "double" false}}`
/// (quote, pending backslash).
pub(crate) const SHELL_HELPER: &str = "__ar_shell";

/// A registry with strict mode on and HTML escaping off, and only Handlebars' own helpers.
/// Engines add their helper set on top of this.
pub fn base_registry() -> Handlebars<'static> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    registry.register_escape_fn(handlebars::no_escape);
    registry
}

/// The registry workflow templates render with, built once.
pub(crate) static WORKFLOW_REGISTRY: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut registry = base_registry();
    // `raw` replaces Handlebars' raw-block helper: `{{raw x}}` writes the value as it is.
    registry.register_helper("raw", Box::new(WriteValue { shell: false }));
    registry.register_helper(VALUE_HELPER, Box::new(WriteValue { shell: false }));
    registry.register_helper(SHELL_HELPER, Box::new(WriteValue { shell: true }));
    registry
});

/// The value of the helper's first parameter, as text: a string as it is, any other JSON value
/// (a JSON capture or one of its fields) as compact JSON.
fn value_text(h: &Helper<'_>, ctx: &Context) -> Result<String, handlebars::RenderError> {
    let param = h
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("raw", 0))?;
    if param.is_value_missing() {
        // Only an unset capture is missing from workflow context data, or a field a JSON
        // capture does not have (every name was looked up before rendering).
        let path = param.relative_path().map_or(String::new(), |path| {
            path.split('.')
                .map(|segment| segment.trim_matches(['[', ']']))
                .collect::<Vec<_>>()
                .join(".")
        });
        let error = match path.split_once('.') {
            Some((name, field)) if ctx.data().get(name).is_some() => RenderError::NoField {
                name: name.to_owned(),
                field: field.to_owned(),
                path: path.clone(),
            },
            Some((name, _)) => RenderError::NoValue(name.to_owned()),
            None => RenderError::NoValue(path),
        };
        return Err(RenderErrorReason::NestedError(Box::new(error)).into());
    }
    Ok(json_text(param.value()).into_owned())
}

/// Writes the value of its first parameter: verbatim, or (for [`SHELL_HELPER`]) quoted for the
/// shell position given by the other parameters.
struct WriteValue {
    shell: bool,
}

impl HelperDef for WriteValue {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let value = value_text(h, ctx)?;
        if !self.shell {
            out.write(&value)?;
            return Ok(());
        }
        let text = quote_for(&value, slot_param(h))
            .ok_or_else(|| RenderErrorReason::Other("no safe quoting here".to_owned()))?;
        out.write(&text)?;
        Ok(())
    }
}

/// The shell position encoded by the rewrite: `"double" false`.
fn slot_param(h: &Helper<'_>) -> Slot {
    let arg = |i| h.param(i).map(|p| p.value());
    let quote = match arg(1).and_then(|v| v.as_str()) {
        Some("unquoted") => Quote::Unquoted,
        Some("double") => Quote::Double,
        Some("comment") => Quote::Comment,
        _ => Quote::Single,
    };
    Slot {
        quote,
        escaped: arg(2).and_then(|v| v.as_bool()).unwrap_or(false),
    }
}

/// The name [`slot_param`] expects for a quote position.
pub(crate) fn quote_name(quote: Quote) -> &'static str {
    match quote {
        Quote::Unquoted => "unquoted",
        Quote::Double => "double",
        Quote::Comment => "comment",
        Quote::Single | Quote::Unsafe(_) => "single",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_registry_is_strict_and_does_not_escape() {
        let registry = base_registry();
        let data = serde_json::json!({"x": "<a & b>"});
        assert_eq!(registry.render_template("{{x}}", &data).unwrap(), "<a & b>");
        assert!(registry.render_template("{{y}}", &data).is_err());
    }
}
