//! Comparing a program's output with the expected output.
//!
//! Deliberately strict (never set-, prefix- or case-based, the leniencies that make other
//! harnesses accept wrong answers):
//!
//! * stdout: lines compared exactly after removing trailing whitespace on each line and trailing
//!   blank lines; where a line differs, it is split on single whitespace characters and tokens
//!   compared one by one, with a numeric tolerance only where the *expected* token is a
//!   floating-point literal (`1.5`, `2e-3`). Integers and words must match exactly.
//! * return values: structural JSON equality with Python `==` semantics for the cases that
//!   matter (tuples were serialised as lists, `True == 1`, `2 == 2.0`), integers exact at any
//!   size, floats within 1e-6 (absolute or relative).

use super::json::Json;

/// Absolute and relative tolerance for floating-point values.
pub const FLOAT_TOLERANCE: f64 = 1e-6;

/// Compares stdout with the expected output. `Err` carries a short description of the first
/// difference.
pub fn compare_stdout(got: &str, expected: &str) -> Result<(), String> {
    let got_lines = normalized_lines(got);
    let exp_lines = normalized_lines(expected);
    for (i, (g, e)) in got_lines.iter().zip(&exp_lines).enumerate() {
        if g != e && !tokens_match(g, e) {
            return Err(format!(
                "line {}: expected {}, got {}",
                i + 1,
                excerpt(e),
                excerpt(g)
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
                excerpt(exp_lines[n])
            )
        } else {
            format!(
                "output has {} lines, expected {}; extra line {}: {}",
                got_lines.len(),
                exp_lines.len(),
                n + 1,
                excerpt(got_lines[n])
            )
        });
    }
    Ok(())
}

fn normalized_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.split('\n').map(str::trim_end).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

fn tokens_match(got: &str, expected: &str) -> bool {
    let g: Vec<&str> = got.split(char::is_whitespace).collect();
    let e: Vec<&str> = expected.split(char::is_whitespace).collect();
    g.len() == e.len()
        && g.iter().zip(&e).all(|(g, e)| {
            g == e
                || (is_float_literal(e)
                    && is_numeric_literal(g)
                    && match (g.parse::<f64>(), e.parse::<f64>()) {
                        (Ok(x), Ok(y)) => floats_close(x, y),
                        _ => false,
                    })
        })
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

/// Compares a returned value with the expected one, also accepting the expected value unwrapped
/// from a one-element list (APPS stores many call-based outputs as `[value]`).
pub fn compare_value(got: &Json, expected: &Json) -> Result<(), String> {
    if values_equal(got, expected) {
        return Ok(());
    }
    if let Json::Arr(items) = expected {
        if items.len() == 1 && values_equal(got, &items[0]) {
            return Ok(());
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

/// Integers compare exactly at any size; anything involving a float compares with tolerance.
fn numbers_equal(x: &str, y: &str) -> bool {
    if is_integer_text(x) && is_integer_text(y) {
        return canonical_integer(x) == canonical_integer(y);
    }
    match (x.parse::<f64>(), y.parse::<f64>()) {
        (Ok(a), Ok(b)) => floats_close(a, b),
        _ => x == y,
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
    fn stdout_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("1\n6\n-1\n", "1\n6\n-1\n", true),
            ("1\n6\n-1", "1\n6\n-1\n", true),
            ("1  \n6\t\n-1\n\n\n", "1\n6\n-1\n", true),
            ("1\r\n6\r\n", "1\n6\n", true),
            ("Yes\n", "yes\n", false),
            ("1\n6\n", "1\n6\n-1\n", false), // prefix is not enough
            ("1\n6\n-1\n7\n", "1\n6\n-1\n", false), // extra lines are wrong
            ("NO\nYES\nYES\n", "YES\nNO\nYES\n", false), // same multiset, wrong order
            ("Christmas Eve\n", "Christmas Eve Eve Eve\n", false),
            (" 5\n", "5\n", false),     // leading whitespace matters
            ("1 2\n", "1  2\n", false), // inner spacing matters
            ("", "\n", true),
            ("", "0\n", false),
            ("0.5000001\n", "0.5\n", true), // float tolerance
            ("0.50001\n", "0.5\n", false),
            ("1.0\n", "1\n", false), // expected integer: exact
            ("3\n", "3.0\n", true),  // expected float: numeric
            ("2.0000000001 7\n", "2.0 7\n", true),
            ("2.0 8\n", "2.0 7\n", false),
            ("1e9\n", "1000000000.0\n", true),
            ("1000000.5\n", "1000000.0\n", true), // relative 5e-7
            ("1000002.0\n", "1000000.0\n", false),
            ("100000000.01\n", "100000000.00\n", true), // relative 1e-6
            ("nan\n", "0.5\n", false),
            ("inf\n", "1e400\n", false),
        ];
        for (got, expected, ok) in cases {
            assert_eq!(
                compare_stdout(got, expected).is_ok(),
                *ok,
                "got {got:?} expected {expected:?}"
            );
        }
    }

    #[test]
    fn value_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("9", "9", true),
            ("9", "[9]", true), // APPS wraps outputs in a list
            ("[9]", "[9]", true),
            ("[[1,2]]", "[[1,2]]", true),
            ("[1,2]", "[[1,2]]", true),
            ("[1,2]", "[1,2,3]", false),
            ("[1,2,3]", "[1,2]", false),
            ("[9,9]", "[9]", false),
            ("true", "[true]", true),
            ("1", "true", true), // Python: 1 == True
            ("2", "true", false),
            ("false", "[false]", true),
            ("null", "null", true),
            ("null", "[null]", true),
            ("0", "null", false),
            ("\"abc\"", "\"abc\"", true),
            ("\"abc\"", "\"ABC\"", false),
            ("2.0", "2", true),
            ("0.30000000000000004", "0.3", true),
            ("0.31", "0.3", false),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567891",
                false,
            ),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
                true,
            ),
            ("-0", "0", true),
            ("{\"a\":1,\"b\":[1,2]}", "{\"b\":[1,2],\"a\":1}", true),
            ("{\"a\":1}", "{\"a\":1,\"b\":2}", false),
            ("NaN", "NaN", true),
            ("Infinity", "1e308", false),
        ];
        for (got, expected, ok) in cases {
            let g = parse(got).unwrap();
            let e = parse(expected).unwrap();
            assert_eq!(
                compare_value(&g, &e).is_ok(),
                *ok,
                "got {got} expected {expected}"
            );
        }
    }

    #[test]
    fn messages_are_short() {
        let long = "x".repeat(10_000);
        let err = compare_stdout(&long, "y").unwrap_err();
        assert!(err.len() < 300, "{err}");
    }
}
