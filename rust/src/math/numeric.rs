//! Floating-point values of constant answers, used only to tell two constants apart.
//!
//! When the exact algebra cannot decide (nested radicals, irrational powers), two constants
//! whose values are far apart are certainly different: the evaluator tracks the largest
//! intermediate magnitude, and a difference is trusted only when it exceeds both a relative
//! margin of the values and the rounding error that magnitude allows. Equality is never
//! decided here. Trigonometric functions are left out on purpose: a normalised answer has lost
//! its degree signs, so `\cos 40` may mean degrees.

/// Deepest nesting followed.
const MAX_DEPTH: usize = 48;
/// Longest input considered.
const MAX_LEN: usize = 1024;

/// The value of a constant answer and the largest magnitude met while computing it.
#[derive(Debug, Clone, Copy)]
pub struct Approx {
    pub value: f64,
    pub scale: f64,
}

/// Evaluates a normalised constant answer; `None` for anything with a variable, a function
/// other than roots, or a non-finite value.
pub fn evaluate(s: &str) -> Option<Approx> {
    if s.is_empty() || s.len() > MAX_LEN {
        return None;
    }
    let mut p = Eval {
        s: s.as_bytes(),
        src: s,
        pos: 0,
        depth: 0,
        scale: 1.0,
    };
    let v = p.expr()?;
    p.skip_spaces();
    (p.pos == p.s.len() && v.is_finite() && p.scale.is_finite()).then_some(Approx {
        value: v,
        scale: p.scale,
    })
}

/// Whether two constants are certainly different: their values differ by more than a millionth
/// of their size (at least 1) and by far more than the rounding error of their computation.
pub fn clearly_different(a: &str, b: &str) -> bool {
    let (Some(x), Some(y)) = (evaluate(a), evaluate(b)) else {
        return false;
    };
    let gap = (x.value - y.value).abs();
    let size = 1f64.max(x.value.abs()).max(y.value.abs());
    gap > 1e-6 * size && gap > 1e-9 * x.scale.max(y.scale)
}

struct Eval<'a> {
    s: &'a [u8],
    src: &'a str,
    pos: usize,
    depth: usize,
    scale: f64,
}

impl Eval<'_> {
    fn skip_spaces(&mut self) {
        while self.s.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_spaces();
        self.s.get(self.pos).copied()
    }

    fn command(&self) -> Option<&str> {
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

    fn eat(&mut self, lit: &str) -> bool {
        self.skip_spaces();
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

    fn note(&mut self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        self.scale = self.scale.max(v.abs());
        Some(v)
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn expr(&mut self) -> Option<f64> {
        self.enter()?;
        let mut v = self.term()?;
        loop {
            if self.eat("+") {
                let t = self.term()?;
                v = self.note(v + t)?;
            } else if self.eat("-") {
                let t = self.term()?;
                v = self.note(v - t)?;
            } else {
                break;
            }
        }
        self.depth -= 1;
        Some(v)
    }

    fn term(&mut self) -> Option<f64> {
        let mut v = self.unary()?;
        loop {
            if self.eat("*") || self.eat("\\cdot") || self.eat("\\times") {
                let f = self.unary()?;
                v = self.note(v * f)?;
            } else if self.eat("/") || self.eat("\\div") {
                let f = self.unary()?;
                if f == 0.0 {
                    return None;
                }
                v = self.note(v / f)?;
            } else if self.starts_factor() {
                let f = self.power()?;
                v = self.note(v * f)?;
            } else {
                break;
            }
        }
        Some(v)
    }

    fn starts_factor(&mut self) -> bool {
        match self.peek() {
            Some(b) if b.is_ascii_digit() || b == b'(' || b == b'{' || b == b'e' => true,
            Some(b'\\') => matches!(self.command(), Some("frac" | "sqrt" | "pi")),
            _ => false,
        }
    }

    fn unary(&mut self) -> Option<f64> {
        self.enter()?;
        let v = if self.eat("-") {
            -self.unary()?
        } else if self.eat("+") {
            self.unary()?
        } else {
            self.power()?
        };
        self.depth -= 1;
        Some(v)
    }

    fn power(&mut self) -> Option<f64> {
        let base = self.atom()?;
        if !self.eat("^") {
            return Some(base);
        }
        let exp = match self.peek()? {
            b'{' => self.group()?,
            b'-' => {
                self.pos += 1;
                -self.digit()?
            }
            _ => self.digit()?,
        };
        if base < 0.0 && exp.fract() != 0.0 {
            return None;
        }
        self.note(base.powf(exp))
    }

    fn digit(&mut self) -> Option<f64> {
        let b = self.peek()?;
        if b.is_ascii_digit() {
            self.pos += 1;
            return Some(f64::from(b - b'0'));
        }
        None
    }

    fn group(&mut self) -> Option<f64> {
        if !self.eat("{") {
            return None;
        }
        let v = self.expr()?;
        self.eat("}").then_some(v)
    }

    fn atom(&mut self) -> Option<f64> {
        match self.peek()? {
            b'{' => self.group(),
            b'(' => {
                self.pos += 1;
                let v = self.expr()?;
                self.eat(")").then_some(v)
            }
            b'0'..=b'9' | b'.' => self.number(),
            b'e' => {
                self.pos += 1;
                Some(std::f64::consts::E)
            }
            b'\\' => self.command_atom(),
            _ => None,
        }
    }

    fn number(&mut self) -> Option<f64> {
        let start = self.pos;
        let mut end = start;
        while end < self.s.len() && (self.s[end].is_ascii_digit() || self.s[end] == b'.') {
            end += 1;
        }
        let v: f64 = self.src[start..end].parse().ok()?;
        self.pos = end;
        self.note(v)
    }

    fn command_atom(&mut self) -> Option<f64> {
        let name = self.command()?.to_string();
        self.pos += 1 + name.len();
        match name.as_str() {
            "frac" => {
                let n = self.group()?;
                let d = self.group()?;
                if d == 0.0 {
                    return None;
                }
                self.note(n / d)
            }
            "sqrt" => {
                let index = if self.eat("[") {
                    let start = self.pos;
                    let end = start + self.src[start..].find(']')?;
                    self.pos = end + 1;
                    let idx: f64 = self.src[start..end].trim().parse().ok()?;
                    if !(2.0..=64.0).contains(&idx) || idx.fract() != 0.0 {
                        return None;
                    }
                    idx
                } else {
                    2.0
                };
                let arg = if self.peek()? == b'{' {
                    self.group()?
                } else {
                    self.atom()?
                };
                if arg < 0.0 {
                    return None;
                }
                self.note(arg.powf(1.0 / index))
            }
            "pi" => Some(std::f64::consts::PI),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_differences() {
        let v = |s: &str| evaluate(s).map(|a| a.value);
        assert!((v("\\sqrt{\\frac{17+\\sqrt{273}}{2}}").unwrap() - 4.0941).abs() < 1e-3);
        assert!((v("\\frac{32}{3^{2/3}}").unwrap() - 15.384).abs() < 1e-2);
        assert!((v("2\\pi").unwrap() - std::f64::consts::TAU).abs() < 1e-12);
        assert_eq!(v("x+1"), None);
        assert_eq!(v("\\cos40"), None);
        assert_eq!(
            v("2^{2022}"),
            Some(2f64.powi(2022)).filter(|x| x.is_finite())
        );
        assert_eq!(v("2^{5000}"), None);
        assert_eq!(v("\\sqrt{-1}"), None);
        assert_eq!(v("\\frac{1}{0}"), None);
        assert!(clearly_different("\\sqrt{\\frac{17+\\sqrt{273}}{2}}", "4"));
        assert!(clearly_different("\\frac{32}{3^{2/3}}", "2"));
        // Equal values are never "clearly different", even after cancellation.
        assert!(!clearly_different(
            "\\sqrt{2}+\\sqrt{3}",
            "\\sqrt{5+2\\sqrt{6}}"
        ));
        assert!(!clearly_different("(10^{20}+1)-10^{20}", "1"));
        assert!(!clearly_different("\\sqrt{10^{12}+1}-10^6", "0.0000005"));
        assert!(!clearly_different("0.0000001", "0.0000002"));
        for s in [
            "",
            "\\",
            "{",
            "(",
            "\\sqrt[",
            "\\frac{1}",
            "^",
            "1^",
            "--1",
            "é",
        ] {
            let _ = evaluate(s);
        }
        let deep = "(".repeat(10_000) + "1" + &")".repeat(10_000);
        assert!(evaluate(&deep).is_none());
    }
}
