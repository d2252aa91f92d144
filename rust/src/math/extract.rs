//! Final-answer extraction from a model completion.
//!
//! Precedence: the last `\boxed{...}` / `\fbox{...}` (or `\boxed 5`), else the last explicit
//! answer phrase ("the answer is X", "the final answer is X", "Answer: X", "#### X").
//! Everything here runs in time linear in the input: brace matching is precomputed in one
//! stack pass, and every phrase candidate only looks at the rest of its own line.

use super::normalize::has_plain_word;

/// Commands whose argument is taken as a boxed answer.
const BOX_COMMANDS: [&str; 2] = ["\\boxed", "\\fbox"];

/// How many earlier occurrences of one answer phrase are tried when a later one is empty.
const MAX_PHRASE_TRIES: usize = 16;

/// Returns the final answer of a model completion, trimmed but not normalised.
///
/// The last `\boxed{...}` or `\fbox{...}` wins (so a self-correction counts); an unterminated
/// last box (a truncated completion) gives `None` rather than an earlier box. Boxes written
/// next to each other as one answer (`$\boxed{4}$ and $\boxed{7}$`, `y = \boxed{-2}` or
/// `y = \boxed{5}`) are read together as the list `4, 7`. An answer phrase ("the answer is
/// X", "the final answer is X", "Answer: X", "#### X", a last line `A: X`) after the last box
/// is the later, deliberate answer and wins over it; without any box the last answer phrase is
/// used, with a trailing period, `$...$` and markdown bold removed, and a sentence after the
/// phrase (`Answer: The smallest $k$ is 12.`) reduced to its value.
pub fn extract_answer(text: &str) -> Option<String> {
    extract_answer_with(text, true)
}

/// [`extract_answer`], optionally un-anchored: with `anchored == false` a completion with no
/// box and no answer phrase falls back to its last math span (`$...$`, `$$...$$`, `\(...\)`,
/// `\[...\]`) or last number, whichever comes later. Anchored extraction (the default) keeps
/// an expression merely restated from the problem from counting as an answer. Both read a
/// concluding sentence that states a value when nothing else marks the answer (see
/// [`extract_answer_opts`]).
pub fn extract_answer_with(text: &str, anchored: bool) -> Option<String> {
    extract_answer_opts(text, anchored, false)
}

/// [`extract_answer_with`] with the no-marker policy chosen by `strict`.
///
/// Not strict (the default), a completion with no box, no answer phrase and no bold final value
/// is read from its last sentence when that sentence states one value at its end
/// (`Altogether, there are 36 outcomes.`, `..., so the sum is 19`, `The roots are $t=-1$ and
/// $t=6$.`): after the last `is`/`are`/`was`/`equals`/`=` of the sentence there must be only
/// that value (or values joined by "and"/","), at most a few words of units after it, and no
/// other number. Strict, such a completion has no answer.
pub fn extract_answer_opts(text: &str, anchored: bool, strict: bool) -> Option<String> {
    let phrase = last_phrase_answer(text, &PHRASES);
    match last_boxed(text) {
        Boxed::Found(s, end) => {
            if let Some((pos, a)) = &phrase {
                if *pos >= end && valueish(a) {
                    return Some(a.clone());
                }
            }
            return Some(s);
        }
        Boxed::Unterminated => return None,
        Boxed::None => {}
    }
    if let Some((_, a)) = phrase {
        return Some(a);
    }
    if let Some(a) = bold_final_line(text) {
        return Some(a);
    }
    if !strict {
        if let Some(a) = concluding_value(text) {
            return Some(a);
        }
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

/// The content of the last complete, non-empty box of `text` (`\boxed{...}`, `\fbox{...}`,
/// `\boxed 5`), trimmed: the gold answer of a reference solution. Unlike
/// [`extract_answer`], which reads a model's completion, an unterminated or empty later box
/// gives way to an earlier complete one, and boxes side by side are not joined.
pub fn last_box(text: &str) -> Option<String> {
    let positions = box_positions(text);
    if positions.is_empty() {
        return None;
    }
    let matches = match_braces(text.as_bytes());
    positions.iter().rev().find_map(|&(start, after)| {
        box_at(text, &matches, start, after)
            .ok()
            .flatten()
            .map(|span| span.inner)
    })
}

/// The multiple-choice letter (`A`–`E`) a completion answers with: from the last box
/// (`\boxed{C}`, `\boxed{\textbf{(C)}}`), else an answer phrase ("Answer: C", "the answer is
/// (C)", "the correct option is C) 12"), else a lone `\textbf{(C)}` on the last line that has
/// one. Un-anchored, the last `(C)` / `C)` anywhere also counts. Returns the raw answer text
/// it read the letter from and the letter.
pub fn extract_choice(text: &str, anchored: bool) -> Option<(String, char)> {
    match last_boxed(text) {
        Boxed::Found(s, _) => return letter_of(&s).map(|c| (s, c)),
        Boxed::Unterminated => return None,
        Boxed::None => {}
    }
    if let Some((_, a)) = last_phrase_answer(text, &CHOICE_PHRASES) {
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
    /// The answer and the byte offset where its (last) box ends.
    Found(String, usize),
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

/// One complete box: content (trimmed) and the byte range of the whole command.
struct BoxSpan {
    start: usize,
    end: usize,
    inner: String,
}

/// The argument of the box command ending at `after`: `Ok(Some(span))`, `Ok(None)` for an
/// empty box, `Err(())` when it is unterminated.
fn box_at(
    text: &str,
    matches: &[usize],
    start: usize,
    after: usize,
) -> Result<Option<BoxSpan>, ()> {
    let bytes = text.as_bytes();
    let mut j = after;
    while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
        j += 1;
    }
    if j >= bytes.len() {
        return Err(());
    }
    if bytes[j] == b'{' {
        let close = matches[j];
        if close == usize::MAX {
            return Err(());
        }
        let inner = text[j + 1..close].trim();
        return Ok((!inner.is_empty()).then(|| BoxSpan {
            start,
            end: close + 1,
            inner: inner.to_string(),
        }));
    }
    if j > after {
        // `\boxed 5`: a single token up to whitespace, `$` or a closing delimiter.
        let rest = &text[j..];
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '$' | '}' | ','))
            .unwrap_or(rest.len());
        let token = rest[..end].trim_end_matches('.').trim();
        if !token.is_empty() {
            return Ok(Some(BoxSpan {
                start,
                end: j + end,
                inner: token.to_string(),
            }));
        }
    }
    Ok(None)
}

/// Longest gap between two boxes read as parts of one answer.
const MAX_BOX_GAP: usize = 48;

/// Whether the text between two boxes only joins parts of one answer: math delimiters,
/// punctuation, "and"/"or", spacing commands and short labels such as `y =` or `x_2=`.
fn joins_parts(gap: &str) -> bool {
    if gap.len() > MAX_BOX_GAP || gap.contains("\n\n") {
        return false;
    }
    let mut separated = false;
    for word in gap
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
    {
        match word {
            "and" | "or" => separated = true,
            "text" | "quad" | "qquad" | "mathrm" | "mbox" => {}
            w if w.len() <= 2 && gap.contains('=') => {}
            _ => return false,
        }
    }
    separated || gap.contains([',', ';']) || gap.contains("\\quad")
}

fn last_boxed(text: &str) -> Boxed {
    let positions = box_positions(text);
    if positions.is_empty() {
        return Boxed::None;
    }
    let matches = match_braces(text.as_bytes());
    let mut spans: Vec<BoxSpan> = Vec::new();
    let mut first_seen = true;
    for &(start, after) in positions.iter().rev() {
        let is_last = first_seen;
        first_seen = false;
        match box_at(text, &matches, start, after) {
            Err(()) if is_last => return Boxed::Unterminated,
            Err(()) | Ok(None) => {
                if !spans.is_empty() {
                    break;
                }
            }
            Ok(Some(span)) => {
                if let Some(later) = spans.last() {
                    if span.end > later.start || !joins_parts(&text[span.end..later.start]) {
                        break;
                    }
                }
                spans.push(span);
                if spans.len() >= 16 {
                    break;
                }
            }
        }
    }
    let Some(last) = spans.first() else {
        return Boxed::None;
    };
    let end = last.end;
    if spans.len() == 1 {
        return Boxed::Found(last.inner.clone(), end);
    }
    let mut parts: Vec<&str> = Vec::new();
    for span in spans.iter().rev() {
        if !parts.contains(&span.inner.as_str()) {
            parts.push(&span.inner);
        }
    }
    Boxed::Found(parts.join(", "), end)
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

/// The last answer phrase with an answer after it: the phrase's byte offset and the answer.
/// A last non-empty line `A: X` (the GSM8K answer line) counts as a phrase too.
fn last_phrase_answer(text: &str, phrases: &[&str]) -> Option<(usize, String)> {
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
    if let Some(pos) = answer_line(text) {
        candidates.push((pos, pos + 2));
    }
    candidates.sort_unstable_by_key(|c| std::cmp::Reverse(c.0));
    candidates
        .into_iter()
        .find_map(|(pos, after)| clean_phrase_answer(&text[after..]).map(|a| (pos, a)))
}

/// The offset of a last non-empty line that starts with `A:` (`A: 60`).
fn answer_line(text: &str) -> Option<usize> {
    let trimmed = text.trim_end();
    let start = trimmed.rfind('\n').map_or(0, |p| p + 1);
    let line = &trimmed[start..];
    let lead = line.len() - line.trim_start().len();
    line.trim_start().starts_with("A:").then_some(start + lead)
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
    let mut a = prose_value(answer.trim());
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

/// True when an answer phrase's text is a value rather than a word of prose (so "This answer
/// is reasonable." after a box does not replace it).
fn valueish(a: &str) -> bool {
    // A plain word after the value (`12 apples`) makes the phrase prose: the box stays.
    if has_plain_word(a, 3) {
        return false;
    }
    a.bytes().any(|b| b.is_ascii_digit() || b == b'\\') || a.trim().chars().count() <= 3
}

/// Verbs after which a sentence states its value.
const CUES: [&str; 7] = [" is ", " are ", " was ", " were ", " equals ", " be ", "="];

/// A phrase answer written as a sentence (`The smallest $k$ is 12`): the text after its last
/// `is`/`are`/`equals`; anything else unchanged.
fn prose_value(a: &str) -> &str {
    let prose = a
        .split(|c: char| !c.is_ascii_alphabetic())
        .any(|w| w.len() >= 3 && !matches!(w, "and" | "frac" | "sqrt" | "text" | "dfrac" | "cdot"))
        && !a.starts_with('\\');
    if !prose {
        return a;
    }
    let lower = a.to_ascii_lowercase();
    let Some(cut) = [" is ", " are ", " was ", " equals "]
        .iter()
        .filter_map(|c| lower.rfind(c).map(|p| p + c.len()))
        .max()
    else {
        return a;
    };
    let rest = a[cut..].trim();
    if rest.is_empty() {
        a
    } else {
        rest
    }
}

/// Words that open a concluding sentence.
const CONCLUDERS: [&str; 10] = [
    "so",
    "thus",
    "therefore",
    "hence",
    "altogether",
    "overall",
    "finally",
    "in total",
    "in conclusion",
    "this gives",
];

/// The value a completion's last sentence states, when it states exactly one at its end (the
/// no-marker policy of [`extract_answer_opts`]).
fn concluding_value(text: &str) -> Option<String> {
    let trimmed = text.trim_end();
    let line_start = trimmed.rfind('\n').map_or(0, |p| p + 1);
    let line = trimmed[line_start..].trim();
    let line = line.trim_end_matches(['*', ' ']).trim_end();
    if line.ends_with('?') || line.len() > 400 {
        return None;
    }
    let body = line.trim_end_matches(['.', '!']).trim_end();
    // The last sentence of the line: after the last ". " outside math.
    let start = sentence_starts(body).last().copied().unwrap_or(0);
    let sentence = body[start..].trim_start_matches(['*', '-', ' ']);
    let (vs, ve, value) = last_value(sentence)?;
    // At most three plain words (a unit, a noun) after the value.
    let tail = &sentence[ve..];
    if tail
        .bytes()
        .any(|b| b.is_ascii_digit() || b == b'$' || b == b'\\')
        || tail.split_whitespace().count() > 3
    {
        return None;
    }
    // A list of values joined by "and" / ",": `The roots are $t=-1$ and $t=6$`.
    let mut values = vec![value];
    let mut first = vs;
    while let Some((ps, pe, prev)) = last_value(&sentence[..first]) {
        let gap = sentence[pe..first].trim();
        if !matches!(gap, "and" | "," | ", and" | "or" | ", or") {
            break;
        }
        values.push(prev);
        first = ps;
        if values.len() > 8 {
            return None;
        }
    }
    let before = &sentence[..first];
    let lower = before.to_ascii_lowercase();
    let cue_end = CUES
        .iter()
        .filter_map(|c| lower.rfind(c).map(|p| p + c.len()))
        .max();
    let stated = match cue_end {
        // Between the verb and the value: a few words, no other number.
        Some(end) => {
            let between = &before[end..];
            !between.bytes().any(|b| {
                b.is_ascii_digit() || matches!(b, b'$' | b'+' | b'-' | b'*' | b'/' | b'^' | b'=')
            }) && between.split_whitespace().count() <= 3
        }
        None => false,
    };
    let lower_sentence = sentence.to_ascii_lowercase();
    let concludes = CONCLUDERS.iter().any(|w| {
        lower_sentence
            .strip_prefix(w)
            .is_some_and(|r| r.starts_with([' ', ',']))
    });
    let equation = values.len() == 1 && values[0].contains('=');
    if !(stated || (concludes && equation)) {
        return None;
    }
    values.reverse();
    Some(values.join(", "))
}

/// Byte offsets where the sentences of `s` start (after ". ", "! ", "? " outside `$...$`).
fn sentence_starts(s: &str) -> Vec<usize> {
    let bytes = s.as_bytes();
    let mut out = vec![0];
    let mut in_math = false;
    for i in 0..bytes.len() {
        match bytes[i] {
            b'$' if i == 0 || bytes[i - 1] != b'\\' => in_math = !in_math,
            b'.' | b'!' | b'?' if !in_math && bytes.get(i + 1) == Some(&b' ') => {
                out.push(i + 2);
            }
            _ => {}
        }
    }
    out
}

/// The last math span or number of a sentence: its byte range and text.
fn last_value(s: &str) -> Option<(usize, usize, String)> {
    let span = last_math_span_range(s);
    let number = last_number(s).map(|(end, n)| (end - n.len(), end, n));
    match (span, number) {
        (Some(sp), Some(n)) => Some(if n.1 > sp.1 { n } else { sp }),
        (Some(sp), None) => Some(sp),
        (None, n) => n,
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
    last_math_span_range(text).map(|(_, end, inner)| (end, inner))
}

/// The last non-empty math span: the byte range of the whole span (delimiters included) and
/// its trimmed content.
fn last_math_span_range(text: &str) -> Option<(usize, usize, String)> {
    let mut best: Option<(usize, usize, String)> = None;
    let mut consider = |start: usize, end: usize, inner: &str| {
        let inner = inner.trim();
        if !inner.is_empty() && best.as_ref().is_none_or(|b| end > b.1) {
            best = Some((start, end, inner.to_string()));
        }
    };
    for (open, close) in [("\\(", "\\)"), ("\\[", "\\]")] {
        if let Some(c) = text.rfind(close) {
            if let Some(o) = text[..c].rfind(open) {
                consider(o, c + close.len(), &text[o + open.len()..c]);
            }
        }
    }
    // Dollar spans, pairing `$$` with `$$` and `$` with `$` from the start.
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut open: Option<(usize, usize)> = None;
    let mut last: Option<(usize, usize, usize, usize)> = None;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == b'$' {
            let width = if bytes.get(i + 1) == Some(&b'$') {
                2
            } else {
                1
            };
            match open {
                Some((o, w)) if w == width => {
                    last = Some((o, o + w, i, i + width));
                    open = None;
                }
                Some(_) => {}
                None => open = Some((i, width)),
            }
            i += width;
            continue;
        }
        i += 1;
    }
    if let Some((o, inner_start, inner_end, end)) = last {
        consider(o, end, &text[inner_start..inner_end]);
    }
    best
}

/// The last number in the text (`-3`, `1,000`, `2 500`, `.7`, `3/4`, `\frac{11}{7}`): its end
/// offset and text. Digits inside a word (`QX3Z`) are not a number; a number inside a LaTeX
/// command's argument is read as the whole command.
fn last_number(text: &str) -> Option<(usize, String)> {
    let bytes = text.as_bytes();
    let mut search_end = bytes.len();
    loop {
        let last = (0..search_end).rev().find(|&i| bytes[i].is_ascii_digit())?;
        let mut start = last;
        loop {
            if start > 0 && matches!(bytes[start - 1], b'0'..=b'9' | b'.' | b',' | b'/') {
                start -= 1;
            } else if start >= 2
                && bytes[start - 1] == b' '
                && bytes[start - 2].is_ascii_digit()
                && start + 3 <= bytes.len()
                && bytes[start..start + 3].iter().all(u8::is_ascii_digit)
                && bytes.get(start + 3).is_none_or(|b| !b.is_ascii_digit())
                && bytes[..start - 1]
                    .iter()
                    .rev()
                    .take_while(|b| b.is_ascii_digit())
                    .count()
                    <= 3
            {
                // `2 500`: a space between thousands groups.
                start -= 1;
            } else {
                break;
            }
        }
        while start < last && !bytes[start].is_ascii_digit() && bytes[start] != b'.' {
            start += 1;
        }
        if bytes[start] == b'.' && !bytes.get(start + 1).is_some_and(u8::is_ascii_digit) {
            start += 1;
        }
        let glued_before = start > 0 && bytes[start - 1].is_ascii_alphabetic();
        let glued_after = bytes.get(last + 1).is_some_and(u8::is_ascii_alphabetic);
        if glued_before || glued_after {
            // Digits inside a word (`QX3Z`, `x2`): skip the whole word.
            let mut w = start;
            while w > 0 && bytes[w - 1].is_ascii_alphanumeric() {
                w -= 1;
            }
            if w == 0 {
                return None;
            }
            search_end = w;
            continue;
        }
        if let Some(cmd) = enclosing_command(text, start, last + 1) {
            return Some(cmd);
        }
        if start > 0 && bytes[start - 1] == b'-' {
            start -= 1;
        }
        return Some((last + 1, text[start..=last].to_string()));
    }
}

/// When the number at `start..end` is an argument of a LaTeX command written outside math
/// delimiters (`\frac{11}{7}`, `\sqrt{2}`), that whole command: its end and text.
fn enclosing_command(text: &str, start: usize, end: usize) -> Option<(usize, String)> {
    let bytes = text.as_bytes();
    if !(bytes.get(end) == Some(&b'}') || (start > 0 && bytes[start - 1] == b'{')) {
        return None;
    }
    // The token around the number: back to whitespace, forward to whitespace.
    let from = text[..start]
        .rfind(char::is_whitespace)
        .map_or(0, |p| p + 1);
    let to = text[end..]
        .find(char::is_whitespace)
        .map_or(text.len(), |p| end + p);
    let token = text[from..to].trim_end_matches(['.', ',', ';', ')']);
    (token.contains('\\') && token.len() <= 200).then(|| {
        (
            from + token.len(),
            token.trim_start_matches(['(', '$']).to_string(),
        )
    })
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
            ("take .7 here", None, Some(".7")),
            ("about 2 500 of them", None, Some("2 500")),
            ("count 1 2 3", None, Some("3")),
            ("take \\frac{11}{7} then", None, Some("\\frac{11}{7}")),
            ("code QX3Z", None, None),
            ("code QX3Z, 4", None, Some("4")),
            ("so $$x^2+1$$ here", None, Some("x^2+1")),
            ("so $a$ and $$b+1$$", None, Some("b+1")),
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
    fn later_phrase_beats_box() {
        let cases: &[(&str, Option<&str>)] = &[
            ("\\boxed{5}\nThe answer is 6.", Some("6")),
            (
                "\\boxed{5}\nFinal Answer: The final answer is $7$.",
                Some("7"),
            ),
            ("\\boxed{5}\nThis answer is reasonable.", Some("5")),
            ("\\boxed{12}. So the answer is 12 apples.", Some("12")),
            (
                "\\boxed{12}. The final answer is $\\frac{1}{2}$.",
                Some("\\frac{1}{2}"),
            ),
            (
                "The final answer is $\\boxed{5}$. I hope it is correct.",
                Some("5"),
            ),
            ("Answer: 3\n\\boxed{4}", Some("4")),
        ];
        for (text, want) in cases {
            assert_eq!(extract_answer(text).as_deref(), *want, "{text:?}");
        }
    }

    #[test]
    fn several_boxes_form_one_answer() {
        let cases: &[(&str, Option<&str>)] = &[
            ("so $\\boxed{4}$ and $\\boxed{7}$.", Some("4, 7")),
            ("$y = \\boxed{-2}$ or $y = \\boxed{5}$", Some("-2, 5")),
            ("$\\boxed{1}$, $\\boxed{2}$, $\\boxed{3}$", Some("1, 2, 3")),
            ("\\boxed{3} wait, that is wrong: \\boxed{4}", Some("4")),
            (
                "the angle is $\\boxed{30}$. The other two angles are equal, so $\\boxed{75}$",
                Some("75"),
            ),
            ("$\\boxed{5}$ and $\\boxed{5}$", Some("5")),
            (
                "\\boxed{(-5, 7)} and \\boxed{(-5, 1)}. (Either point works.)",
                Some("(-5, 7), (-5, 1)"),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(extract_answer(text).as_deref(), *want, "{text:?}");
        }
    }

    #[test]
    fn last_box_reads_a_reference_solution() {
        let cases: &[(&str, Option<&str>)] = &[
            ("so $\\boxed{5}$", Some("5")),
            (
                "\\boxed{1} then \\boxed{\\frac{1}{2}}",
                Some("\\frac{1}{2}"),
            ),
            ("so $\\boxed{4}$ and $\\boxed{7}$.", Some("7")),
            ("\\boxed{2} and then \\boxed{3", Some("2")),
            ("\\boxed{2} and then \\boxed{ }", Some("2")),
            ("\\boxed{\\{1, 2\\}}", Some("\\{1, 2\\}")),
            ("\\fbox{x}", Some("x")),
            ("$\\boxed 7$", Some("7")),
            ("\\boxed{ 12 }", Some("12")),
            ("\\boxedfoo{3}", None),
            ("\\boxed{}", None),
            ("\\boxed", None),
            ("no box", None),
        ];
        for (text, want) in cases {
            assert_eq!(last_box(text).as_deref(), *want, "{text:?}");
        }
    }

    #[test]
    fn answer_phrases_with_prose() {
        let cases: &[(&str, Option<&str>)] = &[
            ("Final Answer: The smallest $k$ is 12.", Some("12")),
            (
                "Answer: The number of ways is $\\binom{5}{2}$.",
                Some("\\binom{5}{2}"),
            ),
            ("So 6+7=<<6+7=13>>13 letters.\nA: 13", Some("13")),
            ("A: 13\nsomething else", None),
            ("The answer is 1, 2, and 3.", Some("1, 2, and 3")),
        ];
        for (text, want) in cases {
            assert_eq!(extract_answer(text).as_deref(), *want, "{text:?}");
        }
    }

    #[test]
    fn concluding_sentence_policy() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "We count them.\n\nAltogether, there are 36 outcomes.",
                Some("36"),
            ),
            ("Adding up, so the sum is 19", Some("19")),
            ("The roots are $t = -1$ and $t = 6$.", Some("t = -1, t = 6")),
            ("Thus $a + b = 19$.", Some("a + b = 19")),
            (
                "Let me know if you'd like me to work through the 3 steps.",
                None,
            ),
            ("We need the value of $x$ when $y = 3$.", None),
            ("The total is $x = 7$ and then 3", None),
            ("Is the answer 5?", None),
            ("So we get 12 apples and 5 pears", None),
            ("Wait, but in this", None),
            ("the sum of the pairs is:\n\n|A| + |B| = e + 2", None),
        ];
        for (text, want) in cases {
            assert_eq!(extract_answer(text).as_deref(), *want, "{text:?}");
            assert_eq!(
                extract_answer_opts(text, true, true),
                None,
                "strict: {text:?}"
            );
        }
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
