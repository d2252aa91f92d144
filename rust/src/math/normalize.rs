//! Canonical string form of an answer, used for comparison.
//!
//! A sequence of linear passes over the string; none of them recurses, so deep nesting is
//! handled with explicit stacks.

/// Text-like commands whose braces are dropped and whose argument is kept.
const UNWRAP_COMMANDS: [&str; 14] = [
    "text",
    "textbf",
    "textit",
    "textrm",
    "textnormal",
    "textsf",
    "texttt",
    "mathrm",
    "mathbf",
    "mathit",
    "mathsf",
    "mbox",
    "boxed",
    "fbox",
];

/// Commands dropped entirely (sizing and style).
const DROP_COMMANDS: [&str; 14] = [
    "left",
    "right",
    "bigl",
    "bigr",
    "Bigl",
    "Bigr",
    "biggl",
    "biggr",
    "big",
    "Big",
    "bigg",
    "displaystyle",
    "textstyle",
    "limits",
];

/// Spacing commands, removed (they also act as thousands separators between digits).
const SPACE_COMMANDS: [&str; 2] = ["quad", "qquad"];

/// Unit words removed after a number. Compared case-insensitively; single letters are left out
/// on purpose (they are usually variables).
const UNITS: [&str; 94] = [
    "cm",
    "centimeter",
    "centimeters",
    "centimetre",
    "centimetres",
    "mm",
    "millimeter",
    "millimeters",
    "meter",
    "meters",
    "metre",
    "metres",
    "km",
    "kilometer",
    "kilometers",
    "inch",
    "inches",
    "in",
    "ft",
    "foot",
    "feet",
    "yard",
    "yards",
    "yd",
    "mile",
    "miles",
    "mph",
    "kg",
    "kilogram",
    "kilograms",
    "gram",
    "grams",
    "pound",
    "pounds",
    "lb",
    "lbs",
    "ounce",
    "ounces",
    "oz",
    "ton",
    "tons",
    "second",
    "seconds",
    "sec",
    "minute",
    "minutes",
    "min",
    "mins",
    "hour",
    "hours",
    "hr",
    "hrs",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "dollar",
    "dollars",
    "cent",
    "cents",
    "degree",
    "degrees",
    "deg",
    "unit",
    "units",
    "square",
    "sq",
    "cubic",
    "per",
    "liter",
    "liters",
    "litre",
    "litres",
    "ml",
    "gallon",
    "gallons",
    "cup",
    "cups",
    "people",
    "persons",
    "students",
    "times",
    "ways",
    "points",
    "percent",
    "percentage",
    "pct",
    "grade",
    "mm^2",
    "cm^2",
];

/// Returns the canonical form of an answer string for comparison.
pub fn normalize_answer(s: &str) -> String {
    let s = commands_pass(s.trim());
    let s = fix_arguments(&s);
    let s = s.replace('∞', "\\infty");
    let s = strip_degrees(&s);
    let s = strip_units(&s);
    let s = list_words(&s);
    let s = squeeze_spaces(&s);
    let s = s.replace(",and", ",");
    let s = relations(&s);
    let s = strip_degrees(&s);
    let s = s.trim_end_matches(['.', ' ']).to_string();
    let s = words_to_symbols(&s);
    let s = strip_labels(&s);
    let s = array_matrix(&s);
    let s = bare_brace_set(&s);
    let s = strip_thousands(&s);
    let s = canonical_numbers(&s);
    let s = single_char_scripts(&s);
    let s = strip_base_subscript(&s);
    let s = inequality_to_interval(&s).unwrap_or(s);
    let s = plain_text_case(&s);
    s.trim().to_string()
}

/// `{,}` or `{, }` (a thousands separator written in braces): its length in bytes.
fn brace_comma(bytes: &[u8]) -> Option<usize> {
    let mut i = 1;
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    if bytes.get(i) != Some(&b',') {
        return None;
    }
    i += 1;
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    (bytes.get(i) == Some(&b'}')).then_some(i + 1)
}

/// Parts joined by the words "and" / "or" (`3 \text{ and } 9`, `x = 1 or x = 2`) as a list.
fn list_words(s: &str) -> String {
    let mut out = s.to_string();
    for word in [" and ", " or "] {
        if out.contains(word) {
            out = out.replace(word, ",");
        }
    }
    // "1, 2,and 3" leaves ",,": one separator.
    while out.contains(",,") {
        out = out.replace(",,", ",");
    }
    out
}

/// ASCII relation spellings as LaTeX: `>=`, `<=`, `!=` are not read as `=`; `x \approx 600`
/// names a value like `x = 600`.
fn relations(s: &str) -> String {
    let s = if s.contains("\\approx") {
        s.replace("\\approx", "=")
    } else {
        s.to_string()
    };
    if !s.contains(['<', '>', '!']) {
        return s;
    }
    s.replace(">=", "\\geq ")
        .replace("<=", "\\leq ")
        .replace("!=", "\\neq ")
        .replace("\\geq ", "\\geq")
        .replace("\\leq ", "\\leq")
        .replace("\\neq ", "\\neq")
}

/// Splits `s` at `sep` outside brackets (`()[]{}` and `\{ \}`).
fn split_top(s: &str, sep: u8) -> Vec<&str> {
    let bytes = s.as_bytes();
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b if b == sep && depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&s[start.min(s.len())..]);
    parts
}

/// A name for a value written before `=`: a variable (`x`, `a_1`, `\theta`), a point or
/// segment (`PQ`, `S_{ABC}`, `S_{ABC}:S`), a function value (`g(x)`, `f(3)`), or a tuple of
/// such names (`(a,b)`). Never a number or an expression with operators.
fn is_label(lhs: &str) -> bool {
    let t = lhs.trim();
    if t.is_empty() || t.len() > 24 || t.as_bytes()[0].is_ascii_digit() {
        return false;
    }
    if let Some(inner) = t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        return inner.contains(',') && split_top(inner, b',').iter().all(|p| is_simple_variable(p));
    }
    if is_simple_variable(t) {
        return true;
    }
    // `g(x)`, `f(3)`, `P(A)`: a name and a parenthesised argument.
    if let Some(open) = t.find('(') {
        let (name, arg) = (&t[..open], &t[open..]);
        if is_simple_variable(name)
            && arg.ends_with(')')
            && arg[1..arg.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b',' | b'-' | b'.'))
        {
            return true;
        }
    }
    // Segments, areas and ratios of them: letters with subscripts, `:` between.
    t.split(':').all(|p| {
        let (base, sub) = p.split_once('_').unwrap_or((p, ""));
        let sub = sub.trim_start_matches('{').trim_end_matches('}');
        !base.is_empty()
            && base.len() <= 4
            && base.bytes().all(|b| b.is_ascii_alphabetic())
            && sub.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// The value of `label = value` or of a chain `a = b = value`; `None` when `s` is not one.
fn label_value(s: &str) -> Option<&str> {
    let sides = split_top(s, b'=');
    if sides.len() < 2 {
        return None;
    }
    let last = sides[sides.len() - 1];
    let first = sides[0];
    if last.is_empty() || first.is_empty() || first.ends_with(['<', '>', '!', '\\', ':']) {
        return None;
    }
    // `\leq`, `\geq`, `\neq` end in `q`: `x\leq=`-like text is not a chain.
    if sides
        .iter()
        .any(|p| p.is_empty() || split_top(p, b',').len() > 1)
    {
        return None;
    }
    let valued = !has_plain_word(last, 1);
    if sides.len() >= 3 {
        // A chain of computations: the last side is the answer when it is a value.
        return (valued || is_label(first)).then_some(last);
    }
    if is_label(first) {
        // `x = 2y + 1` stays an equation unless the name is a function value (`g(x) = 3x`).
        let function_value = first.contains('(') && !first.starts_with('(');
        return (valued || function_value).then_some(last);
    }
    // `3^3 = 27`: a computation ending in its value.
    (!has_plain_word(first, 1) && valued).then_some(last)
}

/// Drops the names and computations written around values: `x = 5` -> `5`,
/// `(a,b)=(5,1)` -> `(5,1)`, `PQ=6, RS=2` -> `6,2`, `y = \frac{12}{3} = 4` -> `4`.
fn strip_labels(s: &str) -> String {
    if let Some(v) = label_value(s) {
        return strip_labels_in(v);
    }
    strip_labels_in(s)
}

fn strip_labels_in(s: &str) -> String {
    let parts = split_top(s, b',');
    if parts.len() < 2 || !parts.iter().any(|p| p.contains('=')) {
        return strip_assignment(s);
    }
    // `x=2, y=3`: distinct one-letter names, every part named, read as the ordered tuple of
    // the values by name, `(2,3)`.
    let mut named: Vec<(&str, &str)> = Vec::new();
    for p in &parts {
        let Some((name, value)) = p.split_once('=') else {
            break;
        };
        let name = name.trim();
        if name.len() != 1 || !name.as_bytes()[0].is_ascii_alphabetic() || value.contains('=') {
            break;
        }
        named.push((name, value));
    }
    if named.len() == parts.len() {
        named.sort_unstable_by_key(|(n, _)| *n);
        if named.windows(2).all(|w| w[0].0 != w[1].0)
            && named.iter().all(|(_, v)| !has_plain_word(v, 1))
        {
            let values: Vec<&str> = named.iter().map(|(_, v)| *v).collect();
            return format!("({})", values.join(","));
        }
    }
    let values: Vec<&str> = parts.iter().map(|p| label_value(p).unwrap_or(p)).collect();
    values.join(",")
}

/// `[\begin{array}{cc}1&2\\3&4\end{array}]` (and `bmatrix`, `smallmatrix`) as a `pmatrix`.
fn array_matrix(s: &str) -> String {
    if !s.contains("\\begin{") {
        return s.to_string();
    }
    let mut t = s.to_string();
    for name in ["bmatrix", "Bmatrix", "smallmatrix", "matrix"] {
        t = t
            .replace(&format!("\\begin{{{name}}}"), "\\begin{pmatrix}")
            .replace(&format!("\\end{{{name}}}"), "\\end{pmatrix}");
    }
    if let Some(pos) = t.find("\\begin{array}") {
        let after = pos + "\\begin{array}".len();
        let spec_len = if t[after..].starts_with('{') {
            t[after..].find('}').map_or(0, |p| p + 1)
        } else {
            0
        };
        t = format!("{}\\begin{{pmatrix}}{}", &t[..pos], &t[after + spec_len..]);
        t = t.replace("\\end{array}", "\\end{pmatrix}");
    }
    // Brackets written around the environment: `[\begin{pmatrix}...\end{pmatrix}]`.
    for (open, close) in [('[', ']'), ('(', ')')] {
        if let Some(inner) = t
            .strip_prefix(open)
            .and_then(|r| r.strip_suffix(close))
            .filter(|r| r.starts_with("\\begin{pmatrix}") && r.ends_with("\\end{pmatrix}"))
        {
            t = inner.to_string();
        }
    }
    t
}

/// `{-7,7}` (a set written with bare braces) -> `\{-7,7\}`.
fn bare_brace_set(s: &str) -> String {
    let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) else {
        return s.to_string();
    };
    // The first brace must close at the end, and the inside must be a list.
    let balanced = {
        let mut depth = 0i32;
        inner.bytes().all(|b| {
            match b {
                b'{' => depth += 1,
                b'}' => depth -= 1,
                _ => {}
            }
            depth >= 0
        }) && depth == 0
    };
    if balanced && split_top(inner, b',').len() >= 2 {
        format!("\\{{{inner}\\}}")
    } else {
        s.to_string()
    }
}

/// `1011_2`, `A3_{16}` -> the digits alone when they are valid in that base: an answer asked
/// for in base `b` is compared digit for digit (so `1011_2` equals `1011`, not `11`).
fn strip_base_subscript(s: &str) -> String {
    let Some((digits, base)) = s.split_once('_') else {
        return s.to_string();
    };
    let base = base.trim_start_matches('{').trim_end_matches('}');
    let Ok(b) = base.parse::<u32>() else {
        return s.to_string();
    };
    let valid = (2..=36).contains(&b)
        && !digits.is_empty()
        && digits
            .chars()
            .all(|c| c.to_digit(36).is_some_and(|d| d < b));
    if valid {
        digits.to_string()
    } else {
        s.to_string()
    }
}

/// `2\leq x\leq 5` -> `[2,5]`, `x>3` -> `(3,\infty)`, `x\leq-1` -> `(-\infty,-1]`: a
/// one-variable inequality as the interval it describes.
fn inequality_to_interval(s: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    let mut ops: Vec<(bool, bool)> = Vec::new(); // (less, strict)
    let mut rest = s;
    loop {
        let found = [
            ("\\leq", true, false),
            ("\\geq", false, false),
            ("<", true, true),
            (">", false, true),
        ]
        .iter()
        .filter_map(|&(op, less, strict)| rest.find(op).map(|p| (p, op.len(), less, strict)))
        .min_by_key(|t| t.0);
        match found {
            Some((p, len, less, strict)) => {
                parts.push(rest[..p].trim());
                ops.push((less, strict));
                rest = &rest[p + len..];
            }
            None => {
                parts.push(rest.trim());
                break;
            }
        }
        if parts.len() > 3 {
            return None;
        }
    }
    let is_var = |t: &str| {
        (t.len() == 1 && t.as_bytes()[0].is_ascii_alphabetic())
            || (t.len() > 1 && is_label(t) && !t.contains(','))
    };
    let lo = |strict: bool| if strict { '(' } else { '[' };
    let hi = |strict: bool| if strict { ')' } else { ']' };
    match (parts.as_slice(), ops.as_slice()) {
        ([a, v, b], [(l1, s1), (l2, s2)])
            if is_var(v) && l1 == l2 && !a.is_empty() && !b.is_empty() =>
        {
            let (low, high, sl, sh) = if *l1 {
                (a, b, *s1, *s2)
            } else {
                (b, a, *s2, *s1)
            };
            Some(format!("{}{low},{high}{}", lo(sl), hi(sh)))
        }
        ([v, a], [(less, strict)]) if is_var(v) && !a.is_empty() && !is_var(a) => Some(if *less {
            format!("(-\\infty,{a}{}", hi(*strict))
        } else {
            format!("{}{a},\\infty)", lo(*strict))
        }),
        ([a, v], [(less, strict)]) if is_var(v) && !a.is_empty() && !is_var(a) => Some(if *less {
            format!("{}{a},\\infty)", lo(*strict))
        } else {
            format!("(-\\infty,{a}{}", hi(*strict))
        }),
        _ => None,
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

/// Pass 1: one tokenizer pass over LaTeX commands, `$`, percent signs and braces.
fn commands_pass(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    // For every open brace: whether its closing brace is dropped (unwrapped command).
    let mut braces: Vec<bool> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && is_word_byte(bytes[end]) {
                end += 1;
            }
            if end > start {
                let name = &s[start..end];
                i = end;
                if DROP_COMMANDS.contains(&name) {
                    // `\left.` / `\right.` are invisible delimiters.
                    if (name == "left" || name == "right") && bytes.get(i) == Some(&b'.') {
                        i += 1;
                    }
                    continue;
                }
                if SPACE_COMMANDS.contains(&name) {
                    push_space(&mut out, bytes.get(i).copied());
                    continue;
                }
                if UNWRAP_COMMANDS.contains(&name) || name == "operatorname" {
                    let mut j = i;
                    while j < bytes.len() && bytes[j] == b' ' {
                        j += 1;
                    }
                    if bytes.get(j) == Some(&b'{') {
                        if name == "operatorname" {
                            // Keep it a command-like word: `\operatorname{lcm}` -> `\lcm`-ish text.
                            out.push('\\');
                        }
                        braces.push(true);
                        i = j + 1;
                    }
                    continue;
                }
                let canonical = match name {
                    "dfrac" | "tfrac" | "cfrac" => "frac",
                    "dbinom" | "tbinom" => "binom",
                    "le" | "leqslant" | "leqq" => "leq",
                    "ge" | "geqslant" | "geqq" => "geq",
                    "ne" => "neq",
                    "lt" => {
                        out.push('<');
                        continue;
                    }
                    "gt" => {
                        out.push('>');
                        continue;
                    }
                    "emptyset" => "varnothing",
                    "degree" => {
                        continue;
                    }
                    other => other,
                };
                out.push('\\');
                out.push_str(canonical);
                continue;
            }
            // A one-symbol command.
            match bytes.get(start) {
                Some(b',') | Some(b';') | Some(b':') | Some(b' ') => {
                    push_space(&mut out, bytes.get(start + 1).copied());
                    i = start + 1;
                }
                Some(b'!') | Some(b'$') | Some(b'%') => i = start + 1,
                Some(_) => {
                    // `\\`, `\{`, `\}`, `\|`, ... kept verbatim (one whole char).
                    let ch_len = s[start..].chars().next().map_or(1, char::len_utf8);
                    out.push_str(&s[i..start + ch_len]);
                    i = start + ch_len;
                }
                None => i = start,
            }
            continue;
        }
        match b {
            b'$' | b'%' => i += 1,
            b'~' => {
                push_space(&mut out, bytes.get(i + 1).copied());
                i += 1;
            }
            b'{' => {
                // `1{,}000`, `12 {, }345`
                if let Some(len) = brace_comma(&bytes[i..]) {
                    out.push(',');
                    i += len;
                    continue;
                }
                braces.push(false);
                out.push('{');
                i += 1;
            }
            b'}' => {
                match braces.pop() {
                    Some(true) => {}
                    _ => out.push('}'),
                }
                i += 1;
            }
            b';' => {
                out.push(',');
                i += 1;
            }
            b'\n' | b'\r' | b'\t' => {
                out.push(' ');
                i += 1;
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or(' ');
                match ch {
                    '\u{2212}' | '\u{2013}' => out.push('-'),
                    '\u{00a0}' | '\u{2009}' | '\u{202f}' => {
                        push_space(&mut out, s[i + ch.len_utf8()..].bytes().next())
                    }
                    '\u{00b7}' | '\u{22c5}' => out.push_str("\\cdot "),
                    '\u{00d7}' => out.push_str("\\times "),
                    '\u{03c0}' => out.push_str("\\pi "),
                    '\u{221a}' => {
                        // `√13` is the root of the whole number, `√x` of one symbol.
                        let rest = &s[i + ch.len_utf8()..];
                        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                        if digits > 1 {
                            out.push_str("\\sqrt{");
                            out.push_str(&rest[..digits]);
                            out.push('}');
                            i += ch.len_utf8() + digits;
                            continue;
                        }
                        out.push_str("\\sqrt");
                    }
                    '\u{2264}' => out.push_str("\\leq "),
                    '\u{2265}' => out.push_str("\\geq "),
                    '\u{2260}' => out.push_str("\\neq "),
                    _ => out.push(ch),
                }
                i += ch.len_utf8();
            }
        }
    }
    out
}

/// A spacing command: nothing between two digits (`10\,000`), a space otherwise.
fn push_space(out: &mut String, next: Option<u8>) {
    let prev_digit = out.as_bytes().last().is_some_and(u8::is_ascii_digit);
    let next_digit = next.is_some_and(|b| b.is_ascii_digit());
    if !(prev_digit && next_digit) {
        out.push(' ');
    }
}

/// Pass 2: brace the arguments of `\frac` and `\sqrt` (`\frac12` -> `\frac{1}{2}`,
/// `\sqrt2` -> `\sqrt{2}`), with an explicit stack instead of recursion.
fn fix_arguments(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len() + 8);
    // For every open brace: how many arguments are still expected after it closes.
    let mut stack: Vec<u8> = Vec::new();
    let mut pending: u8 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if pending > 0 {
            match b {
                b' ' => {
                    i += 1;
                    continue;
                }
                b'{' => {
                    stack.push(pending - 1);
                    pending = 0;
                    out.push('{');
                    i += 1;
                    continue;
                }
                b'}' => pending = 0,
                b'\\' => {
                    let start = i + 1;
                    let mut end = start;
                    while end < bytes.len() && is_word_byte(bytes[end]) {
                        end += 1;
                    }
                    if end > start && !matches!(&s[start..end], "frac" | "sqrt") {
                        out.push('{');
                        out.push_str(&s[i..end]);
                        out.push('}');
                        pending -= 1;
                        i = end;
                        continue;
                    }
                    pending = 0;
                }
                b'(' | b')' | b'[' | b']' | b'^' | b'_' => pending = 0,
                _ => {
                    let ch = s[i..].chars().next().unwrap_or(' ');
                    out.push('{');
                    out.push(ch);
                    out.push('}');
                    pending -= 1;
                    i += ch.len_utf8();
                    continue;
                }
            }
        }
        match b {
            b'{' => {
                stack.push(0);
                out.push('{');
                i += 1;
            }
            b'}' => {
                pending = stack.pop().unwrap_or(0);
                out.push('}');
                i += 1;
            }
            b'\\' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && is_word_byte(bytes[end]) {
                    end += 1;
                }
                if end == start {
                    // One-symbol command such as `\{`: copy both characters.
                    let ch_len = s[start..].chars().next().map_or(0, char::len_utf8);
                    out.push_str(&s[i..start + ch_len]);
                    i = start + ch_len;
                    continue;
                }
                let name = &s[start..end];
                out.push_str(&s[i..end]);
                i = end;
                if name == "frac" || name == "binom" {
                    pending = 2;
                } else if name == "sqrt" {
                    // Optional index `\sqrt[3]{x}` is copied as is.
                    let mut j = i;
                    while j < bytes.len() && bytes[j] == b' ' {
                        j += 1;
                    }
                    if bytes.get(j) == Some(&b'[') {
                        if let Some(close) = s[j..].find(']') {
                            out.push_str(&s[j..=j + close]);
                            i = j + close + 1;
                        }
                    }
                    pending = 1;
                }
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

/// Removes degree marks: `^\circ`, `^{\circ}`, `°` (with optional spaces).
fn strip_degrees(s: &str) -> String {
    let mut out = s.replace('°', "");
    for pat in [
        "^{\\circ}",
        "^\\circ",
        "^ {\\circ}",
        "^ \\circ",
        "^{ \\circ }",
        "^{\\circ }",
    ] {
        if out.contains(pat) {
            out = out.replace(pat, "");
        }
    }
    out
}

/// Removes unit words (and `^2`/`^3` after them) at the end of a numeric answer:
/// `5 cm`, `10\text{ inches}`, `6 square units`, `65 miles per hour`.
fn strip_units(s: &str) -> String {
    let orig = s.trim_end().trim_end_matches('.').trim_end();
    let mut cur = orig;
    for _ in 0..4 {
        let bytes = cur.as_bytes();
        // Optional power after the unit: `cm^2`, `cm^{2}`.
        let mut end = bytes.len();
        for pow in ["^{2}", "^{3}", "^2", "^3"] {
            if cur.ends_with(pow) {
                end -= pow.len();
                break;
            }
        }
        let mut start = end;
        while start > 0 && bytes[start - 1].is_ascii_alphabetic() {
            start -= 1;
        }
        if start == end || (start > 0 && bytes[start - 1] == b'\\') {
            break;
        }
        if !UNITS.contains(&cur[start..end].to_ascii_lowercase().as_str()) {
            break;
        }
        cur = cur[..start].trim_end();
    }
    if cur.len() == orig.len() {
        return orig.to_string();
    }
    // What is left must be a number-like value, so text answers stay intact.
    let numeric_end = cur
        .as_bytes()
        .last()
        .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'}' | b')'))
        || cur.ends_with("\\pi");
    if numeric_end && cur.bytes().any(|b| b.is_ascii_digit()) {
        cur.to_string()
    } else {
        orig.to_string()
    }
}

/// Removes whitespace, keeping one space where it separates a command name from a letter
/// (`\pi r`).
fn squeeze_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    let mut in_command = false;
    for ch in s.chars() {
        if ch.is_whitespace() {
            pending_space = true;
            continue;
        }
        if pending_space && in_command && ch.is_ascii_alphabetic() {
            out.push(' ');
        }
        pending_space = false;
        if ch == '\\' {
            in_command = true;
        } else if !ch.is_ascii_alphabetic() {
            in_command = false;
        }
        out.push(ch);
    }
    out
}

/// `x_{5}` -> `x_5`, `2^{3}` -> `2^3`; ordinal marks `12^{th}` -> `12`.
fn single_char_scripts(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if (b == b'_' || b == b'^') && bytes.get(i + 1) == Some(&b'{') {
            let prev_digit = i > 0 && bytes[i - 1].is_ascii_digit();
            if b == b'^' && prev_digit {
                if let Some(rest) = s.get(i + 2..i + 5) {
                    if matches!(rest, "th}" | "st}" | "nd}" | "rd}") {
                        i += 5;
                        continue;
                    }
                }
            }
            if bytes.get(i + 2).is_some_and(u8::is_ascii_alphanumeric)
                && bytes.get(i + 3) == Some(&b'}')
            {
                out.push(char::from(b));
                out.push(char::from(bytes[i + 2]));
                i += 4;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Words for symbols: "infinity" -> `\infty`, "no solution"/"none" stay text.
fn words_to_symbols(s: &str) -> String {
    match s.to_ascii_lowercase().as_str() {
        "infinity" | "inf" | "+\\infty" => "\\infty".to_string(),
        "-infinity" | "-inf" => "-\\infty".to_string(),
        "\\{\\}" | "\\varnothing" | "{}" => "\\varnothing".to_string(),
        "zero" => "0".to_string(),
        "one" => "1".to_string(),
        "two" => "2".to_string(),
        "three" => "3".to_string(),
        "four" => "4".to_string(),
        "five" => "5".to_string(),
        "six" => "6".to_string(),
        "seven" => "7".to_string(),
        "eight" => "8".to_string(),
        "nine" => "9".to_string(),
        "ten" => "10".to_string(),
        "eleven" => "11".to_string(),
        "twelve" => "12".to_string(),
        _ => s.to_string(),
    }
}

/// `x=5` -> `5` (also `k=`, `a_1=`, `\theta=`, `x\in`) when the value contains no letters.
fn strip_assignment(s: &str) -> String {
    let (lhs, rhs) = if let Some(pos) = s.find('=') {
        (&s[..pos], &s[pos + 1..])
    } else if let Some(pos) = s.find("\\in") {
        if s[pos + 3..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            return s.to_string();
        }
        (&s[..pos], &s[pos + 3..])
    } else {
        return s.to_string();
    };
    if rhs.contains('=') || rhs.is_empty() || !is_simple_variable(lhs) || has_plain_word(rhs, 1) {
        return s.to_string();
    }
    rhs.to_string()
}

fn is_simple_variable(lhs: &str) -> bool {
    let lhs = lhs.trim();
    let (base, sub) = match lhs.find('_') {
        Some(p) => (&lhs[..p], Some(&lhs[p + 1..])),
        None => (lhs, None),
    };
    // `x`, `QM` (a segment), `\theta`.
    let base_ok = ((1..=2).contains(&base.len()) && base.bytes().all(|b| b.is_ascii_alphabetic()))
        || (base.starts_with('\\')
            && base.len() > 1
            && base.len() <= 9
            && base[1..].bytes().all(|b| b.is_ascii_alphabetic()));
    let sub_ok = match sub {
        None => true,
        Some(t) => {
            let t = t.trim_start_matches('{').trim_end_matches('}');
            !t.is_empty() && t.len() <= 3 && t.bytes().all(|b| b.is_ascii_alphanumeric())
        }
    };
    base_ok && sub_ok
}

/// True when `s` has a run of at least `len` (1 or more) plain letters: letters outside
/// `\command` names. With `len` 1, any bare letter; with 3, a word rather than a product of
/// variables such as `xy`.
pub(super) fn has_plain_word(s: &str, len: usize) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            continue;
        }
        let run = bytes[i..]
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        if run >= len {
            return true;
        }
        i += run.max(1);
    }
    false
}

/// `1,000,000` -> `1000000` when the whole answer is one such number.
fn strip_thousands(s: &str) -> String {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int_part, frac) = match body.find('.') {
        Some(p) => (&body[..p], Some(&body[p + 1..])),
        None => (body, None),
    };
    if !int_part.contains(',') || frac.is_some_and(|f| !f.bytes().all(|b| b.is_ascii_digit())) {
        return s.to_string();
    }
    let groups: Vec<&str> = int_part.split(',').collect();
    let first_ok = !groups[0].is_empty()
        && groups[0].len() <= 3
        && groups[0].bytes().all(|b| b.is_ascii_digit());
    let rest_ok = groups[1..]
        .iter()
        .all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()));
    if first_ok && rest_ok {
        s.replace(',', "")
    } else {
        s.to_string()
    }
}

/// Canonical decimals: `05` -> `5`, `5.0` -> `5`, `0.50` -> `0.5`, `.5` -> `0.5`.
/// Numbers glued to a letter or `_`/`^` (subscripts, exponents such as `x2`) are left alone
/// only when they follow a letter.
fn canonical_numbers(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let starts_number =
            b.is_ascii_digit() || (b == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
        if !starts_number {
            let ch = s[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        let mut end = i;
        while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
            end += 1;
        }
        let token = &s[i..end];
        // Digits glued to a letter (`\pm2021` is fine, `x05` is a name) or after `:` (times)
        // are copied verbatim.
        let prev = out.as_bytes().last().copied();
        let glued =
            prev.is_some_and(|p| p.is_ascii_alphabetic() || p == b':') && !ends_with_command(&out);
        if glued {
            out.push_str(token);
        } else {
            out.push_str(&canonical_decimal(token));
        }
        i = end;
    }
    out
}

/// True when `s` ends with a `\\command` name (so a following number is its argument).
fn ends_with_command(s: &str) -> bool {
    let trimmed = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    trimmed.len() < s.len() && trimmed.ends_with('\\')
}

fn canonical_decimal(token: &str) -> String {
    if token.bytes().filter(|&b| b == b'.').count() > 1 {
        return token.to_string();
    }
    let (int_part, frac_part) = match token.find('.') {
        Some(p) => (&token[..p], &token[p + 1..]),
        None => (token, ""),
    };
    let int_part = int_part.trim_start_matches('0');
    let frac_part = frac_part.trim_end_matches('0');
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    if frac_part.is_empty() {
        int_part.to_string()
    } else {
        format!("{int_part}.{frac_part}")
    }
}

/// Plain words are compared case-insensitively; `(C)` is the letter `C`.
fn plain_text_case(s: &str) -> String {
    let inner = s
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .filter(|t| t.len() == 1 && t.as_bytes()[0].is_ascii_uppercase());
    if let Some(letter) = inner {
        return letter.to_string();
    }
    if s.len() >= 2 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
        return s.to_ascii_lowercase();
    }
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_table() {
        let cases: &[(&str, &str)] = &[
            ("$5$", "5"),
            (" 5 ", "5"),
            ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"),
            ("\\left\\{1,2\\right\\}", "\\{1,2\\}"),
            ("\\left. x \\right|", "x|"),
            ("\\dfrac{1}{2}", "\\frac{1}{2}"),
            ("\\tfrac{3}{4}", "\\frac{3}{4}"),
            ("\\frac12", "\\frac{1}{2}"),
            ("\\frac1{2}", "\\frac{1}{2}"),
            ("\\frac{1}2", "\\frac{1}{2}"),
            ("\\frac\\pi2", "\\frac{\\pi}{2}"),
            ("\\frac{\\frac12}3", "\\frac{\\frac{1}{2}}{3}"),
            ("\\sqrt2", "\\sqrt{2}"),
            ("11\\sqrt2", "11\\sqrt{2}"),
            ("\\sqrt[3]{2}", "\\sqrt[3]{2}"),
            ("\\text{Evelyn}", "evelyn"),
            ("\\textbf{(C)}", "C"),
            ("\\mathrm{east}", "east"),
            ("\\mbox{yes}", "yes"),
            ("5 cm", "5"),
            ("5\\text{ cm}", "5"),
            ("10\\text{ inches}", "10"),
            ("20 dollars", "20"),
            ("\\$20", "20"),
            ("12 \\text{cm}^2", "12"),
            ("12\\mbox{ inches}^2", "12"),
            ("6 square units", "6"),
            ("65 miles per hour", "65"),
            ("90^\\circ", "90"),
            ("90^{\\circ}", "90"),
            ("45°", "45"),
            ("30 degrees", "30"),
            ("5.", "5"),
            ("1,000", "1000"),
            ("1{,}000", "1000"),
            ("10\\,000", "10000"),
            ("10,\\!000", "10000"),
            ("1,234,567.50", "1234567.5"),
            ("(1,2)", "(1,2)"),
            ("\\pm 2021", "\\pm2021"),
            ("\\pm 05", "\\pm5"),
            ("x05", "x05"),
            ("12:05", "12:05"),
            ("4\\sqrt(2)", "4\\sqrt(2)"),
            ("1, 2, and 3", "1,2,3"),
            ("1,2", "1,2"),
            ("1,22", "1,22"),
            ("x = 5", "5"),
            ("y=\\frac{1}{2}", "\\frac{1}{2}"),
            ("a_1 = 3", "3"),
            ("QM = 30", "30"),
            ("\\theta = \\frac{\\pi}{4}", "\\frac{\\pi}{4}"),
            ("y = 2x + 1", "y=2x+1"),
            ("x \\in [2,5]", "[2,5]"),
            ("50\\%", "50"),
            ("50%", "50"),
            ("5.0", "5"),
            ("05", "5"),
            ("0.50", "0.5"),
            (".5", "0.5"),
            ("0.000", "0"),
            ("(1.0, 2.50)", "(1,2.5)"),
            ("x_{05}", "x_5"),
            ("4210_{5}", "4210"),
            ("2^{3}", "2^3"),
            ("2^{10}", "2^{10}"),
            ("12^{\\mathrm{th}} \\text{ grade}", "12"),
            ("x^{\\prime}", "x^{\\prime}"),
            ("\\pi r^2", "\\pi r^2"),
            ("2 \\pi", "2\\pi"),
            ("6 - 5i", "6-5i"),
            ("−7", "-7"),
            ("\\infty", "\\infty"),
            ("infinity", "\\infty"),
            ("\\emptyset", "\\varnothing"),
            ("\\boxed{7}", "7"),
            ("1011_2", "1011"),
            ("1011_{2}", "1011"),
            ("A3_{16}", "A3"),
            ("1012_2", "1012_2"),
            ("x_2", "x_2"),
            ("x \\le 3", "(-\\infty,3]"),
            ("x > 3", "(3,\\infty)"),
            ("3 < x", "(3,\\infty)"),
            ("2 \\le x \\le 5", "[2,5]"),
            ("-1 < x \\leq 5", "(-1,5]"),
            ("5 > x > -1", "(-1,5)"),
            ("x < y", "x<y"),
            ("\\text{three}", "3"),
            // Relation spellings.
            ("x >= 2", "[2,\\infty)"),
            ("x<=2", "(-\\infty,2]"),
            ("x \\geqslant 2", "[2,\\infty)"),
            ("x \\gt 2", "(2,\\infty)"),
            ("x \\lt 2", "(-\\infty,2)"),
            ("x ≥ 2", "[2,\\infty)"),
            ("x ≤ 2", "(-\\infty,2]"),
            ("x ≠ 2", "x\\neq2"),
            ("x != 2", "x\\neq2"),
            ("x \\approx 600", "600"),
            ("3√13", "3\\sqrt{13}"),
            ("√5", "\\sqrt{5}"),
            ("√(x+1)", "\\sqrt(x+1)"),
            ("0<g(t)<2", "(0,2)"),
            // Labels and chains.
            ("(a,b)=(5,1)", "(5,1)"),
            ("PQ=6, RS=2", "6,2"),
            ("x=2, y=3", "(2,3)"),
            ("y=3, x=2", "(2,3)"),
            ("x=2, x=3", "2,3"),
            ("28 percentage", "28"),
            ("g(x)=3", "3"),
            ("g(x)=3x+1", "3x+1"),
            ("S_{ABC}:S=3:11", "3:11"),
            ("3^3 = 27", "27"),
            ("y = \\frac{12}{3} = 4", "4"),
            ("p + q = q + p = 17", "17"),
            ("x + y = 5", "x+y=5"),
            ("2x = 6", "2x=6"),
            // Lists and notation.
            ("3 \\text{ and } 9", "3,9"),
            ("x = 1 \\text{ or } x = 2", "1,2"),
            ("12 {, }345", "12345"),
            ("(1; 2)", "(1,2)"),
            ("{-7, 7}", "\\{-7,7\\}"),
            (
                "\\left[\\begin{array}{cc} 1 & 2 \\\\ 3 & 4 \\end{array}\\right]",
                "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
            ),
            (
                "\\begin{bmatrix} 1 \\\\ 2 \\end{bmatrix}",
                "\\begin{pmatrix}1\\\\2\\end{pmatrix}",
            ),
            ("\\dbinom{5}{2}", "\\binom{5}{2}"),
            ("Three", "3"),
            (
                "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
                "\\begin{pmatrix}1\\\\2\\end{pmatrix}",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_answer(input), *want, "input: {input:?}");
        }
    }

    #[test]
    fn pathological_inputs_do_not_panic() {
        let deep = "{".repeat(10_000) + &"}".repeat(10_000);
        let _ = normalize_answer(&deep);
        let deep_frac = "\\frac{".repeat(10_000);
        let _ = normalize_answer(&deep_frac);
        let deep_text = "\\text{".repeat(10_000) + "x";
        let _ = normalize_answer(&deep_text);
        let mb = "1,".repeat(500_000);
        let _ = normalize_answer(&mb);
        for s in [
            "\\",
            "\\frac",
            "\\sqrt[",
            "{",
            "}",
            "\\left",
            "é\\frac é",
            "\\text",
            "^",
            "=",
            "\\in",
            "_",
            "\\frac{",
            "\\{",
            "}}}}",
            "\\sqrt[3",
            "°",
            "∞",
            "\u{2212}",
        ] {
            let _ = normalize_answer(s);
        }
    }
}
