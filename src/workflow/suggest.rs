//! Did-you-mean: the closest candidate to a misspelled word, if any is close enough.

/// The candidate closest to `input` by edit distance, when it is plausibly a typo: at most a
/// third of the word's length (and at least one edit) away, or equal ignoring case.
pub fn suggest<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let limit = (input.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == input {
            continue;
        }
        let distance = if candidate.eq_ignore_ascii_case(input) {
            0
        } else {
            edit_distance(input, candidate)
        };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// ` (did you mean "<best>"?)` or nothing.
pub fn did_you_mean<'a, I>(input: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    match suggest(input, candidates) {
        Some(best) => format!(" (did you mean \"{best}\"?)"),
        None => String::new(),
    }
}

/// ` (did you mean "<cli>"?)` for an unknown agent CLI name, or nothing. Besides typos, it knows
/// the names people write for the CLIs (the package or product name, `cursor` for the binary
/// `cursor-agent`): a known name inside the input or the input inside a known name.
pub fn did_you_mean_cli(input: &str, clis: &[&str]) -> String {
    let lower = input.to_ascii_lowercase();
    let contained = clis
        .iter()
        .copied()
        .find(|cli| (lower.len() >= 3 && cli.contains(lower.as_str())) || lower.contains(cli));
    let close = contained.or_else(|| suggest(input, clis.iter().copied()));
    match close {
        Some(best) => format!(" (did you mean \"{best}\"?)"),
        None => String::new(),
    }
}

/// Levenshtein distance over chars, with transpositions counted as one edit. Inputs longer than
/// 64 characters are compared by their first 64 characters (nothing that long is a typo of a key).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().take(64).collect();
    let width = b.len() + 1;
    let mut rows = vec![0usize; (a.len() + 1) * width];
    for (j, cell) in rows.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        rows[i * width] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[(i - 1) * width + j] + 1)
                .min(rows[i * width + j - 1] + 1)
                .min(rows[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[(i - 2) * width + j - 2] + 1);
            }
            rows[i * width + j] = best;
        }
    }
    rows[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        let keys = ["command", "capture", "continue_on_failure"];
        assert_eq!(suggest("comand", keys), Some("command"));
        assert_eq!(suggest("captrue", keys), Some("capture"));
        assert_eq!(suggest("Command", keys), Some("command"));
        assert_eq!(suggest("xyz", keys), None);
        assert_eq!(
            did_you_mean("chnage", ["change", "run_id"]),
            " (did you mean \"change\"?)"
        );
    }

    #[test]
    fn suggests_clis_by_their_other_names() {
        let clis = super::super::model::CLI_NAMES;
        for (input, cli) in [
            ("claud", "claude"),
            ("cursor", "cursor-agent"),
            ("claude-code", "claude"),
            ("Claude Code", "claude"),
            ("gemini-cli", "gemini"),
            ("github-copilot", "copilot"),
            ("open-code", "opencode"),
            ("openai-codex", "codex"),
        ] {
            assert_eq!(
                did_you_mean_cli(input, clis),
                format!(" (did you mean \"{cli}\"?)"),
                "{input}"
            );
        }
        assert_eq!(did_you_mean_cli("gpt", clis), "");
        assert_eq!(did_you_mean_cli("c", clis), "");
    }
}
