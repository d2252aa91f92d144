//! Comparison of two normalised answers: exact numbers, tuples/intervals, sets, matrices.
//!
//! The result is three-valued: equal, different, or unknown (symbolic values that need a
//! CAS). Work is bounded by a budget of element comparisons, and structures nest at most
//! [`MAX_DEPTH`] levels, so no input can make this slow or overflow the stack.

use super::algebra;
use super::number::{parse_number, Rational};
use super::numeric;

/// The outcome of comparing two answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Equal,
    Different,
    Unknown,
}

/// Maximum nesting of tuples/sets followed.
const MAX_DEPTH: usize = 8;
/// Maximum number of element comparisons per call.
const BUDGET: usize = 20_000;
/// Larger collections are left undecided.
const MAX_ITEMS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `\{...\}`
    Set,
    /// Bare `a, b, c` (a list of solutions: order-free).
    List,
    /// `A \cup B`
    Union,
}

#[derive(Debug)]
enum Value<'a> {
    Num(Rational),
    /// Tuple or interval: brackets are significant.
    Seq {
        open: u8,
        close: u8,
        items: Vec<&'a str>,
    },
    Unordered(Kind, Vec<&'a str>),
    Matrix(Vec<Vec<&'a str>>),
    Atom(&'a str),
}

/// Compares two normalised answers exactly.
#[cfg(test)]
pub fn compare(pred: &str, gold: &str) -> Verdict {
    compare_with(pred, gold, 0.0)
}

/// The state of one comparison: the remaining budget and the numeric tolerance.
struct Ctx {
    budget: usize,
    rel_tol: f64,
}

/// [`compare`] where numbers within a relative tolerance `rel_tol` of each other are equal
/// (`|a − b| ≤ rel_tol · max(|a|, |b|)`); `0.0` is exact.
pub fn compare_with(pred: &str, gold: &str, rel_tol: f64) -> Verdict {
    let mut ctx = Ctx {
        budget: BUDGET,
        rel_tol: if rel_tol.is_finite() && rel_tol > 0.0 {
            rel_tol
        } else {
            0.0
        },
    };
    compare_at(pred, gold, 0, &mut ctx)
}

/// Parses a normalised answer as an exact number, if it is one.
pub fn as_number(s: &str) -> Option<Rational> {
    match classify(s) {
        Value::Num(r) => Some(r),
        _ => None,
    }
}

/// The parts of a bare list `a,b,c` (one part when `s` is not a list).
pub fn split_list(s: &str) -> Vec<&str> {
    match classify(s) {
        Value::Unordered(Kind::List, items) => items,
        _ => vec![s],
    }
}

/// A short description of what kind of value `s` is, for verdict details.
pub fn describe(s: &str) -> &'static str {
    match classify(s) {
        Value::Num(_) => "number",
        Value::Seq { .. } => "tuple/interval",
        Value::Unordered(Kind::Set, _) => "set",
        Value::Unordered(Kind::List, _) => "list",
        Value::Unordered(Kind::Union, _) => "union",
        Value::Matrix(_) => "matrix",
        Value::Atom(_) => "expression",
    }
}

fn compare_at(a: &str, b: &str, depth: usize, ctx: &mut Ctx) -> Verdict {
    if ctx.budget == 0 || depth > MAX_DEPTH {
        return Verdict::Unknown;
    }
    ctx.budget -= 1;
    if a == b {
        return Verdict::Equal;
    }
    // Operations on finite sets are evaluated first: `\{2,5\}\cup\{7\}` is `\{2,5,7\}`.
    if let Some(evaluated) = set_operations(a, ctx) {
        return compare_at(&evaluated, b, depth + 1, ctx);
    }
    if let Some(evaluated) = set_operations(b, ctx) {
        return compare_at(a, &evaluated, depth + 1, ctx);
    }
    // `a \pm b` is the two-element list `a+b, a-b`.
    if let Some(expanded) = expand_pm(a) {
        if let Some(v) = two_values_vs_one(&expanded, b, depth, ctx) {
            return v;
        }
        return compare_at(&expanded, b, depth + 1, ctx);
    }
    if let Some(expanded) = expand_pm(b) {
        if let Some(v) = two_values_vs_one(&expanded, a, depth, ctx) {
            return v;
        }
        return compare_at(a, &expanded, depth + 1, ctx);
    }
    if let Some(v) = infinity(a, b) {
        return v;
    }
    if let Some(v) = ratio(a, b) {
        return v;
    }
    if let Some(v) = factorial(a, b) {
        return v;
    }
    use Value::*;
    match (classify(a), classify(b)) {
        (Num(x), Num(y)) => {
            if x == y || within(ctx.rel_tol, x.to_f64(), y.to_f64()) {
                Verdict::Equal
            } else {
                Verdict::Different
            }
        }
        (
            Seq {
                open: o1,
                close: c1,
                items: i1,
            },
            Seq {
                open: o2,
                close: c2,
                items: i2,
            },
        ) => {
            if o1 != o2 || c1 != c2 || i1.len() != i2.len() {
                return Verdict::Different;
            }
            ordered(&i1, &i2, depth, ctx)
        }
        (Matrix(r1), Matrix(r2)) => {
            if r1.len() != r2.len() || r1.iter().zip(&r2).any(|(x, y)| x.len() != y.len()) {
                return Verdict::Different;
            }
            let f1: Vec<&str> = r1.into_iter().flatten().collect();
            let f2: Vec<&str> = r2.into_iter().flatten().collect();
            ordered(&f1, &f2, depth, ctx)
        }
        (Unordered(k1, i1), Unordered(k2, i2)) => {
            let compatible =
                k1 == k2 || matches!((k1, k2), (Kind::Set, Kind::List) | (Kind::List, Kind::Set));
            if !compatible {
                return Verdict::Unknown;
            }
            unordered(&i1, &i2, depth, ctx)
        }
        // One symbolic side: exact algebra decides most; a CAS may still find them equal.
        (Atom(x), Atom(y)) => {
            if different_words(x, y) {
                Verdict::Different
            } else {
                numeric_fallback(tolerant(algebraic(x, y), a, b, ctx), x, y)
            }
        }
        (Atom(x), Num(_)) => {
            if is_phrase(x) {
                return Verdict::Different;
            }
            numeric_fallback(tolerant(algebraic(x, b), a, b, ctx), x, b)
        }
        (Num(_), Atom(y)) => {
            if is_phrase(y) {
                return Verdict::Different;
            }
            numeric_fallback(tolerant(algebraic(a, y), a, b, ctx), a, y)
        }
        (Atom(_), _) | (_, Atom(_)) => Verdict::Unknown,
        // A bare list next to a tuple may be a sloppy tuple.
        (Unordered(Kind::List, _), Seq { .. }) | (Seq { .. }, Unordered(Kind::List, _)) => {
            Verdict::Unknown
        }
        // Number vs collection, tuple vs set, matrix vs tuple: structurally different.
        _ => Verdict::Different,
    }
}

/// Whether two floating-point values are within the relative tolerance (never when it is 0).
fn within(rel_tol: f64, a: f64, b: f64) -> bool {
    rel_tol > 0.0
        && a.is_finite()
        && b.is_finite()
        && (a - b).abs() <= rel_tol * a.abs().max(b.abs())
}

/// A number against a constant expression under a tolerance: equal when their values are close.
fn tolerant(exact: Verdict, a: &str, b: &str, ctx: &Ctx) -> Verdict {
    if exact == Verdict::Equal || ctx.rel_tol == 0.0 {
        return exact;
    }
    match (algebra::numeric_value(a), algebra::numeric_value(b)) {
        (Some(x), Some(y)) if within(ctx.rel_tol, x, y) => Verdict::Equal,
        _ => exact,
    }
}

/// The operands and operators of `A \cup B \cap C \setminus D` when every operand is a finite
/// set written `\{...\}`, evaluated left to right into one set `\{...\}`. Elements are the
/// same when their normalised strings or exact values are equal.
fn set_operations(s: &str, ctx: &mut Ctx) -> Option<String> {
    if !s.starts_with("\\{")
        || !(s.contains("\\cup") || s.contains("\\cap") || s.contains("\\setminus"))
    {
        return None;
    }
    let mut operands: Vec<&str> = Vec::new();
    let mut ops: Vec<&str> = Vec::new();
    let bytes = s.as_bytes();
    let mut depth = 0i32;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if depth == 0 {
            if let Some(op) = ["\\cup", "\\cap", "\\setminus"]
                .into_iter()
                .find(|op| s[i..].starts_with(op))
            {
                operands.push(&s[start..i]);
                ops.push(op);
                i += op.len();
                start = i;
                continue;
            }
        }
        let (d, len) = bracket_step(bytes, i);
        depth += d;
        i += len;
    }
    operands.push(&s[start..]);
    if ops.is_empty() || operands.len() > 16 {
        return None;
    }
    let mut sets: Vec<Vec<&str>> = Vec::new();
    for operand in &operands {
        let inner = operand
            .strip_prefix("\\{")
            .and_then(|t| t.strip_suffix("\\}"))
            .filter(|_| closes_at_end(operand))?;
        let items: Vec<&str> = split_top(inner, ",")
            .into_iter()
            .filter(|x| !x.is_empty())
            .collect();
        if items.len() > MAX_ITEMS {
            return None;
        }
        sets.push(items);
    }
    let mut same = |x: &str, y: &str| -> Option<bool> {
        match compare_at(x, y, MAX_DEPTH, ctx) {
            Verdict::Equal => Some(true),
            Verdict::Different => Some(false),
            Verdict::Unknown => None,
        }
    };
    let mut acc: Vec<&str> = Vec::new();
    for x in &sets[0] {
        let mut dup = false;
        for y in &acc {
            if same(x, y)? {
                dup = true;
                break;
            }
        }
        if !dup {
            acc.push(x);
        }
    }
    for (op, set) in ops.iter().zip(&sets[1..]) {
        let mut member = |x: &str| -> Option<bool> {
            for y in set {
                if same(x, y)? {
                    return Some(true);
                }
            }
            Some(false)
        };
        match *op {
            "\\cup" => {
                let mut added = Vec::new();
                for y in set {
                    let mut dup = false;
                    for x in &acc {
                        if same(x, y)? {
                            dup = true;
                            break;
                        }
                    }
                    if !dup {
                        added.push(*y);
                    }
                }
                acc.extend(added);
            }
            "\\cap" => {
                let mut kept = Vec::new();
                for x in &acc {
                    if member(x)? {
                        kept.push(*x);
                    }
                }
                acc = kept;
            }
            _ => {
                let mut kept = Vec::new();
                for x in &acc {
                    if !member(x)? {
                        kept.push(*x);
                    }
                }
                acc = kept;
            }
        }
    }
    if acc.is_empty() {
        return Some("\\varnothing".to_string());
    }
    Some(format!("\\{{{}\\}}", acc.join(",")))
}

fn algebraic(a: &str, b: &str) -> Verdict {
    match algebra::equal(a, b) {
        Some(true) => Verdict::Equal,
        Some(false) => Verdict::Different,
        None => Verdict::Unknown,
    }
}

/// An undecided comparison of two constants whose values are clearly apart is "different"
/// (see [`numeric::clearly_different`]).
fn numeric_fallback(v: Verdict, a: &str, b: &str) -> Verdict {
    if v == Verdict::Unknown && numeric::clearly_different(a, b) {
        Verdict::Different
    } else {
        v
    }
}

/// Words of text (`cannotbedetermined`, `nomaximumvalue`): letters only, with a run of at least
/// three, so no product of variables; such an answer never equals a number.
fn is_phrase(s: &str) -> bool {
    s.len() >= 3 && s.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Two plain words (letters only) that no algebra can make equal: read as products of
/// symbols, they are equal only when they use the same letters (`xy` vs `yx`).
fn different_words(a: &str, b: &str) -> bool {
    let letters = |s: &str| -> Option<Vec<u8>> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        let mut v = s.as_bytes().to_vec();
        v.sort_unstable();
        Some(v)
    };
    match (letters(a), letters(b)) {
        (Some(x), Some(y)) => x != y,
        _ => false,
    }
}

/// Expands the one `\pm` (or `\mp`) of a single value into `a+b,a-b`.
fn expand_pm(s: &str) -> Option<String> {
    let mut found: Option<(usize, bool)> = None;
    for (pos, _) in s.match_indices('\\') {
        let rest = &s[pos + 1..];
        let plus_first = if rest.starts_with("pm") {
            true
        } else if rest.starts_with("mp") {
            false
        } else {
            continue;
        };
        if rest.as_bytes().get(2).is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        if found.is_some() {
            return None;
        }
        found = Some((pos, plus_first));
    }
    let (pos, plus_first) = found?;
    if split_top(s, ",").len() > 1 {
        return None;
    }
    let (pre, post) = (&s[..pos], &s[pos + 3..]);
    let (first, second) = if plus_first { ('+', '-') } else { ('-', '+') };
    Some(format!("{pre}{first}{post},{pre}{second}{post}"))
}

/// A `\pm` answer (expanded to `p,q`) against one value: when `p` and `q` are certainly
/// different values, no single value equals the pair.
fn two_values_vs_one(expanded: &str, single: &str, depth: usize, ctx: &mut Ctx) -> Option<Verdict> {
    if expand_pm(single).is_some() || !matches!(classify(single), Value::Num(_) | Value::Atom(_)) {
        return None;
    }
    let parts = split_top(expanded, ",");
    let [p, q] = parts.as_slice() else {
        return None;
    };
    (compare_at(p, q, depth + 1, ctx) == Verdict::Different).then_some(Verdict::Different)
}

/// `Some(true)` for `\infty`/`+\infty`, `Some(false)` for `-\infty`.
fn infinity_sign(s: &str) -> Option<bool> {
    match s {
        "\\infty" | "+\\infty" => Some(true),
        "-\\infty" => Some(false),
        _ => None,
    }
}

/// A value that is certainly finite: an exact number or an element of the exact algebra
/// (a polynomial is finite wherever its variables are).
fn is_finite(s: &str) -> bool {
    parse_number(s).is_some() || algebra::parse(s).is_some()
}

/// Infinities: equal when of the same sign; different from each other and from any finite
/// value.
fn infinity(a: &str, b: &str) -> Option<Verdict> {
    match (infinity_sign(a), infinity_sign(b)) {
        (Some(x), Some(y)) => Some(if x == y {
            Verdict::Equal
        } else {
            Verdict::Different
        }),
        (Some(_), None) => is_finite(b).then_some(Verdict::Different),
        (None, Some(_)) => is_finite(a).then_some(Verdict::Different),
        (None, None) => None,
    }
}

/// The parts of a ratio `a:b` (or `a:b:c`) of exact numbers.
fn ratio_parts(s: &str) -> Option<Vec<Rational>> {
    let parts = split_top(s, ":");
    if parts.len() < 2 || parts.len() > 16 {
        return None;
    }
    parts.iter().map(|p| parse_number(p.trim())).collect()
}

/// A clock time `h:mm` (the minutes written with two digits: `11:00`, `4:30`).
fn is_time(s: &str) -> bool {
    let parts = split_top(s, ":");
    matches!(parts.as_slice(), [h, m]
        if !h.is_empty() && h.len() <= 2 && h.bytes().all(|b| b.is_ascii_digit())
            && m.len() == 2 && m.bytes().all(|b| b.is_ascii_digit()))
}

/// Ratios compare by proportionality (`6:4` is `3:2`, `3:2` is not `2:3`); a two-part ratio
/// against a number compares as the quotient `a/b`. Clock times (`11:00`) and ratios with a
/// zero part (`0:3`) compare part by part, exactly: `11:00` is not `2:00`, `0:3` is not `0:8`.
fn ratio(a: &str, b: &str) -> Option<Verdict> {
    let decide = |eq: bool| {
        if eq {
            Verdict::Equal
        } else {
            Verdict::Different
        }
    };
    let times = is_time(a) || is_time(b);
    match (ratio_parts(a), ratio_parts(b)) {
        (Some(x), Some(y)) => {
            if x.len() != y.len() {
                return if times {
                    Some(Verdict::Different)
                } else {
                    None
                };
            }
            let zero = x.iter().chain(&y).any(Rational::is_zero);
            if times || zero {
                return Some(decide(x == y));
            }
            // Proportional: x_i·y_0 == y_i·x_0 (every part is non-zero here).
            for (xi, yi) in x.iter().zip(&y) {
                if xi.mul(y[0])? != yi.mul(x[0])? {
                    return Some(Verdict::Different);
                }
            }
            Some(Verdict::Equal)
        }
        _ if times => None,
        (Some(x), None) => ratio_vs_number(&x, b).map(decide),
        (None, Some(y)) => ratio_vs_number(&y, a).map(decide),
        (None, None) => None,
    }
}

fn ratio_vs_number(parts: &[Rational], other: &str) -> Option<bool> {
    let [p, q] = parts else {
        return None;
    };
    let n = parse_number(other)?;
    Some(p.div(*q)? == n)
}

/// `n!` or `\frac{1}{n!}` for a literal `n`: `(n, reciprocal)`.
fn factorial_form(s: &str) -> Option<(u32, bool)> {
    let (body, reciprocal) = match s.strip_prefix("\\frac{1}{") {
        Some(rest) => (rest.strip_suffix('}')?, true),
        None => (s, false),
    };
    let digits = body.strip_suffix('!')?;
    if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, reciprocal))
}

/// Factorials too large for exact numbers, compared by structure: `n!` is strictly
/// increasing for `n ≥ 1` (and `0! = 1! = 1`), and `n! > i128::MAX` for `n ≥ 34`, so neither
/// `n!` nor `1/n!` can equal an exact number of this module then.
fn factorial(a: &str, b: &str) -> Option<Verdict> {
    /// Smallest `n` with `n!` beyond `i128`.
    const BEYOND_I128: u32 = 34;
    match (factorial_form(a), factorial_form(b)) {
        (Some((n, r)), Some((m, s))) => {
            if n < BEYOND_I128 && m < BEYOND_I128 {
                return None;
            }
            // Both values are 1 only when n, m ≤ 1; at least one side is huge here.
            Some(if n == m && r == s {
                Verdict::Equal
            } else {
                Verdict::Different
            })
        }
        (Some((n, _)), None) if n >= BEYOND_I128 => parse_number(b).map(|_| Verdict::Different),
        (None, Some((m, _))) if m >= BEYOND_I128 => parse_number(a).map(|_| Verdict::Different),
        _ => None,
    }
}

fn ordered(a: &[&str], b: &[&str], depth: usize, ctx: &mut Ctx) -> Verdict {
    let mut all_equal = true;
    for (x, y) in a.iter().zip(b) {
        match compare_at(x, y, depth + 1, ctx) {
            Verdict::Different => return Verdict::Different,
            Verdict::Unknown => all_equal = false,
            Verdict::Equal => {}
        }
    }
    if all_equal {
        Verdict::Equal
    } else {
        Verdict::Unknown
    }
}

/// Order-free comparison. Equality of decided values is an equivalence, so greedy matching
/// on `Equal` finds a perfect matching when one exists among decided pairs.
fn unordered(a: &[&str], b: &[&str], depth: usize, ctx: &mut Ctx) -> Verdict {
    if a.len() > MAX_ITEMS || b.len() > MAX_ITEMS {
        return Verdict::Unknown;
    }
    let mut table = vec![Verdict::Unknown; a.len() * b.len()];
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            table[i * b.len() + j] = compare_at(x, y, depth + 1, ctx);
        }
    }
    let cell = |i: usize, j: usize| table[i * b.len() + j];
    // An element with no possible partner on the other side decides "different".
    let a_orphan = (0..a.len()).any(|i| (0..b.len()).all(|j| cell(i, j) == Verdict::Different));
    let b_orphan = (0..b.len()).any(|j| (0..a.len()).all(|i| cell(i, j) == Verdict::Different));
    if a_orphan || b_orphan {
        return Verdict::Different;
    }
    if a.len() == b.len() {
        let mut used = vec![false; b.len()];
        let mut matched = 0;
        for i in 0..a.len() {
            if let Some(j) = (0..b.len()).find(|&j| !used[j] && cell(i, j) == Verdict::Equal) {
                used[j] = true;
                matched += 1;
            }
        }
        if matched == a.len() {
            return Verdict::Equal;
        }
    }
    // Different sizes with every element matched: duplicates such as `1,1,2` vs `1,2`.
    Verdict::Unknown
}

fn classify(s: &str) -> Value<'_> {
    if let Some(rows) = matrix(s) {
        return Value::Matrix(rows);
    }
    let unions = split_top(s, "\\cup");
    if unions.len() > 1 {
        return Value::Unordered(Kind::Union, unions);
    }
    if let Some(inner) = s.strip_prefix("\\{").and_then(|t| t.strip_suffix("\\}")) {
        if closes_at_end(s) {
            let items = split_top(inner, ",");
            return Value::Unordered(Kind::Set, items);
        }
    }
    let bytes = s.as_bytes();
    if s.len() >= 2
        && matches!(bytes[0], b'(' | b'[')
        && matches!(bytes[s.len() - 1], b')' | b']')
        && closes_at_end(s)
    {
        let inner = &s[1..s.len() - 1];
        let items = split_top(inner, ",");
        if items.len() >= 2 {
            return Value::Seq {
                open: bytes[0],
                close: bytes[s.len() - 1],
                items,
            };
        }
        if bytes[0] == b'(' && bytes[s.len() - 1] == b')' {
            if let Some(r) = parse_number(inner) {
                return Value::Num(r);
            }
        }
        return Value::Atom(s);
    }
    let items = split_top(s, ",");
    if items.len() >= 2 {
        return Value::Unordered(Kind::List, items);
    }
    match parse_number(s) {
        Some(r) => Value::Num(r),
        None => Value::Atom(s),
    }
}

/// Bracket depth change of the token starting at `i`, and its length. `\{`/`\}` count as
/// brackets; other escaped characters are skipped.
fn bracket_step(bytes: &[u8], i: usize) -> (i32, usize) {
    match bytes[i] {
        b'\\' => match bytes.get(i + 1) {
            Some(b'{') => (1, 2),
            Some(b'}') => (-1, 2),
            Some(_) => (0, 2),
            None => (0, 1),
        },
        b'(' | b'[' | b'{' => (1, 1),
        b')' | b']' | b'}' => (-1, 1),
        _ => (0, 1),
    }
}

/// True when the bracket opened by the first character closes only at the last character.
fn closes_at_end(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut depth = 0i32;
    let mut i = 0;
    while i < bytes.len() {
        let (d, len) = bracket_step(bytes, i);
        depth += d;
        i += len;
        if depth <= 0 {
            return i == bytes.len() && depth == 0;
        }
    }
    false
}

/// Splits `s` on `sep` outside any brackets; a single part when there is none.
fn split_top<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    let bytes = s.as_bytes();
    let sep_b = sep.as_bytes();
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if depth == 0 && bytes[i..].starts_with(sep_b) {
            parts.push(&s[start..i]);
            i += sep_b.len();
            start = i;
            continue;
        }
        let (d, len) = bracket_step(bytes, i);
        depth += d;
        i += len;
    }
    parts.push(&s[start.min(s.len())..]);
    parts
}

/// `\begin{pmatrix}a&b\\c&d\end{pmatrix}` (also bmatrix/matrix/vmatrix) as rows of cells.
fn matrix(s: &str) -> Option<Vec<Vec<&str>>> {
    let rest = s.strip_prefix("\\begin{")?;
    let name_end = rest.find('}')?;
    let name = &rest[..name_end];
    if !matches!(name, "pmatrix" | "bmatrix" | "matrix" | "Bmatrix") {
        return None;
    }
    let body = rest[name_end + 1..].strip_suffix(&format!("\\end{{{name}}}"))?;
    if body.contains("\\begin{") {
        return None;
    }
    let rows: Vec<Vec<&str>> = body
        .split("\\\\")
        .filter(|r| !r.trim().is_empty())
        .map(|r| r.split('&').map(str::trim).collect())
        .collect();
    if rows.is_empty() {
        None
    } else {
        Some(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    #[test]
    fn comparison_table() {
        let cases: &[(&str, &str, Verdict)] = &[
            ("5", "5", Equal),
            ("0.5", "\\frac{1}{2}", Equal),
            ("1/2", "\\frac{1}{2}", Equal),
            ("0.333", "\\frac{1}{3}", Different),
            ("\\frac{1}{2^{99}}", "\\frac{1}{2^{98}}", Different),
            ("4", "5", Different),
            ("-5", "5", Different),
            ("(1,2)", "(1,2)", Equal),
            ("(1,\\frac{1}{2})", "(1,0.5)", Equal),
            ("(1,2)", "(2,1)", Different),
            ("[1,2]", "(1,2)", Different),
            ("[1,2)", "[1,2]", Different),
            ("(1,2,3)", "(1,2)", Different),
            ("(-\\infty,3]", "(-\\infty,3]", Equal),
            ("(3,\\frac{\\pi}{2})", "(3,\\frac{\\pi}{2})", Equal),
            ("(3,\\frac{\\pi}{2})", "(4,\\frac{\\pi}{2})", Different),
            ("(\\sqrt{2},1)", "(\\frac{2}{\\sqrt{2}},1)", Equal),
            ("(\\sin{x},1)", "(\\sin{x},1)", Equal),
            ("(\\sin{x},1)", "(\\cos{x},1)", Unknown),
            ("\\{1,2\\}", "\\{2,1\\}", Equal),
            ("\\{1,2\\}", "\\{1,3\\}", Different),
            ("1,-2", "-2,1", Equal),
            ("3,5,7", "7,5,3", Equal),
            ("1,2", "1,2,3", Different),
            ("\\{1,2\\}", "2,1", Equal),
            ("\\{1,2\\}", "(1,2)", Different),
            ("(1,2)", "1,2", Unknown),
            ("[1,2]\\cup[3,4]", "[3,4]\\cup[1,2]", Equal),
            ("[1,2]\\cup[3,4]", "[3,4]\\cup[1,2)", Different),
            (
                "\\begin{pmatrix}1\\\\2\\end{pmatrix}",
                "\\begin{pmatrix}1\\\\2\\end{pmatrix}",
                Equal,
            ),
            (
                "\\begin{pmatrix}1\\\\0.5\\end{pmatrix}",
                "\\begin{pmatrix}1\\\\\\frac{1}{2}\\end{pmatrix}",
                Equal,
            ),
            (
                "\\begin{pmatrix}1\\\\2\\end{pmatrix}",
                "\\begin{pmatrix}1\\\\3\\end{pmatrix}",
                Different,
            ),
            (
                "\\begin{pmatrix}1&2\\end{pmatrix}",
                "\\begin{pmatrix}1\\\\2\\end{pmatrix}",
                Different,
            ),
            ("\\sqrt{2}/2", "\\frac{\\sqrt{2}}{2}", Equal),
            ("2\\pi", "\\pi\\cdot2", Equal),
            ("3+4i", "4i+3", Equal),
            ("\\sin{x}", "\\cos{x}", Unknown),
            ("\\sqrt{4}", "2", Equal),
            ("5", "(1,2)", Different),
            ("a", "b", Different),
            ("evelyn", "bob", Different),
            ("odd", "even", Different),
            ("xy", "yx", Equal),
            ("x^2", "y", Different),
            ("(5)", "5", Equal),
            ("\\pm3", "3,-3", Equal),
            ("\\pm3", "\\{-3,3\\}", Equal),
            ("\\pm3", "3", Different),
            ("3\\pm2\\sqrt{2}", "3+2\\sqrt{2},3-2\\sqrt{2}", Equal),
            (
                "\\frac{1\\pm\\sqrt{5}}{2}",
                "\\frac{1-\\sqrt{5}}{2},\\frac{1+\\sqrt{5}}{2}",
                Equal,
            ),
            ("1\\pm\\sqrt{19}", "1", Different),
            ("\\pmatrix", "1", Unknown),
            ("3+2\\sqrt{2}", "3\\pm2\\sqrt{2}", Different),
            ("3-2\\sqrt{2}", "3\\pm2\\sqrt{2}", Different),
            ("x", "\\pm x", Different),
            ("x", "x\\pm0", Unknown),
            ("\\pm\\sqrt{2}", "-\\sqrt{2},\\sqrt{2}", Equal),
            ("\\infty", "\\infty", Equal),
            ("+\\infty", "\\infty", Equal),
            ("-\\infty", "\\infty", Different),
            ("100", "\\infty", Different),
            ("-100", "-\\infty", Different),
            ("\\sqrt{2}", "\\infty", Different),
            ("x+1", "\\infty", Different),
            ("\\sin x", "\\infty", Unknown),
            ("(-\\infty,3)", "(\\infty,3)", Different),
            ("3:2", "2:3", Different),
            ("6:4", "3:2", Equal),
            ("1.5:1", "3:2", Equal),
            ("3:2", "1.5", Equal),
            ("3:2", "\\frac{3}{2}", Equal),
            ("3:2", "2", Different),
            ("2:4:6", "1:2:3", Equal),
            ("2:4:6", "1:2:4", Different),
            ("1:2", "1:2:3", Unknown),
            ("0:0", "1:2", Different),
            ("0:1", "0:5", Different),
            ("0:3", "0:8", Different),
            ("0:3", "0:3", Equal),
            ("0:1", "1:0", Different),
            ("11:00", "2:00", Different),
            ("4:30", "9:60", Different),
            ("4:30", "4:30", Equal),
            ("11:00", "11", Unknown),
            ("\\{2,5\\}\\cup\\{7\\}", "\\{2,5,7\\}", Equal),
            ("\\{2,5\\}\\cup\\{7\\}", "\\{2,5\\}", Different),
            ("\\{1,2,3\\}\\cap\\{2,3,4\\}", "\\{2,3\\}", Equal),
            ("\\{1,2,3\\}\\setminus\\{2\\}", "1,3", Equal),
            ("\\{1,2\\}\\cap\\{3\\}", "\\varnothing", Equal),
            ("|-7|", "7", Equal),
            ("\\lfloor5.2\\rfloor", "5", Equal),
            ("\\lceil1.4\\rceil", "2", Equal),
            ("\\lceil1.4\\rceil", "1", Different),
            ("\\binom{5}{2}", "10", Equal),
            ("|1-\\sqrt{2}|", "\\sqrt{2}-1", Equal),
            ("\\sqrt{\\frac{17+\\sqrt{273}}{2}}", "4", Different),
            ("\\sqrt{5+2\\sqrt{6}}", "\\sqrt{2}+\\sqrt{3}", Unknown),
            ("\\frac{32}{3^{2/3}}", "2", Different),
            ("cannotbedetermined", "850", Different),
            ("xyz", "6", Different),
            ("\\frac{1}{2006!}", "\\frac{1}{2004!}", Different),
            ("\\frac{1}{2006!}", "\\frac{1}{2006!}", Equal),
            ("2006!", "\\frac{1}{2006!}", Different),
            ("2006!", "2004!", Different),
            ("100!", "0", Different),
            ("\\frac{1}{100!}", "0", Different),
            ("5!", "120", Equal),
            ("5!", "4!", Different),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare(a, b), *want, "{a:?} vs {b:?}");
            assert_eq!(compare(b, a), *want, "{b:?} vs {a:?} (swapped)");
        }
    }

    #[test]
    fn large_and_deep_inputs_are_bounded() {
        let many = vec!["1"; 100_000].join(",");
        let _ = compare(&many, &many.replace('1', "2"));
        let nested = "(".repeat(5_000) + &")".repeat(5_000);
        let _ = compare(&nested, "1");
        let sets = "\\{".repeat(5_000) + "1,2" + &"\\}".repeat(5_000);
        let _ = compare(&sets, &sets.replace('1', "3"));
        let tuple_tree = "(1,".repeat(2_000) + "1" + &")".repeat(2_000);
        let _ = compare(&tuple_tree, &tuple_tree.replace('1', "2"));
        for s in [
            "\\",
            "(",
            ")",
            "\\{",
            "\\}",
            "\\begin{pmatrix}",
            ",",
            "\\cup",
            "é,é",
        ] {
            let _ = compare(s, "1");
            let _ = compare("1", s);
        }
    }
}
