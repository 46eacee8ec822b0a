//! The words of one simple command, as far as the quote scanner needs them: which command runs,
//! and whether it treats its arguments as shell code or as variable names, where no quoting
//! keeps a value inert (`eval "{{x}}"` runs the value whatever its quotes).

/// A place where a value cannot be inserted safely, whatever the quoting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unsafe {
    /// `$(( … ))`, `(( … ))`, `$[ … ]`, `let`: the value is evaluated as arithmetic, and
    /// bash runs command substitutions in array subscripts there.
    Arithmetic,
    /// `${ … }`: the value would be part of a parameter expansion's operand or pattern.
    ParamExpansion,
    /// `` `…` ``: backslashes and quotes are unescaped once more before the inner command is
    /// parsed, differently in each shell.
    Backticks,
    /// A here-document body: a line equal to the delimiter ends it, and an unquoted one expands
    /// `$(…)`.
    Heredoc,
    /// `[[ … ]]`: bash evaluates the operands of `-eq` and the like as arithmetic.
    TestBrackets,
    /// An argument of a command that runs its arguments as shell code or reads them as variable
    /// names (`eval`, `sh -c`, `ssh`, `trap`, `unset`, …).
    Command(&'static str),
    /// Right after a `$`: the value would become the rest of an expansion (`"${{x}}"` with
    /// `(cmd)` runs `cmd`).
    AfterDollar,
    /// Nested more deeply than the scanner follows.
    TooDeep,
}

impl Unsafe {
    /// How the diagnostic names the place: "inside arithmetic expansion".
    pub(crate) fn describe(self) -> String {
        match self {
            Unsafe::Arithmetic => "inside arithmetic ($((…)), ((…)), $[…] or let)".to_owned(),
            Unsafe::ParamExpansion => "inside a ${…} parameter expansion".to_owned(),
            Unsafe::Backticks => "inside backticks (use $(…) instead)".to_owned(),
            Unsafe::Heredoc => "inside a here-document".to_owned(),
            Unsafe::TestBrackets => "inside [[ … ]]".to_owned(),
            Unsafe::Command(name) => {
                format!("in the arguments of \"{name}\", which runs them as code or names")
            }
            Unsafe::AfterDollar => {
                "right after a $ (it would become part of an expansion)".to_owned()
            }
            Unsafe::TooDeep => "in shell text nested more than 32 levels deep".to_owned(),
        }
    }
}

/// Commands whose arguments are always code or variable names.
const CODE_COMMANDS: &[&str] = &[
    "eval",
    "trap",
    "let",
    "ssh",
    "watch",
    "unset",
    "read",
    "mapfile",
    "readarray",
    "alias",
];

/// Commands whose first operand is a program (`system()` in awk, GNU sed's `e`): the program
/// word is code; operands after it are files. `-e` gives sed a program, `-f` a program file,
/// and awk's `-v`/`-F` take a value.
const SCRIPT_COMMANDS: &[&str] = &["awk", "gawk", "mawk", "nawk", "sed"];

/// Commands that run an argument as code when given one of these flags (alone or in a flag
/// group), wherever they stand in the command (`xargs sh -c`, `find -exec bash -c`, `perl -ne`).
const CODE_FLAGS: &[(&str, &[char])] = &[
    ("sh", &['c']),
    ("bash", &['c']),
    ("dash", &['c']),
    ("zsh", &['c']),
    ("ksh", &['c']),
    ("mksh", &['c']),
    ("ash", &['c']),
    ("busybox", &['c']),
    ("fish", &['c']),
    ("su", &['c']),
    ("script", &['c']),
    ("flock", &['c']),
    ("python", &['c']),
    ("python3", &['c']),
    ("perl", &['e', 'E']),
    ("ruby", &['e']),
    ("node", &['e', 'p']),
    ("php", &['r']),
];

/// Commands that take a variable name after a flag: `printf -v`, `declare -n`, `test -v`.
const NAME_FLAGS: &[(&str, &[char])] = &[
    ("printf", &['v']),
    ("declare", &['i', 'n']),
    ("typeset", &['i', 'n']),
    ("local", &['i', 'n']),
    ("readonly", &['i', 'n']),
    ("export", &['n']),
    ("test", &['v']),
    ("[", &['v']),
];

/// Reserved words after which the next word is still a command.
const LEADING_WORDS: &[&str] = &[
    "if", "then", "else", "elif", "do", "while", "until", "!", "{", "time", "in", "command",
    "builtin", "nohup", "sudo",
];

/// What the scanner knows of the command being read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Command {
    /// The word being read (unquoted and quoted characters; capped, it only needs to match
    /// short names).
    word: String,
    /// The word contains a value or an expansion, so it is no name or keyword.
    dirty: bool,
    /// The next word is a command name.
    at_command: bool,
    /// The command name, when it takes variable names after some flag (`printf -v`).
    name: Option<&'static str>,
    /// An interpreter named anywhere in the command so far, and the flags that give it code.
    interpreter: Option<(&'static str, &'static [char])>,
    /// Set once the arguments are unsafe; stays until the command ends.
    pub(crate) refused: Option<Unsafe>,
    /// The current word is an assignment to an array element, inside its subscript.
    subscript: bool,
    /// The awk or sed program being looked for, if this is such a command.
    script: Option<Script>,
    /// Inside `[[ … ]]`, which only `]]` ends.
    pub(crate) in_test: bool,
    /// Open `case … esac` in this frame: a `)` ends a pattern, not a substitution.
    pub(crate) cases: usize,
}

/// Where an awk or sed command is in its arguments.
#[derive(Debug, Clone, Copy, Default)]
struct Script {
    name: &'static str,
    sed: bool,
    /// The program was given (as a word, by `-e` or by `-f`).
    given: bool,
    /// The next word is the value of an option.
    value_next: bool,
    /// The next word is a program (the first operand, or after sed's `-e`).
    code_next: bool,
    /// The previous word was sed's `-e`.
    after_e: bool,
}

impl Script {
    /// A word of the command ended: `flag` is its letters when it was a `-x` option.
    fn advance(&mut self, flag: Option<&str>) {
        let after_e = std::mem::take(&mut self.after_e);
        if std::mem::take(&mut self.value_next) {
            // The value of an option, or the program after sed's `-e`.
        } else if let (Some(flag), false) = (flag, after_e) {
            match flag.chars().last() {
                Some('e') if self.sed => {
                    self.given = true;
                    self.after_e = true;
                    self.value_next = true;
                }
                Some('f') => {
                    self.given = true;
                    self.value_next = true;
                }
                Some('v' | 'F') if !self.sed => self.value_next = true,
                _ => {}
            }
        } else {
            self.given = true;
        }
        self.code_next = self.after_e || (!self.given && !self.value_next);
    }
}

const MAX_WORD: usize = 16;

impl Command {
    pub(crate) fn new() -> Self {
        Command {
            at_command: true,
            ..Command::default()
        }
    }

    /// A character that is part of the current word.
    pub(crate) fn push(&mut self, c: char) {
        // `name[` at the start of a command is an array subscript, which bash evaluates as
        // arithmetic.
        if c == '[' && self.at_command && !self.dirty && is_name(&self.word) {
            self.subscript = true;
        } else if c == ']' {
            self.subscript = false;
        }
        if self.word.len() < MAX_WORD {
            self.word.push(c);
        } else {
            self.dirty = true;
        }
    }

    /// A value or an expansion in the current word.
    pub(crate) fn taint(&mut self) {
        self.dirty = true;
    }

    /// The current word ends. `case` and `esac` are counted here.
    pub(crate) fn end_word(&mut self) {
        let word = std::mem::take(&mut self.word);
        let dirty = std::mem::take(&mut self.dirty);
        self.subscript = false;
        if word.is_empty() && !dirty {
            return;
        }
        if self.in_test {
            if word == "]]" && !dirty {
                self.in_test = false;
                self.refused = None;
            }
            return;
        }
        if dirty {
            if !self.at_command
                && let Some(script) = self.script.as_mut()
            {
                script.advance(None);
            }
            self.at_command = false;
            return;
        }
        if let Some(found) = CODE_FLAGS.iter().find(|(n, _)| *n == word) {
            self.interpreter = Some(*found);
        }
        if self.at_command {
            self.command_word(&word);
        } else {
            self.argument(&word);
        }
    }

    fn command_word(&mut self, word: &str) {
        match word {
            "case" => self.cases += 1,
            "esac" => self.cases = self.cases.saturating_sub(1),
            "[[" => {
                self.in_test = true;
                self.refused = Some(Unsafe::TestBrackets);
            }
            _ => {}
        }
        if LEADING_WORDS.contains(&word) || is_assignment(word) {
            return;
        }
        self.at_command = false;
        if let Some(name) = CODE_COMMANDS.iter().find(|n| **n == word) {
            self.refused = Some(if *name == "let" {
                Unsafe::Arithmetic
            } else {
                Unsafe::Command(name)
            });
        } else if let Some(name) = SCRIPT_COMMANDS.iter().find(|n| **n == word) {
            self.script = Some(Script {
                name,
                sed: *name == "sed",
                code_next: true,
                ..Script::default()
            });
        } else if let Some((name, _)) = NAME_FLAGS.iter().find(|(n, _)| *n == word) {
            self.name = Some(name);
        }
    }

    fn argument(&mut self, word: &str) {
        let flags = word
            .strip_prefix('-')
            .filter(|f| !f.is_empty() && !f.starts_with('-'));
        if let Some(script) = self.script.as_mut() {
            script.advance(flags);
        }
        let Some(flags) = flags else {
            return;
        };
        if let Some((name, _)) = self.interpreter.filter(|(_, code)| flags.contains(*code)) {
            self.refused = Some(Unsafe::Command(name));
        }
        let named = self.name.and_then(|name| {
            NAME_FLAGS
                .iter()
                .find(|(n, chars)| *n == name && flags.contains(*chars))
        });
        if let Some((name, _)) = named {
            self.refused = Some(Unsafe::Command(name));
        }
    }

    /// Why a value in the current word would not be safe, if it would not.
    pub(crate) fn unsafe_here(&self) -> Option<Unsafe> {
        if self.subscript {
            return Some(Unsafe::Arithmetic);
        }
        self.refused.or_else(|| {
            self.script
                .filter(|s| s.code_next)
                .map(|s| Unsafe::Command(s.name))
        })
    }

    /// The command ends (`;`, `&`, `|`, a newline, a parenthesis); `[[ … ]]` only at `]]`.
    pub(crate) fn end_command(&mut self) {
        self.end_word();
        if self.in_test {
            return;
        }
        *self = Command {
            cases: self.cases,
            ..Command::new()
        };
    }
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| is_name(name))
}

fn is_name(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
