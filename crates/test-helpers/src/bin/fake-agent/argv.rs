//! A small argv parser shaped like the real CLIs' own (commander, clap, yargs): options with
//! arities, `--name=value`, `--` ending options, and a stop at the first subcommand word. Each
//! CLI module maps its failures to that CLI's real error text.

/// How many values an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    Flag,
    Value,
    /// Takes the next argument unless it looks like an option.
    Optional,
    /// Takes arguments until the next option or `--`.
    Variadic,
}

/// One option: its spellings (the first is the canonical name) and arity.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    pub names: &'static [&'static str],
    pub arity: Arity,
}

pub const fn flag(names: &'static [&'static str]) -> Opt {
    Opt {
        names,
        arity: Arity::Flag,
    }
}

pub const fn value(names: &'static [&'static str]) -> Opt {
    Opt {
        names,
        arity: Arity::Value,
    }
}

pub const fn optional(names: &'static [&'static str]) -> Opt {
    Opt {
        names,
        arity: Arity::Optional,
    }
}

pub const fn variadic(names: &'static [&'static str]) -> Opt {
    Opt {
        names,
        arity: Arity::Variadic,
    }
}

#[derive(Debug, Default, Clone)]
pub struct Parsed {
    /// (canonical name, values) in order of appearance.
    pub opts: Vec<(&'static str, Vec<String>)>,
    pub positionals: Vec<String>,
    /// A subcommand word and the arguments after it, when parsing stopped there.
    pub subcommand: Option<(String, Vec<String>)>,
}

impl Parsed {
    pub fn has(&self, name: &str) -> bool {
        self.opts.iter().any(|(n, _)| *n == name)
    }

    /// The last value given for `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.opts
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.last())
            .map(String::as_str)
    }

    /// Every value given for `name`.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.opts
            .iter()
            .filter(|(n, _)| *n == name)
            .flat_map(|(_, v)| v.iter().map(String::as_str))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    /// The argument as written.
    Unknown(String),
    /// The option (canonical name) lacks its value.
    Missing(&'static str),
}

/// Parses `args` against `opts`. A first positional equal to one of `subcommands` stops parsing.
pub fn parse(args: &[String], opts: &[Opt], subcommands: &[&str]) -> Result<Parsed, ArgError> {
    let mut out = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            out.positionals.extend(args[i..].iter().cloned());
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            if out.positionals.is_empty() && subcommands.contains(&arg.as_str()) {
                out.subcommand = Some((arg.clone(), args[i..].to_vec()));
                break;
            }
            out.positionals.push(arg.clone());
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let Some(opt) = opts.iter().find(|o| o.names.contains(&name)) else {
            return Err(ArgError::Unknown(arg.clone()));
        };
        let canonical = opt.names[0];
        let mut values = Vec::new();
        match (opt.arity, inline) {
            (_, Some(v)) => values.push(v),
            (Arity::Flag, None) => {}
            (Arity::Value, None) => match args.get(i) {
                Some(v) if v != "--" => {
                    values.push(v.clone());
                    i += 1;
                }
                _ => return Err(ArgError::Missing(canonical)),
            },
            (Arity::Optional, None) => {
                if let Some(v) = args.get(i).filter(|v| !v.starts_with('-')) {
                    values.push(v.clone());
                    i += 1;
                }
            }
            (Arity::Variadic, None) => {
                while let Some(v) = args.get(i).filter(|v| !v.starts_with('-')) {
                    values.push(v.clone());
                    i += 1;
                }
                if values.is_empty() {
                    return Err(ArgError::Missing(canonical));
                }
            }
        }
        out.opts.push((canonical, values));
    }
    Ok(out)
}
