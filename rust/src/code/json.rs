//! A small JSON reader/writer that keeps numbers as their source text.
//!
//! Test data and the values returned by checked programs contain integers beyond 64 bits and
//! Python's `NaN`/`Infinity` tokens; parsing numbers into `f64` would silently make different
//! big integers compare equal. Keeping the text lets [`super::compare`] compare integers exactly
//! and only floats with a tolerance. Nesting depth is bounded because the input may come from an
//! untrusted program.

use super::scan::Cursor;

/// A JSON value. Object members keep their order; duplicate keys keep the last value on lookup.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number's text: JSON grammar, or `NaN`, `Infinity`, `-Infinity` (Python's `json`).
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// The member `key` of an object (the last one if repeated).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Serialises to compact JSON (non-ASCII characters are written as UTF-8).
    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => out.push_str(n),
            Json::Str(s) => write_str(s, out),
            Json::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Json::Obj(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    /// Compact JSON text.
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

/// Writes `s` as a JSON string literal.
pub fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses one JSON document (surrounding whitespace allowed).
pub fn parse(text: &str) -> Result<Json, String> {
    Cursor::new(text).document(WS, |c| value(c, 0))
}

const WS: &[u8] = b" \t\n\r";

fn value(c: &mut Cursor, depth: usize) -> Result<Json, String> {
    c.check_depth(depth)?;
    let Some(first) = c.peek() else {
        return Err(c.err("unexpected end"));
    };
    match first {
        b'{' => {
            c.i += 1;
            let mut members = Vec::new();
            c.skip(WS);
            if c.eat("}") {
                return Ok(Json::Obj(members));
            }
            loop {
                c.skip(WS);
                if c.peek() != Some(b'"') {
                    return Err(c.err("expected a string key"));
                }
                let k = string(c)?;
                c.skip(WS);
                if !c.eat(":") {
                    return Err(c.err("expected ':'"));
                }
                c.skip(WS);
                let v = value(c, depth + 1)?;
                members.push((k, v));
                c.skip(WS);
                if c.eat(",") {
                    continue;
                }
                if c.eat("}") {
                    return Ok(Json::Obj(members));
                }
                return Err(c.err("expected ',' or '}'"));
            }
        }
        b'[' => {
            c.i += 1;
            let mut items = Vec::new();
            c.skip(WS);
            if c.eat("]") {
                return Ok(Json::Arr(items));
            }
            loop {
                c.skip(WS);
                items.push(value(c, depth + 1)?);
                c.skip(WS);
                if c.eat(",") {
                    continue;
                }
                if c.eat("]") {
                    return Ok(Json::Arr(items));
                }
                return Err(c.err("expected ',' or ']'"));
            }
        }
        b'"' => string(c).map(Json::Str),
        b't' if c.eat("true") => Ok(Json::Bool(true)),
        b'f' if c.eat("false") => Ok(Json::Bool(false)),
        b'n' if c.eat("null") => Ok(Json::Null),
        b'N' if c.eat("NaN") => Ok(Json::Num("NaN".into())),
        b'I' if c.eat("Infinity") => Ok(Json::Num("Infinity".into())),
        b'-' if c.eat("-Infinity") => Ok(Json::Num("-Infinity".into())),
        b'-' | b'0'..=b'9' => c.number(),
        _ => Err(c.err("unexpected character")),
    }
}

fn string(c: &mut Cursor) -> Result<String, String> {
    c.i += 1; // opening quote
    let mut out = String::new();
    while let Some(e) = c.string_run(b'"', true, &mut out)? {
        match e {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let hi = c.hex(4)?;
                let ch = if (0xD800..0xDC00).contains(&hi) && c.s[c.i..].starts_with(b"\\u") {
                    let save = c.i;
                    c.i += 2;
                    let lo = c.hex(4)?;
                    if (0xDC00..0xE000).contains(&lo) {
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                    } else {
                        c.i = save;
                        None
                    }
                } else {
                    char::from_u32(hi)
                };
                // Lone surrogates (Python can produce them) become U+FFFD on both sides.
                out.push(ch.unwrap_or('\u{FFFD}'));
            }
            _ => return Err(c.err("bad escape")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_number_text() {
        let text = r#"{"a":[1,-2.50,1e+300,123456789012345678901234567890,NaN,-Infinity],"b":"x\"\n\u00e9\ud83d\ude00","c":null,"d":true}"#;
        let v = parse(text).unwrap();
        assert_eq!(
            v.get("a"),
            Some(&Json::Arr(vec![
                Json::Num("1".into()),
                Json::Num("-2.50".into()),
                Json::Num("1e+300".into()),
                Json::Num("123456789012345678901234567890".into()),
                Json::Num("NaN".into()),
                Json::Num("-Infinity".into()),
            ]))
        );
        assert_eq!(v.get("b"), Some(&Json::Str("x\"\n\u{e9}\u{1F600}".into())));
        assert_eq!(parse(&v.to_json()).unwrap(), v);
    }

    #[test]
    fn rejects_malformed_and_deep() {
        for bad in [
            "",
            "[1,]",
            "{\"a\" 1}",
            "01x",
            "[1 2]",
            "\"abc",
            "nul",
            "1.",
            "-",
            "[1]x",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(parse(&deep).is_err());
    }
}
