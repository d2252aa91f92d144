//! Comparing a program's output with the expected output, under a named judge mode.
//!
//! The mode is named in the tests' `judge` key (see [`Judge`]); a spec without one is judged
//! by [`Judge::Lines`]. No mode is set-, prefix- or case-based, the leniencies that make other
//! harnesses accept wrong answers.
//!
//! * `exact`: the output equals the expected text byte for byte.
//! * `lines`: both texts are cut into lines after removing the whitespace around the whole
//!   text; each line is compared as its sequence of whitespace-separated tokens, so the
//!   spacing inside a line and a `\r` before a line end do not matter but line breaks do.
//!   Tokens compare as strings.
//! * `lines+float`: as `lines`, with numeric tokens compared by value (see below).
//! * `tokens`: the whole output as one sequence of whitespace-separated tokens (line breaks are
//!   whitespace); tokens compare as strings.
//! * `tokens+float`: as `tokens`, with numeric tokens compared by value.
//! * `apps`: output as `lines+float`; a returned value may also equal the expected value
//!   unwrapped from a one-element list (APPS stores many call-based outputs as `[value]`).
//!
//! Numeric tokens (digits with an optional sign, decimal point and exponent; never `inf` or
//! `nan`), where at least one of the two has a decimal point or an exponent, match when their
//! decimal values are equal (`1.0` and `1`, `1e9` and `1000000000`), or, where the *expected*
//! token has a point or an exponent, when they agree within [`FLOAT_TOLERANCE`] (absolute or
//! relative). Two integers match only as text (`007` is not `7`), and an expected token with a
//! leading zero (`0110`) is a string of digits: a binary string is never compared by value.
//!
//! Returned values (call-based tests) compare structurally in every mode: Python `==`
//! semantics for the cases that matter (tuples were serialised as lists, `True == 1`,
//! `2 == 2.0`), integers exact at any size (a float against an integer too: `1e20` is not
//! `10**20 + 1`), two floats within [`FLOAT_TOLERANCE`].

use super::json::Json;

/// Absolute and relative tolerance for floating-point values.
pub const FLOAT_TOLERANCE: f64 = 1e-6;

/// How a program's output is compared with the expected output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Judge {
    Exact,
    Lines,
    LinesFloat,
    Tokens,
    TokensFloat,
    Apps,
}

impl Judge {
    /// Every mode, in the order the documentation lists them.
    pub const ALL: [Judge; 6] = [
        Judge::Exact,
        Judge::Lines,
        Judge::LinesFloat,
        Judge::Tokens,
        Judge::TokensFloat,
        Judge::Apps,
    ];

    /// The mode of a spec that names none: line by line, tokens as strings.
    pub const DEFAULT: Judge = Judge::Lines;

    /// The mode's name in the tests' `judge` key.
    pub fn name(self) -> &'static str {
        match self {
            Judge::Exact => "exact",
            Judge::Lines => "lines",
            Judge::LinesFloat => "lines+float",
            Judge::Tokens => "tokens",
            Judge::TokensFloat => "tokens+float",
            Judge::Apps => "apps",
        }
    }

    /// The mode called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Judge> {
        Judge::ALL.into_iter().find(|j| j.name() == name)
    }

    /// Whether a returned value may also match the expected value unwrapped from a
    /// one-element list (APPS's rule).
    pub fn unwraps_singletons(self) -> bool {
        self == Judge::Apps
    }

    fn numeric(self) -> bool {
        matches!(self, Judge::LinesFloat | Judge::TokensFloat | Judge::Apps)
    }
}

/// Compares a program's stdout with the expected output under `judge`. `Err` carries a short
/// description of the first difference.
pub fn compare_output(judge: Judge, got: &str, expected: &str) -> Result<(), String> {
    match judge {
        Judge::Exact => compare_exact(got, expected),
        Judge::Lines | Judge::LinesFloat | Judge::Apps => {
            compare_lines(got, expected, judge.numeric())
        }
        Judge::Tokens | Judge::TokensFloat => compare_tokens(got, expected, judge.numeric()),
    }
}

fn compare_exact(got: &str, expected: &str) -> Result<(), String> {
    if got == expected {
        return Ok(());
    }
    let at = got
        .char_indices()
        .zip(expected.chars())
        .find(|((_, g), e)| g != e)
        .map_or(got.len().min(expected.len()), |((i, _), _)| i);
    let line = got[..at.min(got.len())].matches('\n').count() + 1;
    let rest = |s: &str| excerpt(s.get(at..).unwrap_or(""));
    Err(format!(
        "differs at character {} (line {line}): expected {}, got {}",
        got[..at].chars().count() + 1,
        rest(expected),
        rest(got)
    ))
}

/// The lines of `text` (whitespace around the whole text removed), each as its tokens.
fn token_lines(text: &str) -> Vec<Vec<&str>> {
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    text.split('\n')
        .map(|l| l.split_whitespace().collect())
        .collect()
}

fn compare_lines(got: &str, expected: &str, numeric: bool) -> Result<(), String> {
    let got_lines = token_lines(got);
    let exp_lines = token_lines(expected);
    for (i, (g, e)) in got_lines.iter().zip(&exp_lines).enumerate() {
        let same = g.len() == e.len() && g.iter().zip(e).all(|(g, e)| tokens_equal(g, e, numeric));
        if !same {
            return Err(format!(
                "line {}: expected {}, got {}",
                i + 1,
                excerpt(&e.join(" ")),
                excerpt(&g.join(" "))
            ));
        }
    }
    if got_lines.len() != exp_lines.len() {
        let n = got_lines.len().min(exp_lines.len());
        return Err(if got_lines.len() < exp_lines.len() {
            format!(
                "output has {} lines, expected {}; missing line {}: {}",
                got_lines.len(),
                exp_lines.len(),
                n + 1,
                excerpt(&exp_lines[n].join(" "))
            )
        } else {
            format!(
                "output has {} lines, expected {}; extra line {}: {}",
                got_lines.len(),
                exp_lines.len(),
                n + 1,
                excerpt(&got_lines[n].join(" "))
            )
        });
    }
    Ok(())
}

fn compare_tokens(got: &str, expected: &str, numeric: bool) -> Result<(), String> {
    let mut g = got.split_whitespace();
    let mut e = expected.split_whitespace();
    let mut index = 0usize;
    loop {
        index += 1;
        match (g.next(), e.next()) {
            (None, None) => return Ok(()),
            (Some(gt), Some(et)) => {
                if !tokens_equal(gt, et, numeric) {
                    return Err(format!(
                        "token {index}: expected {}, got {}",
                        excerpt(et),
                        excerpt(gt)
                    ));
                }
            }
            (None, Some(et)) => {
                return Err(format!(
                    "output has {} tokens, expected {}; missing token {index}: {}",
                    index - 1,
                    index + e.count(),
                    excerpt(et)
                ))
            }
            (Some(gt), None) => {
                return Err(format!(
                    "output has {} tokens, expected {}; extra token {index}: {}",
                    index + g.count(),
                    index - 1,
                    excerpt(gt)
                ))
            }
        }
    }
}

fn tokens_equal(got: &str, expected: &str, numeric: bool) -> bool {
    got == expected || (numeric && numbers_match(got, expected))
}

/// Two numeric tokens with the same decimal value, or within the tolerance where the expected
/// token is written as a float. Two integer tokens only match as text (`007` is not `7`, `-0`
/// is not `0`), and an expected token with a leading zero (`0110`) is a string of digits.
fn numbers_match(got: &str, expected: &str) -> bool {
    if !(is_float_literal(got) || is_float_literal(expected)) || has_leading_zero(expected) {
        return false;
    }
    let (Some(g), Some(e)) = (Decimal::parse(got), Decimal::parse(expected)) else {
        return false;
    };
    if g == e {
        return true;
    }
    is_float_literal(expected)
        && match (got.parse::<f64>(), expected.parse::<f64>()) {
            (Ok(x), Ok(y)) => floats_close(x, y),
            _ => false,
        }
}

/// The exact value of a numeric literal: `digits × 10^exponent`, digits without leading or
/// trailing zeros (zero is `+, "", 0`).
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: String,
    exponent: i64,
}

impl Decimal {
    fn parse(tok: &str) -> Option<Decimal> {
        if !is_numeric_literal(tok) {
            return None;
        }
        let negative = tok.starts_with('-');
        let body = tok.strip_prefix(['-', '+']).unwrap_or(tok);
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], body[i + 1..].parse::<i64>().ok()?),
            None => (body, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all: String = format!("{int_part}{frac_part}");
        let frac_len = i64::try_from(frac_part.len()).ok()?;
        let lead = all.trim_start_matches('0');
        let digits = lead.trim_end_matches('0');
        if digits.is_empty() {
            return Some(Decimal {
                negative: false,
                digits: String::new(),
                exponent: 0,
            });
        }
        let trailing = i64::try_from(lead.len() - digits.len()).ok()?;
        Some(Decimal {
            negative,
            digits: digits.to_string(),
            exponent: exponent.checked_sub(frac_len)?.checked_add(trailing)?,
        })
    }
}

/// A decimal number written with digits, optional sign, point and exponent (no `inf`/`nan`).
fn is_numeric_literal(tok: &str) -> bool {
    let body = tok.strip_prefix(['-', '+']).unwrap_or(tok);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((a, b)) => (a, b),
        None => (mantissa, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = all_digits(int_part)
        && all_digits(frac_part)
        && (!int_part.is_empty() || !frac_part.is_empty());
    let exponent_ok = exponent.is_none_or(|x| {
        let x = x.strip_prefix(['-', '+']).unwrap_or(x);
        !x.is_empty() && all_digits(x)
    });
    mantissa_ok && exponent_ok
}

/// An integer part written with a superfluous leading zero (`0110`, `-01.5`; not `0` or `0.5`).
fn has_leading_zero(tok: &str) -> bool {
    let body = tok.strip_prefix(['-', '+']).unwrap_or(tok);
    let int_part = body.split(['.', 'e', 'E']).next().unwrap_or("");
    int_part.len() > 1 && int_part.starts_with('0')
}

/// A numeric literal with a decimal point or an exponent.
fn is_float_literal(tok: &str) -> bool {
    is_numeric_literal(tok) && tok.contains(['.', 'e', 'E'])
}

/// Whether two floats agree within [`FLOAT_TOLERANCE`] (absolute or relative).
pub fn floats_close(x: f64, y: f64) -> bool {
    if x.is_nan() || y.is_nan() {
        return x.is_nan() && y.is_nan();
    }
    if x.is_infinite() || y.is_infinite() {
        return x == y;
    }
    let diff = (x - y).abs();
    diff <= FLOAT_TOLERANCE || diff <= FLOAT_TOLERANCE * x.abs().max(y.abs())
}

/// Compares a returned value with the expected one under `judge`: structurally, and for
/// [`Judge::Apps`] also against the expected value unwrapped from a one-element list.
pub fn compare_value(judge: Judge, got: &Json, expected: &Json) -> Result<(), String> {
    if values_equal(got, expected) {
        return Ok(());
    }
    if judge.unwraps_singletons() {
        if let Json::Arr(items) = expected {
            if items.len() == 1 && values_equal(got, &items[0]) {
                return Ok(());
            }
        }
    }
    Err(format!(
        "expected {}, got {}",
        excerpt(&expected.to_json()),
        excerpt(&got.to_json())
    ))
}

/// Structural equality; see the module documentation.
pub fn values_equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Null, Json::Null) => true,
        (Json::Bool(x), Json::Bool(y)) => x == y,
        (Json::Bool(x), Json::Num(n)) | (Json::Num(n), Json::Bool(x)) => {
            // Python: True == 1 and False == 0 (also 1.0).
            numbers_equal(n, if *x { "1" } else { "0" })
        }
        (Json::Num(x), Json::Num(y)) => numbers_equal(x, y),
        (Json::Str(x), Json::Str(y)) => x == y,
        (Json::Arr(x), Json::Arr(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b))
        }
        (Json::Obj(x), Json::Obj(y)) => {
            let keys_x = distinct_keys(x);
            let keys_y = distinct_keys(y);
            keys_x.len() == keys_y.len()
                && keys_x.iter().all(|k| match (a.get(k), b.get(k)) {
                    (Some(va), Some(vb)) => values_equal(va, vb),
                    _ => false,
                })
        }
        _ => false,
    }
}

fn distinct_keys(members: &[(String, Json)]) -> Vec<&str> {
    let mut keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn is_integer_text(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit())
}

/// Integers compare exactly at any size, and so does a float against an integer (as Python's
/// `==`: `2.0 == 2`, but `1e20` is not `10**20 + 1`); two floats compare with tolerance.
fn numbers_equal(x: &str, y: &str) -> bool {
    match (is_integer_text(x), is_integer_text(y)) {
        (true, true) => canonical_integer(x) == canonical_integer(y),
        (false, true) => float_equals_integer(x, y),
        (true, false) => float_equals_integer(y, x),
        (false, false) => match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(a), Ok(b)) => floats_close(a, b),
            _ => x == y,
        },
    }
}

/// Whether the float written `float` has exactly the integer value written `int`.
fn float_equals_integer(float: &str, int: &str) -> bool {
    match float.parse::<f64>() {
        Ok(v) if v.is_finite() && v.fract() == 0.0 => {
            // Every integral f64 prints exactly with no fractional digits.
            let exact = format!("{v:.0}");
            canonical_integer(&exact) == canonical_integer(int)
        }
        _ => false,
    }
}

fn canonical_integer(s: &str) -> (bool, &str) {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        (false, "0")
    } else {
        (negative, digits)
    }
}

/// A short, quoted excerpt of `s` for messages.
pub fn excerpt(s: &str) -> String {
    const MAX: usize = 80;
    let mut out: String = s.chars().take(MAX).collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    format!("{out:?}")
}

#[cfg(test)]
mod tests {
    use super::super::json::parse;
    use super::*;

    #[test]
    fn a_float_against_an_integer_is_exact() {
        let v = |t: &str| parse(t).unwrap();
        assert!(values_equal(&v("2.0"), &v("2")));
        assert!(values_equal(&v("1e20"), &v("100000000000000000000")));
        assert!(!values_equal(&v("1e20"), &v("100000000000000000001")));
        assert!(!values_equal(&v("100000000000000000001"), &v("1e20")));
        assert!(!values_equal(&v("2.9999999"), &v("3")));
        assert!(!values_equal(&v("-0.5"), &v("0")));
        assert!(values_equal(&v("-0.0"), &v("0")));
        assert!(values_equal(&v("0.30000000000000004"), &v("0.3")));
        assert!(!values_equal(&v("Infinity"), &v("1")));
    }

    /// `(got, expected, [exact, lines, lines+float, tokens, tokens+float, apps])`.
    const TABLE: &[(&str, &str, [bool; 6])] = &[
        ("1\n6\n-1\n", "1\n6\n-1\n", [true; 6]),
        (
            "1\n6\n-1",
            "1\n6\n-1\n",
            [false, true, true, true, true, true],
        ),
        (
            "1  \n6\t\n-1\n\n\n",
            "1\n6\n-1\n",
            [false, true, true, true, true, true],
        ),
        (
            "1\r\n6\r\n",
            "1\n6\n",
            [false, true, true, true, true, true],
        ),
        ("Yes\n", "yes\n", [false; 6]),       // case always matters
        ("1\n6\n", "1\n6\n-1\n", [false; 6]), // a prefix is not enough
        ("1\n6\n-1\n7\n", "1\n6\n-1\n", [false; 6]), // extra output is wrong
        ("NO\nYES\nYES\n", "YES\nNO\nYES\n", [false; 6]), // same multiset, wrong order
        ("Christmas Eve\n", "Christmas Eve Eve Eve\n", [false; 6]),
        (" 5\n", "5\n", [false, true, true, true, true, true]), // leading spaces
        ("1  2\n", "1 2\n", [false, true, true, true, true, true]), // inner spacing
        ("1\n2\n", "1 2\n", [false, false, false, true, true, false]), // line breaks
        (
            "1 2\n\n3\n",
            "1 2\n3\n",
            [false, false, false, true, true, false],
        ), // inner blank line
        ("\n\n5\n", "5\n", [false, true, true, true, true, true]), // blank lines around
        ("", "\n", [false, true, true, true, true, true]),
        ("", "0\n", [false; 6]),
        ("1.0\n", "1\n", [false, false, true, false, true, true]), // equal decimal values
        (
            "1e9\n",
            "1000000000\n",
            [false, false, true, false, true, true],
        ),
        ("-0\n", "0\n", [false; 6]), // integers match as text
        ("+5\n", "5\n", [false; 6]),
        ("007\n", "7\n", [false; 6]),
        ("110\n", "0110\n", [false; 6]), // a string of digits
        ("110.0\n", "0110\n", [false; 6]),
        ("7.0\n", "007\n", [false; 6]),
        ("-0.0\n", "0\n", [false, false, true, false, true, true]),
        ("0.50\n", "0.5\n", [false, false, true, false, true, true]),
        ("5\n", "5.000\n", [false, false, true, false, true, true]),
        ("8\n", "7\n", [false; 6]),
        ("1.0000001\n", "1\n", [false; 6]), // an expected integer is exact
        (
            "0.5000001\n",
            "0.5\n",
            [false, false, true, false, true, true],
        ), // tolerance
        ("0.50001\n", "0.5\n", [false; 6]),
        ("3\n", "3.0\n", [false, false, true, false, true, true]),
        (
            "2.0000000001 7\n",
            "2.0 7\n",
            [false, false, true, false, true, true],
        ),
        ("2.0 8\n", "2.0 7\n", [false; 6]),
        (
            "1e9\n",
            "1000000000.0\n",
            [false, false, true, false, true, true],
        ),
        (
            "1000000.5\n",
            "1000000.0\n",
            [false, false, true, false, true, true],
        ), // 5e-7
        ("1000002.0\n", "1000000.0\n", [false; 6]),
        (
            "100000000.01\n",
            "100000000.00\n",
            [false, false, true, false, true, true],
        ),
        ("nan\n", "0.5\n", [false; 6]),
        ("inf\n", "1e400\n", [false; 6]),
        ("0x10\n", "16\n", [false; 6]), // not a decimal literal
        (
            "123456789012345678901234567890\n",
            "123456789012345678901234567891\n",
            [false; 6],
        ),
        ("abc", "abc", [true; 6]),
        ("abc\n", "abc", [false, true, true, true, true, true]),
    ];

    #[test]
    fn output_table() {
        for (got, expected, want) in TABLE {
            for (judge, ok) in Judge::ALL.into_iter().zip(want) {
                assert_eq!(
                    compare_output(judge, got, expected).is_ok(),
                    *ok,
                    "{}: got {got:?} expected {expected:?}",
                    judge.name()
                );
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for judge in Judge::ALL {
            assert_eq!(Judge::from_name(judge.name()), Some(judge));
        }
        assert_eq!(Judge::from_name("token"), None);
        assert_eq!(Judge::from_name("LINES"), None);
        assert_eq!(Judge::DEFAULT, Judge::Lines);
    }

    #[test]
    fn decimal_values() {
        let same = [
            ("1", "1.000"),
            ("1.5e3", "1500"),
            ("0.001", "1e-3"),
            ("+2", "2"),
            ("-0.0", "0"),
            ("120", "1.2e2"),
        ];
        for (a, b) in same {
            assert_eq!(Decimal::parse(a), Decimal::parse(b), "{a} {b}");
            assert!(Decimal::parse(a).is_some());
        }
        for (a, b) in [("1", "-1"), ("12", "120"), ("1e5", "1e6"), ("0.1", "0.01")] {
            assert_ne!(Decimal::parse(a), Decimal::parse(b), "{a} {b}");
        }
        for bad in [
            "",
            "-",
            ".",
            "1e",
            "e5",
            "1.2.3",
            "inf",
            "nan",
            "1_000",
            "1e99999999999999999999",
        ] {
            assert_eq!(Decimal::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn value_table() {
        // (got, expected, strict, apps)
        let cases: &[(&str, &str, bool, bool)] = &[
            ("9", "9", true, true),
            ("9", "[9]", false, true), // APPS wraps outputs in a list
            ("5", "[5]", false, true),
            ("[\"a\"]", "[[\"a\"]]", false, true),
            ("[9]", "[9]", true, true),
            ("[[1,2]]", "[[1,2]]", true, true),
            ("[1,2]", "[[1,2]]", false, true),
            ("[1,2]", "[1,2,3]", false, false),
            ("[1,2,3]", "[1,2]", false, false),
            ("[9,9]", "[9]", false, false),
            ("true", "[true]", false, true),
            ("1", "true", true, true), // Python: 1 == True
            ("2", "true", false, false),
            ("null", "null", true, true),
            ("null", "[null]", false, true),
            ("0", "null", false, false),
            ("\"abc\"", "\"abc\"", true, true),
            ("\"abc\"", "\"ABC\"", false, false),
            ("2.0", "2", true, true),
            ("0.30000000000000004", "0.3", true, true),
            ("0.31", "0.3", false, false),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567891",
                false,
                false,
            ),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
                true,
                true,
            ),
            ("-0", "0", true, true),
            ("{\"a\":1,\"b\":[1,2]}", "{\"b\":[1,2],\"a\":1}", true, true),
            ("{\"a\":1}", "{\"a\":1,\"b\":2}", false, false),
            ("NaN", "NaN", true, true),
            ("Infinity", "1e308", false, false),
        ];
        for (got, expected, strict, apps) in cases {
            let g = parse(got).unwrap();
            let e = parse(expected).unwrap();
            for judge in Judge::ALL {
                let want = if judge == Judge::Apps { *apps } else { *strict };
                assert_eq!(
                    compare_value(judge, &g, &e).is_ok(),
                    want,
                    "{}: got {got} expected {expected}",
                    judge.name()
                );
            }
        }
    }

    #[test]
    fn messages_are_short() {
        let long = "x".repeat(10_000);
        for judge in Judge::ALL {
            let err = compare_output(judge, &long, "y").unwrap_err();
            assert!(err.len() < 300, "{err}");
            let err = compare_output(judge, "y", &long).unwrap_err();
            assert!(err.len() < 300, "{err}");
        }
        let err = compare_output(Judge::Exact, "abc\nxyz", "abc\nxy").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        let err = compare_output(Judge::Tokens, "1 2 3", "1 2 4").unwrap_err();
        assert!(err.contains("token 3"), "{err}");
    }
}
