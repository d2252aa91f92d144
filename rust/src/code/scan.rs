//! The byte cursor shared by the JSON reader ([`super::json`]) and the Python-repr reader
//! ([`super::pyrepr`]): the grammars differ in strings and containers, not in how numbers,
//! literals, hex escapes and plain runs of string text are scanned.

use super::json::Json;

/// Nesting bound of both readers (their input may come from an untrusted program).
pub(super) const MAX_DEPTH: usize = 512;

pub(super) struct Cursor<'a> {
    pub(super) s: &'a [u8],
    pub(super) i: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Cursor {
            s: text.as_bytes(),
            i: 0,
        }
    }

    pub(super) fn err(&self, what: &str) -> String {
        format!("{what} at byte {}", self.i)
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skips bytes in `set`.
    pub(super) fn skip(&mut self, set: &[u8]) {
        while self.peek().is_some_and(|b| set.contains(&b)) {
            self.i += 1;
        }
    }

    pub(super) fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    /// Reads the whole text as one value (surrounding `ws` allowed).
    pub(super) fn document(
        mut self,
        ws: &[u8],
        value: impl FnOnce(&mut Self) -> Result<Json, String>,
    ) -> Result<Json, String> {
        self.skip(ws);
        let v = value(&mut self)?;
        self.skip(ws);
        if self.i == self.s.len() {
            Ok(v)
        } else {
            Err(self.err("trailing characters"))
        }
    }

    pub(super) fn check_depth(&self, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            Err(self.err("nesting too deep"))
        } else {
            Ok(())
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        self.i - start
    }

    /// A number in JSON grammar (which every `repr()` of an int or finite float also is),
    /// kept as its text.
    pub(super) fn number(&mut self) -> Result<Json, String> {
        let start = self.i;
        self.eat("-");
        if self.digits() == 0 {
            return Err(self.err("expected digits"));
        }
        if self.eat(".") && self.digits() == 0 {
            return Err(self.err("expected digits after '.'"));
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("expected exponent digits"));
            }
        }
        // The slice is ASCII, so this cannot fail.
        let text = std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
        Ok(Json::Num(text.to_string()))
    }

    /// `n` hex digits.
    pub(super) fn hex(&mut self, n: usize) -> Result<u32, String> {
        let h = self
            .s
            .get(self.i..self.i + n)
            .ok_or_else(|| self.err("short escape"))?;
        let h = std::str::from_utf8(h).map_err(|_| self.err("bad escape"))?;
        let v = u32::from_str_radix(h, 16).map_err(|_| self.err("bad escape"))?;
        self.i += n;
        Ok(v)
    }

    /// Appends the string text up to the next `quote` or backslash to `out`, then consumes the
    /// closing quote (returning true) or the backslash and returns the escape letter after it.
    /// With `no_control`, a control character in the text is an error.
    pub(super) fn string_run(
        &mut self,
        quote: u8,
        no_control: bool,
        out: &mut String,
    ) -> Result<Option<u8>, String> {
        let start = self.i;
        while let Some(b) = self.peek() {
            if b == quote || b == b'\\' {
                break;
            }
            if no_control && b < 0x20 {
                return Err(self.err("control character in string"));
            }
            self.i += 1;
        }
        // The input is a &str and we stop only at ASCII bytes, so this is valid UTF-8.
        out.push_str(std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?);
        match self.peek() {
            None => Err(self.err("unterminated string")),
            Some(b) if b == quote => {
                self.i += 1;
                Ok(None)
            }
            Some(_) => {
                self.i += 1; // backslash
                let e = self.peek().ok_or_else(|| self.err("unterminated escape"))?;
                self.i += 1;
                Ok(Some(e))
            }
        }
    }
}
