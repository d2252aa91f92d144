//! The one grammar of a normalised LaTeX expression, evaluated in a domain the caller picks:
//! exact rationals ([`super::number`]), the exact algebra ([`super::algebra`]) or
//! floating-point values ([`super::numeric`]).
//!
//! ```text
//! expr    := term (('+' | '-') term)*
//! term    := unary (('*' | '\cdot' | '\times') unary | ('/' | '\div') unary | factor)*
//! unary   := ('-' | '+') unary | power
//! power   := postfix ['^' (group | ['-'] digit)]
//! postfix := atom '!'*
//! atom    := group | '(' expr ')' | '\frac' group group | domain atom
//! group   := '{' expr '}'
//! ```
//!
//! `factor` is a power written right after another (`2x`, `3\sqrt{2}`): which tokens start
//! one is the domain's choice, as are its other atoms (numbers, symbols, commands), whether
//! spaces separate tokens and whether an exponent may be a negative digit. Every step may
//! fail (overflow, division by zero, a value outside the domain), and a failure anywhere
//! makes the whole input unreadable. Nesting is bounded by the domain's depth limit.

/// A set of values the grammar evaluates in, with its arithmetic and its own atoms.
pub(super) trait Domain: Sized {
    type Value;
    /// Whether spaces between tokens are skipped.
    const SPACES: bool;
    /// Whether an exponent may be a negative digit (`x^-1`).
    const SIGNED_EXPONENT: bool;
    /// Deepest nesting of groups and signs followed.
    const MAX_DEPTH: usize;

    fn add(&mut self, a: Self::Value, b: Self::Value) -> Option<Self::Value>;
    fn sub(&mut self, a: Self::Value, b: Self::Value) -> Option<Self::Value>;
    fn mul(&mut self, a: Self::Value, b: Self::Value) -> Option<Self::Value>;
    fn div(&mut self, a: Self::Value, b: Self::Value) -> Option<Self::Value>;
    fn neg(&mut self, a: Self::Value) -> Option<Self::Value>;
    fn pow(&mut self, base: Self::Value, exp: Self::Value) -> Option<Self::Value>;
    /// The value of one digit (a short exponent: `2^3`).
    fn digit(&mut self, d: u8) -> Option<Self::Value>;

    /// `v!`; the domain has no factorials unless it says so.
    fn factorial(&mut self, _v: Self::Value) -> Option<Self::Value> {
        None
    }

    /// Whether a factor of an implicit product starts at the byte `next` (with `command`, the
    /// name of the command there, if it is one).
    fn starts_factor(_next: u8, _command: Option<&str>) -> bool {
        false
    }

    /// An atom other than a group, parentheses and `\frac`, at the cursor.
    fn atom(p: &mut Parser<'_, Self>) -> Option<Self::Value>;
}

/// Reads all of `s` as one expression of domain `dom`: the value and the domain after it.
pub(super) fn read<D: Domain>(s: &str, dom: D) -> Option<(D::Value, D)> {
    let mut p = Parser {
        s: s.as_bytes(),
        src: s,
        pos: 0,
        depth: 0,
        dom,
    };
    let v = p.expr()?;
    if D::SPACES {
        p.skip_spaces();
    }
    (p.pos == p.s.len()).then_some((v, p.dom))
}

/// A cursor over the input, with the domain that evaluates what it reads.
pub(super) struct Parser<'a, D> {
    pub(super) s: &'a [u8],
    pub(super) src: &'a str,
    pub(super) pos: usize,
    depth: usize,
    pub(super) dom: D,
}

impl<'a, D: Domain> Parser<'a, D> {
    fn skip_spaces(&mut self) {
        while self.s.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
    }

    /// The next byte (after spaces, where the domain skips them).
    pub(super) fn peek(&mut self) -> Option<u8> {
        if D::SPACES {
            self.skip_spaces();
        }
        self.s.get(self.pos).copied()
    }

    /// The name of the command at the cursor (`frac` for `\frac`), without consuming it.
    pub(super) fn command(&self) -> Option<&'a str> {
        if self.s.get(self.pos) != Some(&b'\\') {
            return None;
        }
        let start = self.pos + 1;
        let end = start
            + self.s[start..]
                .iter()
                .take_while(|b| b.is_ascii_alphabetic())
                .count();
        (end > start).then(|| &self.src[start..end])
    }

    /// Consumes `lit` when it comes next; a command must not continue with letters
    /// (`\times` is not the start of `\timesx`).
    pub(super) fn eat(&mut self, lit: &str) -> bool {
        if D::SPACES {
            self.skip_spaces();
        }
        if self.s[self.pos..].starts_with(lit.as_bytes()) {
            let end = self.pos + lit.len();
            if lit.starts_with('\\') && self.s.get(end).is_some_and(u8::is_ascii_alphabetic) {
                return false;
            }
            self.pos = end;
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= D::MAX_DEPTH).then_some(())
    }

    pub(super) fn expr(&mut self) -> Option<D::Value> {
        self.enter()?;
        let mut v = self.term()?;
        loop {
            if self.eat("+") {
                let t = self.term()?;
                v = self.dom.add(v, t)?;
            } else if self.eat("-") {
                let t = self.term()?;
                v = self.dom.sub(v, t)?;
            } else {
                break;
            }
        }
        self.depth -= 1;
        Some(v)
    }

    fn term(&mut self) -> Option<D::Value> {
        let mut v = self.unary()?;
        loop {
            if self.eat("*") || self.eat("\\cdot") || self.eat("\\times") {
                let f = self.unary()?;
                v = self.dom.mul(v, f)?;
            } else if self.eat("/") || self.eat("\\div") {
                let f = self.unary()?;
                v = self.dom.div(v, f)?;
            } else if self.starts_factor() {
                let f = self.power()?;
                v = self.dom.mul(v, f)?;
            } else {
                break;
            }
        }
        Some(v)
    }

    /// Whether an implicit product continues here (`2x`, `3\sqrt{2}`, `2(x+1)`).
    pub(super) fn starts_factor(&mut self) -> bool {
        match self.peek() {
            Some(b'\\') => D::starts_factor(b'\\', self.command()),
            Some(b) => D::starts_factor(b, None),
            None => false,
        }
    }

    fn unary(&mut self) -> Option<D::Value> {
        self.enter()?;
        let v = if self.eat("-") {
            let u = self.unary()?;
            self.dom.neg(u)?
        } else if self.eat("+") {
            self.unary()?
        } else {
            self.power()?
        };
        self.depth -= 1;
        Some(v)
    }

    fn power(&mut self) -> Option<D::Value> {
        let base = self.postfix()?;
        if !self.eat("^") {
            return Some(base);
        }
        let exp = match self.peek()? {
            b'{' => self.group()?,
            b'-' if D::SIGNED_EXPONENT => {
                self.pos += 1;
                let d = self.digit()?;
                self.dom.neg(d)?
            }
            _ => self.digit()?,
        };
        self.dom.pow(base, exp)
    }

    /// One digit (`2^3`; `x^n` is outside every domain).
    fn digit(&mut self) -> Option<D::Value> {
        let b = self.peek().filter(u8::is_ascii_digit)?;
        self.pos += 1;
        self.dom.digit(b - b'0')
    }

    fn postfix(&mut self) -> Option<D::Value> {
        let mut v = self.atom()?;
        while self.s.get(self.pos) == Some(&b'!') {
            self.pos += 1;
            v = self.dom.factorial(v)?;
        }
        Some(v)
    }

    /// `{ expr }`.
    pub(super) fn group(&mut self) -> Option<D::Value> {
        if !self.eat("{") {
            return None;
        }
        let v = self.expr()?;
        self.eat("}").then_some(v)
    }

    /// `( expr )`.
    pub(super) fn parens(&mut self) -> Option<D::Value> {
        if !self.eat("(") {
            return None;
        }
        let v = self.expr()?;
        self.eat(")").then_some(v)
    }

    pub(super) fn atom(&mut self) -> Option<D::Value> {
        match self.peek()? {
            b'{' => self.group(),
            b'(' => self.parens(),
            b'\\' if self.command() == Some("frac") => {
                self.pos += "\\frac".len();
                let n = self.group()?;
                let d = self.group()?;
                self.dom.div(n, d)
            }
            _ => D::atom(self),
        }
    }

    /// The arguments of `\sqrt` after its name: the text of an index `[n]`, if there is one,
    /// and the radicand (a group or a single atom).
    pub(super) fn root_args(&mut self) -> Option<(Option<&'a str>, D::Value)> {
        let index = if self.eat("[") {
            let start = self.pos;
            let end = start + self.src[start..].find(']')?;
            self.pos = end + 1;
            Some(&self.src[start..end])
        } else {
            None
        };
        let arg = if self.peek()? == b'{' {
            self.group()?
        } else {
            self.atom()?
        };
        Some((index, arg))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{algebra, number, numeric};

    /// The value of `s` in each domain: exact rationals, the exact algebra, floating point.
    fn values(s: &str) -> [Option<f64>; 3] {
        [
            number::parse_number(s).map(number::Rational::to_f64),
            algebra::numeric_value(s),
            numeric::evaluate(s).map(|a| a.value),
        ]
    }

    #[test]
    fn one_grammar_in_every_domain() {
        let cases: &[(&str, f64)] = &[
            ("1+2*3", 7.0),
            ("(1+2)*3", 9.0),
            ("{1+2}\\cdot3", 9.0),
            ("2/3/4", 1.0 / 6.0),
            ("8\\div2\\times3", 12.0),
            ("-2^2", -4.0),
            ("2^{-2}", 0.25),
            ("(-2)^3", -8.0),
            ("--3", 3.0),
            ("+-3", -3.0),
            ("1-2-3", -4.0),
            ("\\frac{1}{2}+\\frac{1}{3}", 5.0 / 6.0),
            ("\\frac{\\frac{1}{2}}{4}", 0.125),
            ("2^{2^{3}}", 256.0),
            ("1.5", 1.5),
        ];
        for &(s, want) in cases {
            for (domain, got) in values(s).into_iter().enumerate() {
                let got = got.unwrap_or_else(|| panic!("{s:?} unread in domain {domain}"));
                assert!(
                    (got - want).abs() < 1e-12,
                    "{s:?} in domain {domain}: {got}"
                );
            }
        }
        for s in [
            "",
            "(",
            "1+",
            "{1",
            "1)",
            "\\frac{1}",
            "2^",
            "2^x",
            "1/0",
            "\\frac{1}{0}",
        ] {
            assert_eq!(values(s), [None; 3], "{s:?}");
        }
    }

    #[test]
    fn what_each_domain_adds_to_the_grammar() {
        // Exact rationals: no spaces, no implicit products, no negative digit exponents.
        for (s, want) in [
            ("1 + 2", 3.0),
            ("2(3)", 6.0),
            ("2^-1", 0.5),
            ("2\\sqrt{4}", 4.0),
        ] {
            let [exact, algebra, float] = values(s);
            assert_eq!(exact, None, "{s:?}");
            assert_eq!(algebra, Some(want), "{s:?}");
            assert_eq!(float, Some(want), "{s:?}");
        }
        // Mixed numbers are read by the exact rationals alone; elsewhere `3\frac{1}{2}` is
        // an implicit product.
        assert_eq!(values("3\\frac{1}{2}"), [Some(3.5), Some(1.5), Some(1.5)]);
        // Factorials and symbols belong to the algebra.
        assert_eq!(values("3!"), [None, Some(6.0), None]);
        assert_eq!(values("x"), [None, None, None]);
        assert_eq!(values("|-2|"), [None, Some(2.0), None]);
    }
}
