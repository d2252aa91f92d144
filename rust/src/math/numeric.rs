//! Floating-point values of constant answers, used only to tell two constants apart.
//!
//! When the exact algebra cannot decide (nested radicals, irrational powers), two constants
//! whose values are far apart are certainly different: the evaluator tracks the largest
//! intermediate magnitude, and a difference is trusted only when it exceeds both a relative
//! margin of the values and the rounding error that magnitude allows. Equality is never
//! decided here. Trigonometric functions are left out on purpose: a normalised answer has lost
//! its degree signs, so `\cos 40` may mean degrees.

use super::expr::{self, Domain, Parser};

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
    let (value, Floats { scale }) = expr::read(s, Floats { scale: 1.0 })?;
    (value.is_finite() && scale.is_finite()).then_some(Approx { value, scale })
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

/// The grammar's domain of floating-point values: it keeps the largest magnitude it meets.
struct Floats {
    scale: f64,
}

impl Floats {
    /// `v`, counted into the scale; `None` when it is not finite.
    fn note(&mut self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        self.scale = self.scale.max(v.abs());
        Some(v)
    }
}

impl Domain for Floats {
    type Value = f64;
    const SPACES: bool = true;
    const SIGNED_EXPONENT: bool = true;
    const MAX_DEPTH: usize = 48;

    fn add(&mut self, a: f64, b: f64) -> Option<f64> {
        self.note(a + b)
    }

    fn sub(&mut self, a: f64, b: f64) -> Option<f64> {
        self.note(a - b)
    }

    fn mul(&mut self, a: f64, b: f64) -> Option<f64> {
        self.note(a * b)
    }

    fn div(&mut self, a: f64, b: f64) -> Option<f64> {
        if b == 0.0 {
            return None;
        }
        self.note(a / b)
    }

    fn neg(&mut self, a: f64) -> Option<f64> {
        Some(-a)
    }

    fn pow(&mut self, base: f64, exp: f64) -> Option<f64> {
        if base < 0.0 && exp.fract() != 0.0 {
            return None;
        }
        self.note(base.powf(exp))
    }

    fn digit(&mut self, d: u8) -> Option<f64> {
        Some(f64::from(d))
    }

    fn starts_factor(next: u8, command: Option<&str>) -> bool {
        match next {
            b'\\' => matches!(command, Some("frac" | "sqrt" | "pi")),
            b => b.is_ascii_digit() || b == b'(' || b == b'{' || b == b'e',
        }
    }

    fn atom(p: &mut Parser<'_, Self>) -> Option<f64> {
        match p.peek()? {
            b'0'..=b'9' | b'.' => {
                let start = p.pos;
                let mut end = start;
                while end < p.s.len() && (p.s[end].is_ascii_digit() || p.s[end] == b'.') {
                    end += 1;
                }
                let v: f64 = p.src[start..end].parse().ok()?;
                p.pos = end;
                p.dom.note(v)
            }
            b'e' => {
                p.pos += 1;
                Some(std::f64::consts::E)
            }
            b'\\' => {
                let name = p.command()?;
                p.pos += 1 + name.len();
                match name {
                    "sqrt" => {
                        let (index, arg) = p.root_args()?;
                        let index = match index {
                            Some(text) => {
                                let idx: f64 = text.trim().parse().ok()?;
                                if !(2.0..=64.0).contains(&idx) || idx.fract() != 0.0 {
                                    return None;
                                }
                                idx
                            }
                            None => 2.0,
                        };
                        if arg < 0.0 {
                            return None;
                        }
                        p.dom.note(arg.powf(1.0 / index))
                    }
                    "pi" => Some(std::f64::consts::PI),
                    _ => None,
                }
            }
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
