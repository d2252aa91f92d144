//! Reading the child's results as Python literals instead of JSON.
//!
//! Importing `json` costs a fresh child about 7 ms per case (it pulls in `re` and `enum`), more
//! than the rest of a trivial call-based run. The return value is sent back as `repr()` of plain
//! values (no import needed) and parsed here into [`Json`]; requests go the other way in
//! marshal format ([`super::marshal`]).

use super::json::Json;

const MAX_DEPTH: usize = 512;

/// Parses the `repr()` of a plain Python value (None, bool, int, float, str, list, dict) into
/// [`Json`]. Floats `inf`/`nan` become `Infinity`/`NaN` numbers; lone surrogates become U+FFFD.
pub fn parse_repr(text: &str) -> Result<Json, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("trailing characters at byte {}", p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> String {
        format!("{what} at byte {}", self.i)
    }

    fn ws(&mut self) {
        while self.s.get(self.i) == Some(&b' ') {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn seq(&mut self, close: u8, depth: usize, dict: bool) -> Result<Json, String> {
        self.i += 1;
        let mut items = Vec::new();
        let mut members = Vec::new();
        self.ws();
        if self.s.get(self.i) != Some(&close) {
            loop {
                self.ws();
                if dict {
                    let key = match self.value(depth + 1)? {
                        Json::Str(k) => k,
                        _ => return Err(self.err("dict key is not a string")),
                    };
                    self.ws();
                    if !self.eat(":") {
                        return Err(self.err("expected ':'"));
                    }
                    self.ws();
                    members.push((key, self.value(depth + 1)?));
                } else {
                    items.push(self.value(depth + 1)?);
                }
                self.ws();
                if !self.eat(",") {
                    break;
                }
            }
        }
        self.ws();
        if self.s.get(self.i) != Some(&close) {
            return Err(self.err("unterminated container"));
        }
        self.i += 1;
        Ok(if dict {
            Json::Obj(members)
        } else {
            Json::Arr(items)
        })
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        match self.s.get(self.i) {
            None => Err(self.err("unexpected end")),
            Some(b'[') => self.seq(b']', depth, false),
            Some(b'{') => self.seq(b'}', depth, true),
            Some(b'\'' | b'"') => self.string().map(Json::Str),
            Some(_) if self.eat("None") => Ok(Json::Null),
            Some(_) if self.eat("True") => Ok(Json::Bool(true)),
            Some(_) if self.eat("False") => Ok(Json::Bool(false)),
            Some(_) if self.eat("nan") => Ok(Json::Num("NaN".into())),
            Some(_) if self.eat("inf") => Ok(Json::Num("Infinity".into())),
            Some(_) if self.eat("-inf") => Ok(Json::Num("-Infinity".into())),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.i;
        self.eat("-");
        if self.digits() == 0 {
            return Err(self.err("expected digits"));
        }
        if self.eat(".") {
            self.digits();
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("expected exponent digits"));
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
        Ok(Json::Num(text.to_string()))
    }

    fn hex(&mut self, n: usize) -> Result<u32, String> {
        let h = self
            .s
            .get(self.i..self.i + n)
            .ok_or_else(|| self.err("short escape"))?;
        let h = std::str::from_utf8(h).map_err(|_| self.err("bad escape"))?;
        let v = u32::from_str_radix(h, 16).map_err(|_| self.err("bad escape"))?;
        self.i += n;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = self.s[self.i];
        self.i += 1;
        let mut out = String::new();
        loop {
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i] != quote && self.s[self.i] != b'\\' {
                self.i += 1;
            }
            // Stops only at ASCII bytes of a &str, so the slice is valid UTF-8.
            out.push_str(std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?);
            match self.s.get(self.i) {
                None => return Err(self.err("unterminated string")),
                Some(&c) if c == quote => {
                    self.i += 1;
                    return Ok(out);
                }
                _ => {}
            }
            self.i += 1;
            let Some(&e) = self.s.get(self.i) else {
                return Err(self.err("unterminated escape"));
            };
            self.i += 1;
            let c = match e {
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
                b'x' => char::from_u32(self.hex(2)?).unwrap_or('\u{FFFD}'),
                b'u' => char::from_u32(self.hex(4)?).unwrap_or('\u{FFFD}'),
                b'U' => char::from_u32(self.hex(8)?).unwrap_or('\u{FFFD}'),
                _ => return Err(self.err("bad escape")),
            };
            out.push(c);
        }
    }
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
