//! Reading the child's results as Python literals instead of JSON.
//!
//! Importing `json` costs a fresh child about 7 ms per case (it pulls in `re` and `enum`), more
//! than the rest of a trivial call-based run. The return value is sent back as `repr()` of plain
//! values (no import needed) and parsed here into [`Json`]; requests go the other way in
//! marshal format ([`super::marshal`]).

use super::json::Json;
use super::scan::Cursor;

/// Parses the `repr()` of a plain Python value (None, bool, int, float, str, list, dict) into
/// [`Json`]. Floats `inf`/`nan` become `Infinity`/`NaN` numbers; lone surrogates become U+FFFD.
pub fn parse_repr(text: &str) -> Result<Json, String> {
    Cursor::new(text).document(WS, |c| value(c, 0))
}

const WS: &[u8] = b" ";

fn seq(c: &mut Cursor, close: u8, depth: usize, dict: bool) -> Result<Json, String> {
    c.i += 1;
    let mut items = Vec::new();
    let mut members = Vec::new();
    c.skip(WS);
    if c.peek() != Some(close) {
        loop {
            c.skip(WS);
            if dict {
                let key = match value(c, depth + 1)? {
                    Json::Str(k) => k,
                    _ => return Err(c.err("dict key is not a string")),
                };
                c.skip(WS);
                if !c.eat(":") {
                    return Err(c.err("expected ':'"));
                }
                c.skip(WS);
                members.push((key, value(c, depth + 1)?));
            } else {
                items.push(value(c, depth + 1)?);
            }
            c.skip(WS);
            if !c.eat(",") {
                break;
            }
        }
    }
    c.skip(WS);
    if c.peek() != Some(close) {
        return Err(c.err("unterminated container"));
    }
    c.i += 1;
    Ok(if dict {
        Json::Obj(members)
    } else {
        Json::Arr(items)
    })
}

fn value(c: &mut Cursor, depth: usize) -> Result<Json, String> {
    c.check_depth(depth)?;
    match c.peek() {
        None => Err(c.err("unexpected end")),
        Some(b'[') => seq(c, b']', depth, false),
        Some(b'{') => seq(c, b'}', depth, true),
        Some(b'\'' | b'"') => string(c).map(Json::Str),
        Some(_) if c.eat("None") => Ok(Json::Null),
        Some(_) if c.eat("True") => Ok(Json::Bool(true)),
        Some(_) if c.eat("False") => Ok(Json::Bool(false)),
        Some(_) if c.eat("nan") => Ok(Json::Num("NaN".into())),
        Some(_) if c.eat("inf") => Ok(Json::Num("Infinity".into())),
        Some(_) if c.eat("-inf") => Ok(Json::Num("-Infinity".into())),
        Some(b'-' | b'0'..=b'9') => c.number(),
        Some(_) => Err(c.err("unexpected character")),
    }
}

fn string(c: &mut Cursor) -> Result<String, String> {
    let quote = c.s[c.i];
    c.i += 1;
    let mut out = String::new();
    while let Some(e) = c.string_run(quote, false, &mut out)? {
        let ch = match e {
            b'\\' => '\\',
            b'\'' => '\'',
            b'"' => '"',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'a' => '\u{7}',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'v' => '\u{b}',
            b'0' => '\0',
            b'x' => char::from_u32(c.hex(2)?).unwrap_or('\u{FFFD}'),
            b'u' => char::from_u32(c.hex(4)?).unwrap_or('\u{FFFD}'),
            b'U' => char::from_u32(c.hex(8)?).unwrap_or('\u{FFFD}'),
            _ => return Err(c.err("bad escape")),
        };
        out.push(ch);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::json::parse;
    use super::*;

    #[test]
    fn parses_python_reprs() {
        let cases: &[(&str, &str)] = &[
            ("None", "null"),
            ("[True, False]", "[true,false]"),
            ("[1, -2, 3.5, 1e+16, 1.5e-07]", "[1,-2,3.5,1e+16,1.5e-07]"),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
            ),
            ("[inf, -inf, nan]", "[Infinity,-Infinity,NaN]"),
            ("'it\\'s'", "\"it's\""),
            ("\"it's\"", "\"it's\""),
            (
                "'a\\nb\\t\\\\ \\x00 \\x7f é \\u2028 \\U0001f600 \\ud800'",
                "\"a\\nb\\t\\\\ \\u0000 \u{7f} é \u{2028} \u{1F600} \u{FFFD}\"",
            ),
            (
                "{'a': [1, {'b': None}], '1': 'x'}",
                "{\"a\":[1,{\"b\":null}],\"1\":\"x\"}",
            ),
            ("[]", "[]"),
            ("{}", "{}"),
            ("[[], [[]]]", "[[],[[]]]"),
        ];
        for (repr, json) in cases {
            assert_eq!(parse_repr(repr).unwrap(), parse(json).unwrap(), "{repr}");
        }
        for bad in ["", "[1,", "{1: 2}", "'abc", "[1] 2", "foo", "(1, 2)"] {
            assert!(parse_repr(bad).is_err(), "{bad:?}");
        }
        assert!(parse_repr(&("[".repeat(5000) + &"]".repeat(5000))).is_err());
    }
}
