//! Final-answer extraction from a model completion.
//!
//! Precedence: the last `\boxed{...}` / `\fbox{...}` (or `\boxed 5`), else the last explicit
//! answer phrase ("the answer is X", "the final answer is X", "Answer: X", "#### X").
//! Everything here runs in time linear in the input: brace matching is precomputed in one
//! stack pass, and every phrase candidate only looks at the rest of its own line.

/// Commands whose argument is taken as a boxed answer.
const BOX_COMMANDS: [&str; 2] = ["\\boxed", "\\fbox"];

/// How many earlier occurrences of one answer phrase are tried when a later one is empty.
const MAX_PHRASE_TRIES: usize = 16;

/// Returns the final answer of a model completion, trimmed but not normalised.
///
/// The last `\boxed{...}` or `\fbox{...}` wins (so a self-correction counts); an unterminated
/// last box (a truncated completion) gives `None` rather than an earlier box. Without any box,
/// the last answer phrase ("the answer is X", "the final answer is X", "Answer: X",
/// "#### X") is used, with a trailing period, `$...$` and markdown bold removed.
pub fn extract_answer(text: &str) -> Option<String> {
    extract_answer_with(text, true)
}

/// [`extract_answer`], optionally un-anchored: with `anchored == false` a completion with no
/// box and no answer phrase falls back to its last math span (`$...$`, `\(...\)`,
/// `\[...\]`) or last number, whichever comes later. Anchored extraction (the default) keeps
/// an expression merely restated from the problem from counting as an answer.
pub fn extract_answer_with(text: &str, anchored: bool) -> Option<String> {
    match last_boxed(text) {
        Boxed::Found(s) => return Some(s),
        Boxed::Unterminated => return None,
        Boxed::None => {}
    }
    if let Some(a) = last_phrase_answer(text, &PHRASES) {
        return Some(a);
    }
    if let Some(a) = bold_final_line(text) {
        return Some(a);
    }
    if anchored {
        return None;
    }
    let span = last_math_span(text);
    let number = last_number(text);
    match (span, number) {
        (Some((se, s)), Some((ne, n))) => Some(if ne > se { n } else { s }),
        (Some((_, s)), None) => Some(s),
        (None, Some((_, n))) => Some(n),
        (None, None) => None,
    }
}

/// The multiple-choice letter (`A`–`E`) a completion answers with: from the last box
/// (`\boxed{C}`, `\boxed{\textbf{(C)}}`), else an answer phrase ("Answer: C", "the answer is
/// (C)", "the correct option is C) 12"), else a lone `\textbf{(C)}` on the last line that has
/// one. Un-anchored, the last `(C)` / `C)` anywhere also counts. Returns the raw answer text
/// it read the letter from and the letter.
pub fn extract_choice(text: &str, anchored: bool) -> Option<(String, char)> {
    match last_boxed(text) {
        Boxed::Found(s) => return letter_of(&s).map(|c| (s, c)),
        Boxed::Unterminated => return None,
        Boxed::None => {}
    }
    if let Some(a) = last_phrase_answer(text, &CHOICE_PHRASES) {
        if let Some(c) = letter_of(&a) {
            return Some((a, c));
        }
    }
    if let Some(line) = text.lines().rev().find(|l| l.contains("\\textbf{(")) {
        let letters: Vec<char> = line
            .match_indices("\\textbf{(")
            .filter_map(|(pos, pat)| letter_of(&line[pos + pat.len() - 1..]))
            .collect();
        if let Some(&first) = letters.first() {
            if letters.iter().all(|&c| c == first) {
                return Some((format!("\\textbf{{({first})}}"), first));
            }
        }
    }
    if anchored {
        return None;
    }
    let bytes = text.as_bytes();
    (0..bytes.len()).rev().find_map(|i| {
        let c = bytes[i];
        let closes = bytes.get(i + 1) == Some(&b')');
        let free_before = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        (matches!(c, b'A'..=b'E') && closes && free_before)
            .then(|| (text[i..i + 2].to_string(), char::from(c)))
    })
}

/// The choice letter an answer text starts with: `C`, `(C)`, `C) 12`, `\textbf{(C)}\ 12`,
/// `\text{C}`, `**C**`.
pub fn letter_of(s: &str) -> Option<char> {
    let mut t = s.trim();
    loop {
        let before = t;
        for prefix in [
            "\\textbf{",
            "\\text{",
            "\\mathrm{",
            "\\mathbf{",
            "\\mbox{",
            "(",
            "{",
            "$",
            "*",
            "[",
        ] {
            t = t.strip_prefix(prefix).unwrap_or(t).trim_start();
        }
        for word in ["option", "Option", "choice", "Choice"] {
            t = t.strip_prefix(word).unwrap_or(t).trim_start();
        }
        if t == before {
            break;
        }
    }
    let bytes = t.as_bytes();
    let c = *bytes.first()?;
    if !matches!(c, b'A'..=b'E') {
        return None;
    }
    match bytes.get(1) {
        None => Some(char::from(c)),
        Some(b) if !b.is_ascii_alphanumeric() && *b != b'=' && *b != b'_' && *b != b'^' => {
            // `A + B` or `C = 2` are expressions, not choices.
            let rest = t[1..].trim_start();
            (!rest.starts_with(['+', '-', '=', '<', '>'])).then_some(char::from(c))
        }
        _ => None,
    }
}

enum Boxed {
    Found(String),
    Unterminated,
    None,
}

/// For every `{` byte, the index of its matching `}` (or `usize::MAX` when unbalanced).
/// One linear pass with an explicit stack; escaped braces `\{`/`\}` are ignored.
fn match_braces(bytes: &[u8]) -> Vec<usize> {
    let mut matches = vec![usize::MAX; bytes.len()];
    let mut stack: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'{' => stack.push(i),
            b'}' => {
                if let Some(open) = stack.pop() {
                    matches[open] = i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    matches
}

/// All start positions of `\boxed` / `\fbox` commands (not `\boxedfoo`), in order.
fn box_positions(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for cmd in BOX_COMMANDS {
        for (pos, _) in text.match_indices(cmd) {
            let end = pos + cmd.len();
            let next = bytes.get(end).copied();
            if next.is_some_and(|b| b.is_ascii_alphabetic()) {
                continue;
            }
            out.push((pos, end));
        }
    }
    out.sort_unstable();
    out
}

fn last_boxed(text: &str) -> Boxed {
    let positions = box_positions(text);
    if positions.is_empty() {
        return Boxed::None;
    }
    let bytes = text.as_bytes();
    let matches = match_braces(bytes);
    let mut first_seen = true;
    for &(_, after) in positions.iter().rev() {
        let is_last = first_seen;
        first_seen = false;
        // Skip whitespace between the command and its argument.
        let mut j = after;
        while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
            j += 1;
        }
        if j >= bytes.len() {
            if is_last {
                return Boxed::Unterminated;
            }
            continue;
        }
        if bytes[j] == b'{' {
            let close = matches[j];
            if close == usize::MAX {
                if is_last {
                    return Boxed::Unterminated;
                }
                continue;
            }
            let inner = text[j + 1..close].trim();
            if !inner.is_empty() {
                return Boxed::Found(inner.to_string());
            }
            continue;
        }
        if j > after {
            // `\boxed 5`: a single token up to whitespace, `$` or a closing delimiter.
            let rest = &text[j..];
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '$' | '}' | ','))
                .unwrap_or(rest.len());
            let token = rest[..end].trim_end_matches('.').trim();
            if !token.is_empty() {
                return Boxed::Found(token.to_string());
            }
        }
    }
    Boxed::None
}

/// Phrases after which the answer follows, searched case-insensitively.
const PHRASES: [&str; 3] = ["answer is", "answer:", "####"];

/// Phrases that introduce a multiple-choice letter.
const CHOICE_PHRASES: [&str; 7] = [
    "answer is",
    "answer:",
    "####",
    "option is",
    "choice is",
    "correct option",
    "correct choice",
];

fn last_phrase_answer(text: &str, phrases: &[&str]) -> Option<String> {
    // ASCII lowercasing keeps byte offsets identical to `text`.
    let lower = text.to_ascii_lowercase();
    let mut candidates: Vec<(usize, usize)> = Vec::new();
    for &phrase in phrases {
        let mut end = lower.len();
        let mut tries = 0;
        while tries < MAX_PHRASE_TRIES {
            let Some(pos) = lower[..end].rfind(phrase) else {
                break;
            };
            end = pos;
            let after = pos + phrase.len();
            // "the answer isn't" is not an answer phrase.
            if phrase == "answer is"
                && lower
                    .as_bytes()
                    .get(after)
                    .is_some_and(|b| b.is_ascii_alphanumeric())
            {
                continue;
            }
            tries += 1;
            candidates.push((pos, after));
        }
    }
    candidates.sort_unstable_by_key(|c| std::cmp::Reverse(c.0));
    candidates
        .into_iter()
        .find_map(|(_, after)| clean_phrase_answer(&text[after..]))
}

/// Cuts the answer out of the text following an answer phrase.
fn clean_phrase_answer(rest: &str) -> Option<String> {
    let line = rest.split('\n').next().unwrap_or("");
    let mut s = line.trim();
    // "The answer is: X", "**Answer:** X", "Answer: **X**"
    loop {
        let before = s;
        s = s.trim_start_matches(':').trim_start();
        s = s.trim_start_matches('*').trim_start();
        if s == before {
            break;
        }
    }
    if s.is_empty() {
        return None;
    }
    let answer = if let Some(inner) = delimited_math(s) {
        inner
    } else {
        // Plain text: up to the end of the sentence (". " or "." at the end of the line).
        let sentence = &s[..sentence_end(s)];
        // "... is 42, which is ..." / "... is 5 because ...": keep the answer itself.
        let cut = CONNECTORS
            .iter()
            .filter_map(|c| sentence.find(c))
            .min()
            .unwrap_or(sentence.len());
        &sentence[..cut]
    };
    let mut a = answer.trim();
    loop {
        let before = a;
        a = a.trim_end_matches('.').trim_end();
        a = a.trim_matches('*').trim();
        a = strip_pair(a, "$", "$").unwrap_or(a).trim();
        a = strip_pair(a, "\\(", "\\)").unwrap_or(a).trim();
        a = strip_pair(a, "\\[", "\\]").unwrap_or(a).trim();
        if a == before {
            break;
        }
    }
    if a.is_empty() {
        None
    } else {
        Some(a.to_string())
    }
}

/// Words that end the answer inside a plain-text answer sentence.
const CONNECTORS: [&str; 6] = [
    ", which",
    ", so ",
    ", because",
    " because ",
    " since ",
    " which ",
];

fn strip_pair<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    if s.len() >= open.len() + close.len() && s.starts_with(open) && s.ends_with(close) {
        Some(&s[open.len()..s.len() - close.len()])
    } else {
        None
    }
}

/// If `s` starts with `$...$`, `$$...$$`, `\(...\)` or `\[...\]`, the inside of that first
/// math span (when it is closed on the same line).
fn delimited_math(s: &str) -> Option<&str> {
    for (open, close) in [("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")] {
        if let Some(body) = s.strip_prefix(open) {
            // An escaped dollar `\$` (currency) does not close the span.
            let end = body
                .match_indices(close)
                .map(|(i, _)| i)
                .find(|&i| close != "$" || i == 0 || body.as_bytes()[i - 1] != b'\\')?;
            return Some(&body[..end]);
        }
    }
    None
}

/// A short bold value on the last non-empty line: `So the total is **73**.`
fn bold_final_line(text: &str) -> Option<String> {
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let end = line.rfind("**")?;
    let start = line[..end].rfind("**")?;
    let at_end = line[end + 2..]
        .chars()
        .all(|c| c.is_whitespace() || matches!(c, '.' | '!' | '$'));
    let raw = line[start + 2..end].trim();
    if !at_end || raw.ends_with(':') {
        return None;
    }
    let inner = raw.trim_end_matches('.').trim();
    let inner = strip_pair(inner, "$", "$").unwrap_or(inner).trim();
    let valueish = inner.bytes().any(|b| b.is_ascii_digit()) || inner.contains('\\');
    (!inner.is_empty() && inner.len() <= 80 && valueish && !inner.ends_with(':'))
        .then(|| inner.to_string())
}

/// The last `$...$` / `$$...$$` / `\(...\)` / `\[...\]` span: its end offset and content.
fn last_math_span(text: &str) -> Option<(usize, String)> {
    let mut best: Option<(usize, String)> = None;
    for (open, close) in [("\\(", "\\)"), ("\\[", "\\]")] {
        if let Some(c) = text.rfind(close) {
            if let Some(o) = text[..c].rfind(open) {
                let inner = text[o + open.len()..c].trim();
                if !inner.is_empty() && best.as_ref().is_none_or(|b| c > b.0) {
                    best = Some((c, inner.to_string()));
                }
            }
        }
    }
    let bytes = text.as_bytes();
    let dollars: Vec<usize> = (0..bytes.len())
        .filter(|&i| bytes[i] == b'$' && (i == 0 || bytes[i - 1] != b'\\'))
        .collect();
    if dollars.len() >= 2 {
        let c = dollars[dollars.len() - 1];
        let o = dollars[dollars.len() - 2];
        let inner = text[o + 1..c].trim();
        if !inner.is_empty() && best.as_ref().is_none_or(|b| c > b.0) {
            best = Some((c, inner.to_string()));
        }
    }
    best
}

/// The last number in the text (`-3`, `1,000`, `2.5`, `3/4`): its end offset and text.
fn last_number(text: &str) -> Option<(usize, String)> {
    let bytes = text.as_bytes();
    let last = (0..bytes.len())
        .rev()
        .find(|&i| bytes[i].is_ascii_digit())?;
    let mut start = last;
    while start > 0 && matches!(bytes[start - 1], b'0'..=b'9' | b'.' | b',' | b'/') {
        start -= 1;
    }
    while start < last && !bytes[start].is_ascii_digit() {
        start += 1;
    }
    if start > 0 && bytes[start - 1] == b'-' {
        start -= 1;
    }
    Some((last + 1, text[start..=last].to_string()))
}

/// Byte index where the sentence starting `s` ends: a period followed by whitespace, or the
/// whole line.
fn sentence_end(s: &str) -> usize {
    let bytes = s.as_bytes();
    for i in 0..bytes.len() {
        if bytes[i] == b'.' && bytes.get(i + 1).is_some_and(|b| b.is_ascii_whitespace()) {
            return i;
        }
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extraction_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("so $\\boxed{5}$.", Some("5")),
            ("\\boxed{\\frac{1}{2}}", Some("\\frac{1}{2}")),
            (
                "nested \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}",
                Some("\\left( 3, \\frac{\\pi}{2} \\right)"),
            ),
            (
                "\\boxed{3} ... wait, that is wrong ... \\boxed{4}",
                Some("4"),
            ),
            ("first \\fbox{12} end", Some("12")),
            ("\\boxed{3} then \\fbox{7}", Some("7")),
            ("\\boxed 5 is it", Some("5")),
            ("$\\boxed 5$", Some("5")),
            ("\\boxed{ 42 }", Some("42")),
            ("\\boxed{\\{1,2\\}}", Some("\\{1,2\\}")),
            ("\\boxed{12", None),
            ("\\boxed{3} and later \\boxed{12", None),
            ("\\boxedfoo{3}", None),
            ("\\boxed{} the answer is 7.", Some("7")),
            ("Therefore, the answer is 42.", Some("42")),
            (
                "Therefore, the answer is $\\frac{1}{2}$.",
                Some("\\frac{1}{2}"),
            ),
            ("The final answer is $5$. I hope it is correct.", Some("5")),
            (
                "Final Answer: The final answer is $x^2$. I hope it is correct.",
                Some("x^2"),
            ),
            ("The answer is: 17", Some("17")),
            ("Answer: 3.5", Some("3.5")),
            ("Answer: $\\$20$", Some("\\$20")),
            ("**Answer:** 4", Some("4")),
            ("Answer: **73**", Some("73")),
            ("blah\n#### 1,000", Some("1,000")),
            ("#### 72\n", Some("72")),
            ("The answer is 3. Actually the answer is 4.", Some("4")),
            ("the answer is 2.5 meters", Some("2.5 meters")),
            ("The answer is 42, which is even.", Some("42")),
            ("The answer is 5 because 2+3=5.", Some("5")),
            ("The answer is 1, 2, and 3.", Some("1, 2, and 3")),
            ("The answer isn't obvious. Answer: 9", Some("9")),
            ("The answer is \\(\\sqrt{2}\\).", Some("\\sqrt{2}")),
            ("the answer is **12**.", Some("12")),
            ("no answer here 1 2 3", None),
            ("", None),
            ("The answer is", None),
            ("Antwort: ünïcödé \\boxed{é}", Some("é")),
            ("the answer is ünïcödé.", Some("ünïcödé")),
        ];
        for (text, want) in cases {
            assert_eq!(extract_answer(text).as_deref(), *want, "text: {text:?}");
        }
    }

    #[test]
    fn unanchored_fallback() {
        let cases: &[(&str, Option<&str>, Option<&str>)] = &[
            ("Compute $2+3$. I am not sure.", None, Some("2+3")),
            ("So we get 12 apples and 5 pears", None, Some("5")),
            ("The total is $x = 7$ and then 3", None, Some("3")),
            ("We find \\(x^2\\).", None, Some("x^2")),
            ("value -1,000", None, Some("-1,000")),
            ("So the total is **73**.", Some("73"), Some("73")),
            ("**Step 1:** add 2 and 3", None, Some("3")),
            ("nothing", None, None),
        ];
        for (text, anchored, loose) in cases {
            assert_eq!(
                extract_answer_with(text, true).as_deref(),
                *anchored,
                "{text:?}"
            );
            assert_eq!(
                extract_answer_with(text, false).as_deref(),
                *loose,
                "{text:?}"
            );
        }
    }

    #[test]
    fn choice_table() {
        let cases: &[(&str, bool, Option<char>)] = &[
            ("The answer is (C).", true, Some('C')),
            ("so $\\boxed{C}$", true, Some('C')),
            ("$\\boxed{\\textbf{(B)}}$", true, Some('B')),
            ("$\\boxed{\\text{(D)}\\ 12}$", true, Some('D')),
            ("Thus the result is $\\textbf{(E)}\\ 12$", true, Some('E')),
            ("Answer: C", true, Some('C')),
            ("**Answer: A**", true, Some('A')),
            ("So the correct option is C) 12.", true, Some('C')),
            ("The correct choice is (D) 7.", true, Some('D')),
            ("The answer is option B.", true, Some('B')),
            ("$\\textbf{(A)}\\ 1 \\qquad \\textbf{(B)}\\ 2$", true, None),
            ("I think it is B) here", true, None),
            ("I think it is B) here", false, Some('B')),
            ("\\boxed{12}", true, None),
            ("\\boxed{A+B}", true, None),
            ("\\boxed{C", true, None),
        ];
        for (text, anchored, want) in cases {
            let got = extract_choice(text, *anchored).map(|(_, c)| c);
            assert_eq!(got, *want, "{text:?}");
        }
    }

    #[test]
    fn boxed_beats_later_phrase() {
        assert_eq!(
            extract_answer("\\boxed{5}\nThe answer is 6.").as_deref(),
            Some("5")
        );
    }

    #[test]
    fn pathological_inputs_do_not_panic() {
        let deep = "\\boxed".to_string() + &"{".repeat(10_000) + &"}".repeat(9_999);
        assert!(extract_answer(&deep).is_none());
        let deep_closed = format!("\\boxed{{{}x{}}}", "{".repeat(10_000), "}".repeat(10_000));
        assert!(extract_answer(&deep_closed).is_some());
        let unbalanced = "\\boxed{".repeat(100_000);
        assert!(extract_answer(&unbalanced).is_none());
        let big = "the answer is ".repeat(80_000);
        let _ = extract_answer(&big);
        let mb = "x".repeat(1 << 20) + "\\boxed{1}";
        assert_eq!(extract_answer(&mb).as_deref(), Some("1"));
        let braces = "}{".repeat(500_000);
        let _ = extract_answer(&braces);
        let _ = extract_answer("\\boxed");
        let _ = extract_answer("\\boxed\\");
        let _ = extract_answer("\\boxed{\\}");
        let _ = extract_answer("é\\boxed é");
    }
}
