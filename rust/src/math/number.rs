//! Exact rational numbers, and numeric answers in normalised LaTeX read as them.
//!
//! Values are `i128` fractions with checked arithmetic: an overflow makes the value unknown
//! (the caller then leaves the decision to a CAS), never an approximation. There is no
//! tolerance anywhere: `0.333` is not `1/3`, and `1/2^99` is not `1/2^98`.

use super::expr::{self, Domain, Parser};

/// An exact fraction `num/den` in lowest terms with `den > 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rational {
    num: i128,
    den: i128,
}

/// The greatest common divisor of `|a|` and `|b|` (0 for two zeros).
pub(super) fn gcd(mut a: i128, mut b: i128) -> i128 {
    // Callers never pass i128::MIN (construction rejects it), so abs cannot overflow.
    a = a.abs();
    b = b.abs();
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

impl Rational {
    /// The number one.
    pub const ONE: Rational = Rational { num: 1, den: 1 };

    /// `num/den` reduced; `None` when `den == 0` or a value is `i128::MIN`.
    pub fn new(num: i128, den: i128) -> Option<Rational> {
        if den == 0 || num == i128::MIN || den == i128::MIN {
            return None;
        }
        let g = gcd(num, den).max(1);
        let (mut n, mut d) = (num / g, den / g);
        if d < 0 {
            n = -n;
            d = -d;
        }
        Some(Rational { num: n, den: d })
    }

    pub fn integer(n: i128) -> Option<Rational> {
        Rational::new(n, 1)
    }

    pub fn is_integer(&self) -> bool {
        self.den == 1
    }

    /// The numerator (carries the sign).
    pub fn numer(&self) -> i128 {
        self.num
    }

    /// The denominator (always positive).
    pub fn denom(&self) -> i128 {
        self.den
    }

    /// The nearest floating-point value (for tolerances and rounding only).
    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// The largest integer not above this value.
    pub fn floor(&self) -> Option<Rational> {
        Rational::integer(self.num.div_euclid(self.den))
    }

    pub fn is_zero(&self) -> bool {
        self.num == 0
    }

    pub fn add(self, o: Rational) -> Option<Rational> {
        let g = gcd(self.den, o.den);
        let l = (self.den / g).checked_mul(o.den)?;
        let a = self.num.checked_mul(l / self.den)?;
        let b = o.num.checked_mul(l / o.den)?;
        Rational::new(a.checked_add(b)?, l)
    }

    pub fn neg(self) -> Option<Rational> {
        Rational::new(self.num.checked_neg()?, self.den)
    }

    pub fn sub(self, o: Rational) -> Option<Rational> {
        self.add(o.neg()?)
    }

    pub fn mul(self, o: Rational) -> Option<Rational> {
        let g1 = gcd(self.num, o.den).max(1);
        let g2 = gcd(o.num, self.den).max(1);
        let n = (self.num / g1).checked_mul(o.num / g2)?;
        let d = (self.den / g2).checked_mul(o.den / g1)?;
        Rational::new(n, d)
    }

    pub fn div(self, o: Rational) -> Option<Rational> {
        if o.num == 0 {
            return None;
        }
        self.mul(Rational::new(o.den, o.num)?)
    }

    /// Integer power by squaring; `None` on overflow, `0^-n`, or a huge exponent.
    pub fn pow(self, exp: i128) -> Option<Rational> {
        if exp.abs() > 4096 {
            // Only 0, 1 and -1 survive such exponents; leave everything else undecided.
            return match (self.num, self.den) {
                (0, _) if exp > 0 => Some(self),
                (1, 1) => Some(self),
                (-1, 1) => Rational::integer(if exp % 2 == 0 { 1 } else { -1 }),
                _ => None,
            };
        }
        let base = if exp < 0 {
            if self.num == 0 {
                return None;
            }
            Rational::new(self.den, self.num)?
        } else {
            self
        };
        let mut e = exp.unsigned_abs();
        let mut result = Rational::integer(1)?;
        let mut b = base;
        while e > 0 {
            if e & 1 == 1 {
                result = result.mul(b)?;
            }
            e >>= 1;
            if e > 0 {
                b = b.mul(b)?;
            }
        }
        Some(result)
    }
}

/// Parses a normalised numeric answer exactly: integers, decimals, `\frac{a}{b}`, `a/b`,
/// signs, `+ - * / \cdot \times \div`, parentheses/braces, integer powers and mixed numbers
/// (`3\frac{1}{2}` = 7/2). `None` when the string is not such a number or overflows.
pub fn parse_number(s: &str) -> Option<Rational> {
    if s.is_empty() || s.len() > 4096 {
        return None;
    }
    expr::read(s, Rationals).map(|(v, _)| v)
}

/// The grammar's domain of exact rationals: no spaces, no implicit products, no symbols.
struct Rationals;

impl Domain for Rationals {
    type Value = Rational;
    const SPACES: bool = false;
    const SIGNED_EXPONENT: bool = false;
    const MAX_DEPTH: usize = 64;

    fn add(&mut self, a: Rational, b: Rational) -> Option<Rational> {
        a.add(b)
    }

    fn sub(&mut self, a: Rational, b: Rational) -> Option<Rational> {
        a.sub(b)
    }

    fn mul(&mut self, a: Rational, b: Rational) -> Option<Rational> {
        a.mul(b)
    }

    fn div(&mut self, a: Rational, b: Rational) -> Option<Rational> {
        a.div(b)
    }

    fn neg(&mut self, a: Rational) -> Option<Rational> {
        a.neg()
    }

    fn pow(&mut self, base: Rational, exp: Rational) -> Option<Rational> {
        if !exp.is_integer() {
            return None;
        }
        base.pow(exp.num)
    }

    fn digit(&mut self, d: u8) -> Option<Rational> {
        Rational::integer(i128::from(d))
    }

    /// A literal, or a mixed number: `3\frac{1}{2}` with integer parts only.
    fn atom(p: &mut Parser<'_, Self>) -> Option<Rational> {
        if !matches!(p.peek()?, b'0'..=b'9' | b'.') {
            return None;
        }
        let (v, is_int) = p.literal()?;
        if is_int && p.s[p.pos..].starts_with(b"\\frac{") {
            let save = p.pos;
            if let Some(f) = p.mixed_fraction() {
                return v.add(f);
            }
            p.pos = save;
        }
        Some(v)
    }
}

impl Parser<'_, Rationals> {
    /// `\frac{int}{int}` right after an integer, for mixed numbers.
    fn mixed_fraction(&mut self) -> Option<Rational> {
        if !self.eat("\\frac") {
            return None;
        }
        let mut parts = [0i128; 2];
        for part in &mut parts {
            if !self.eat("{") {
                return None;
            }
            let (v, is_int) = self.literal()?;
            if !is_int || !self.eat("}") {
                return None;
            }
            *part = v.num;
        }
        Rational::new(parts[0], parts[1])
    }

    /// A decimal literal `12`, `1.5`, `.5`; returns whether it had no decimal point.
    fn literal(&mut self) -> Option<(Rational, bool)> {
        let start = self.pos;
        let mut num: i128 = 0;
        let mut den: i128 = 1;
        let mut seen_dot = false;
        let mut digits = 0;
        while let Some(b) = self.peek() {
            match b {
                b'0'..=b'9' => {
                    num = num.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
                    if seen_dot {
                        den = den.checked_mul(10)?;
                    }
                    digits += 1;
                }
                b'.' if !seen_dot => seen_dot = true,
                _ => break,
            }
            self.pos += 1;
        }
        if digits == 0 {
            self.pos = start;
            return None;
        }
        let value = Rational::new(num, den)?;
        if let Some(exp) = self.sci_exponent() {
            let ten = Rational::integer(10)?;
            return Some((value.mul(ten.pow(exp)?)?, false));
        }
        Some((value, !seen_dot))
    }

    /// The exponent of scientific notation right after a literal: `e3`, `E-4`, `e+10`.
    fn sci_exponent(&mut self) -> Option<i128> {
        let rest = &self.s[self.pos..];
        if !matches!(rest.first(), Some(b'e' | b'E')) {
            return None;
        }
        let (neg, digits_at) = match rest.get(1) {
            Some(b'-') => (true, 2),
            Some(b'+') => (false, 2),
            _ => (false, 1),
        };
        let digits = rest[digits_at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || digits > 4 {
            return None;
        }
        let mut e: i128 = 0;
        for &b in &rest[digits_at..digits_at + digits] {
            e = e * 10 + i128::from(b - b'0');
        }
        self.pos += digits_at + digits;
        Some(if neg { -e } else { e })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: i128, d: i128) -> Rational {
        Rational::new(n, d).unwrap()
    }

    #[test]
    fn parses_numbers_exactly() {
        let cases: &[(&str, Option<Rational>)] = &[
            ("5", Some(r(5, 1))),
            ("-5", Some(r(-5, 1))),
            ("0.5", Some(r(1, 2))),
            (".5", Some(r(1, 2))),
            ("5.", Some(r(5, 1))),
            ("\\frac{1}{2}", Some(r(1, 2))),
            ("-\\frac{3}{4}", Some(r(-3, 4))),
            ("\\frac{-3}{4}", Some(r(-3, 4))),
            ("\\frac{\\frac{1}{2}}{3}", Some(r(1, 6))),
            ("1/2", Some(r(1, 2))),
            ("3\\frac{1}{2}", Some(r(7, 2))),
            ("-3\\frac{1}{2}", Some(r(-7, 2))),
            ("2^{10}", Some(r(1024, 1))),
            ("2^3", Some(r(8, 1))),
            ("\\frac{1}{2^{99}}", Some(r(1, 1 << 99))),
            ("2^{-2}", Some(r(1, 4))),
            ("1.5\\times10^{3}", Some(r(1500, 1))),
            ("3\\cdot4", Some(r(12, 1))),
            ("(1+2)*3", Some(r(9, 1))),
            ("6\\div4", Some(r(3, 2))),
            ("0.333", Some(r(333, 1000))),
            ("1.5e3", Some(r(1500, 1))),
            ("1.5E-3", Some(r(3, 2000))),
            ("2e+2", Some(r(200, 1))),
            ("2e", None),
            ("\\frac{1}{0}", None),
            ("2^{200}", None),
            ("5^{5^{5^{5}}}", None),
            ("x", None),
            ("\\sqrt{2}", None),
            ("2x", None),
            ("1.2.3", None),
            ("", None),
            ("(", None),
            ("\\frac{1}", None),
            ("99999999999999999999999999999999999999999999", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_number(s), *want, "input: {s:?}");
        }
    }

    #[test]
    fn no_tolerance() {
        assert_ne!(
            parse_number("\\frac{1}{2^{99}}"),
            parse_number("\\frac{1}{2^{98}}")
        );
        assert_ne!(parse_number("0.333"), parse_number("\\frac{1}{3}"));
        assert_eq!(parse_number("0.5"), parse_number("\\frac{1}{2}"));
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let deep = "{".repeat(10_000) + "1" + &"}".repeat(10_000);
        assert_eq!(parse_number(&deep), None);
        let minus = "-".repeat(4000) + "1";
        assert_eq!(parse_number(&minus), None);
        let parens = "(".repeat(100_000);
        assert_eq!(parse_number(&parens), None);
    }
}
