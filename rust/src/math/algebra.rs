//! Exact algebra for answers that are not plain numbers: polynomials (and Laurent
//! polynomials) with rational coefficients in variables, `\pi`, `e`, the imaginary unit `i`
//! and square roots of rationals.
//!
//! Every value has one canonical form — a sum of monomials `c · x^a · π^b · e^c · √r · i^k`
//! with `r` square-free and `k ∈ {0, 1}` — so two answers are equal exactly when their
//! canonical forms are. Square roots of distinct square-free integers are linearly independent
//! over the rationals, and `π` and `e` are treated as independent transcendentals, so a
//! difference in canonical forms is a real difference. Quotients are rationalised when the
//! denominator is a constant (`1/(1+√2)` = `√2−1`); anything else (functions, symbolic
//! denominators, irrational exponents) is outside this algebra and left to a CAS.
//!
//! All work is bounded: terms per value, exponent sizes, radicands and nesting depth are
//! capped, and every arithmetic step is checked, so no input can overflow or run long.

use std::collections::BTreeMap;

use super::expr::{self, Domain, Parser};
use super::normalize::has_plain_word;
use super::number::{gcd, parse_number, Rational};

/// Most terms one value may have.
const MAX_TERMS: usize = 128;
/// Largest square-free radicand kept under a root.
const MAX_RADICAND: i128 = 1_000_000_000_000;
/// Largest exponent of a symbol, and of a power of a sum.
const MAX_SYMBOL_EXP: i32 = 256;
const MAX_SUM_POWER: i128 = 24;
/// Longest input considered.
const MAX_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Sym {
    Pi,
    E,
    Var(String),
}

/// `π^a · e^b · x^c … · √rad · i^imag`, without its coefficient.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Mono {
    syms: Vec<(Sym, i32)>,
    rad: i128,
    imag: bool,
}

impl Mono {
    fn one() -> Mono {
        Mono {
            syms: Vec::new(),
            rad: 1,
            imag: false,
        }
    }

    fn is_one(&self) -> bool {
        self.syms.is_empty() && self.rad == 1 && !self.imag
    }

    /// The product of two monomials and the rational factor it produces.
    fn mul(&self, o: &Mono) -> Option<(Mono, Rational)> {
        let mut syms: Vec<(Sym, i32)> = Vec::with_capacity(self.syms.len() + o.syms.len());
        let (mut i, mut j) = (0, 0);
        while i < self.syms.len() || j < o.syms.len() {
            let take_left =
                j >= o.syms.len() || (i < self.syms.len() && self.syms[i].0 <= o.syms[j].0);
            let take_right =
                i >= self.syms.len() || (j < o.syms.len() && o.syms[j].0 <= self.syms[i].0);
            if take_left && take_right {
                let e = self.syms[i].1.checked_add(o.syms[j].1)?;
                if e.abs() > MAX_SYMBOL_EXP {
                    return None;
                }
                if e != 0 {
                    syms.push((self.syms[i].0.clone(), e));
                }
                i += 1;
                j += 1;
            } else if take_left {
                syms.push(self.syms[i].clone());
                i += 1;
            } else {
                syms.push(o.syms[j].clone());
                j += 1;
            }
        }
        let g = gcd(self.rad, o.rad);
        let rad = (self.rad / g).checked_mul(o.rad / g)?;
        if rad > MAX_RADICAND {
            return None;
        }
        let mut coef = Rational::integer(g)?;
        if self.imag && o.imag {
            coef = coef.neg()?;
        }
        Some((
            Mono {
                syms,
                rad,
                imag: self.imag != o.imag,
            },
            coef,
        ))
    }
}

/// A sum of monomials with non-zero rational coefficients (canonical form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poly(BTreeMap<Mono, Rational>);

impl Poly {
    fn zero() -> Poly {
        Poly(BTreeMap::new())
    }

    fn constant(c: Rational) -> Poly {
        Poly::term(Mono::one(), c)
    }

    fn term(m: Mono, c: Rational) -> Poly {
        let mut map = BTreeMap::new();
        if !c.is_zero() {
            map.insert(m, c);
        }
        Poly(map)
    }

    fn sym(s: Sym) -> Poly {
        Poly::term(
            Mono {
                syms: vec![(s, 1)],
                rad: 1,
                imag: false,
            },
            Rational::ONE,
        )
    }

    fn imaginary_unit() -> Option<Poly> {
        Some(Poly::term(
            Mono {
                syms: Vec::new(),
                rad: 1,
                imag: true,
            },
            Rational::integer(1)?,
        ))
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    /// The value as a rational constant, if it is one.
    fn as_rational(&self) -> Option<Rational> {
        match self.0.len() {
            0 => Rational::integer(0),
            1 => {
                let (m, c) = self.0.iter().next()?;
                m.is_one().then_some(*c)
            }
            _ => None,
        }
    }

    fn add_term(&mut self, m: Mono, c: Rational) -> Option<()> {
        let sum = match self.0.get(&m) {
            Some(old) => old.add(c)?,
            None => c,
        };
        if sum.is_zero() {
            self.0.remove(&m);
        } else {
            self.0.insert(m, sum);
        }
        if self.0.len() > MAX_TERMS {
            return None;
        }
        Some(())
    }

    fn add(&self, o: &Poly) -> Option<Poly> {
        let mut out = self.clone();
        for (m, c) in &o.0 {
            out.add_term(m.clone(), *c)?;
        }
        Some(out)
    }

    fn neg(&self) -> Option<Poly> {
        let mut out = BTreeMap::new();
        for (m, c) in &self.0 {
            out.insert(m.clone(), c.neg()?);
        }
        Some(Poly(out))
    }

    fn sub(&self, o: &Poly) -> Option<Poly> {
        self.add(&o.neg()?)
    }

    fn scale(&self, k: Rational) -> Option<Poly> {
        let mut out = Poly::zero();
        for (m, c) in &self.0 {
            out.add_term(m.clone(), c.mul(k)?)?;
        }
        Some(out)
    }

    fn mul(&self, o: &Poly) -> Option<Poly> {
        if self.0.len().saturating_mul(o.0.len()) > MAX_TERMS * MAX_TERMS {
            return None;
        }
        let mut out = Poly::zero();
        for (ma, ca) in &self.0 {
            for (mb, cb) in &o.0 {
                let (m, k) = ma.mul(mb)?;
                out.add_term(m, ca.mul(*cb)?.mul(k)?)?;
            }
        }
        Some(out)
    }

    /// `1/self` when the denominator is a monomial or a constant (rationalised by
    /// multiplying with its conjugates); `None` for symbolic sums.
    fn inverse(&self) -> Option<Poly> {
        if self.0.len() == 1 {
            let (m, c) = self.0.iter().next()?;
            return mono_inverse(m, *c);
        }
        if self.is_zero() || self.0.keys().any(|m| !m.syms.is_empty()) {
            return None;
        }
        let mut num = Poly::constant(Rational::integer(1)?);
        let mut den = self.clone();
        for _ in 0..8 {
            if let Some(r) = den.as_rational() {
                return if r.is_zero() {
                    None
                } else {
                    num.scale(Rational::integer(1)?.div(r)?)
                };
            }
            let conj = den.conjugate()?;
            num = num.mul(&conj)?;
            den = den.mul(&conj)?;
        }
        None
    }

    /// The image of `self` under the automorphism that negates `i` (if present) or else the
    /// square root of one prime dividing a radicand. The product with it loses that generator.
    fn conjugate(&self) -> Option<Poly> {
        let flip: Box<dyn Fn(&Mono) -> bool> = if self.0.keys().any(|m| m.imag) {
            Box::new(|m: &Mono| m.imag)
        } else {
            let rad = self.0.keys().map(|m| m.rad).find(|&r| r > 1)?;
            let p = smallest_prime_factor(rad);
            Box::new(move |m: &Mono| m.rad % p == 0)
        };
        let mut out = Poly::zero();
        for (m, c) in &self.0 {
            let c = if flip(m) { c.neg()? } else { *c };
            out.add_term(m.clone(), c)?;
        }
        Some(out)
    }

    fn pow(&self, exp: Rational) -> Option<Poly> {
        if exp.is_integer() {
            let n = exp.numer();
            if self.0.len() == 1 {
                let (m, c) = self.0.iter().next()?;
                return mono_pow(m, *c, n);
            }
            if self.is_zero() {
                return if n > 0 { Some(Poly::zero()) } else { None };
            }
            if n.abs() > MAX_SUM_POWER {
                return None;
            }
            let mut out = Poly::constant(Rational::integer(1)?);
            for _ in 0..n.abs() {
                out = out.mul(self)?;
            }
            return if n < 0 { out.inverse() } else { Some(out) };
        }
        // Fractional powers of rational constants only.
        let base = self.as_rational()?;
        let (p, q) = (exp.numer(), exp.denom());
        if q == 2 {
            return root_of_rational(base)?.pow(Rational::integer(p)?);
        }
        let root = exact_root(base, q)?;
        Poly::constant(root).pow(Rational::integer(p)?)
    }
}

fn mono_inverse(m: &Mono, c: Rational) -> Option<Poly> {
    let mut coef = Rational::integer(1)?.div(c)?;
    let syms = m.syms.iter().map(|(s, e)| (s.clone(), -e)).collect();
    if m.rad > 1 {
        // 1/√r = √r/r
        coef = coef.div(Rational::integer(m.rad)?)?;
    }
    if m.imag {
        // 1/i = -i
        coef = coef.neg()?;
    }
    Some(Poly::term(
        Mono {
            syms,
            rad: m.rad,
            imag: m.imag,
        },
        coef,
    ))
}

fn mono_pow(m: &Mono, c: Rational, n: i128) -> Option<Poly> {
    if n == 0 {
        return Some(Poly::constant(Rational::integer(1)?));
    }
    if c.is_zero() {
        return if n > 0 { Some(Poly::zero()) } else { None };
    }
    let n32 = i32::try_from(n).ok()?;
    let mut syms = Vec::with_capacity(m.syms.len());
    for (s, e) in &m.syms {
        let e = e.checked_mul(n32)?;
        if e.abs() > MAX_SYMBOL_EXP {
            return None;
        }
        syms.push((s.clone(), e));
    }
    let mut coef = c.pow(n)?;
    // √r^n = r^floor(n/2) · √r^(n mod 2)
    let mut rad = 1;
    if m.rad > 1 {
        coef = coef.mul(Rational::integer(m.rad)?.pow(n.div_euclid(2))?)?;
        if n.rem_euclid(2) == 1 {
            rad = m.rad;
        }
    }
    let mut imag = false;
    if m.imag {
        match n.rem_euclid(4) {
            1 => imag = true,
            2 => coef = coef.neg()?,
            3 => {
                imag = true;
                coef = coef.neg()?;
            }
            _ => {}
        }
    }
    Some(Poly::term(Mono { syms, rad, imag }, coef))
}

fn smallest_prime_factor(n: i128) -> i128 {
    let mut p = 2;
    while p * p <= n {
        if n % p == 0 {
            return p;
        }
        p += 1;
    }
    n
}

/// `√q` for a rational `q` as `s·√r` (times `i` when negative).
fn root_of_rational(q: Rational) -> Option<Poly> {
    if q.is_zero() {
        return Some(Poly::zero());
    }
    let (n, d) = (q.numer(), q.denom());
    // √(n/d) = √(|n|·d)/d
    let m = n.checked_abs()?.checked_mul(d)?;
    if m > MAX_RADICAND {
        return None;
    }
    let (mut square, mut free, mut rest) = (1i128, 1i128, m);
    let mut p = 2i128;
    while p * p <= rest {
        let mut count = 0;
        while rest % p == 0 {
            rest /= p;
            count += 1;
        }
        for _ in 0..count / 2 {
            square *= p;
        }
        if count % 2 == 1 {
            free *= p;
        }
        p += 1;
    }
    free *= rest;
    let coef = Rational::new(square, d)?;
    Some(Poly::term(
        Mono {
            syms: Vec::new(),
            rad: free,
            imag: n < 0,
        },
        coef,
    ))
}

/// The exact `q`-th root of a rational, if it is rational.
fn exact_root(x: Rational, q: i128) -> Option<Rational> {
    if !(2..=64).contains(&q) {
        return None;
    }
    let neg = x.numer() < 0;
    if neg && q % 2 == 0 {
        return None;
    }
    let n = integer_root(x.numer().checked_abs()?, q)?;
    let d = integer_root(x.denom(), q)?;
    let r = Rational::new(n, d)?;
    if neg {
        r.neg()
    } else {
        Some(r)
    }
}

fn integer_root(v: i128, q: i128) -> Option<i128> {
    if v < 2 {
        return Some(v);
    }
    let guess = (v as f64).powf(1.0 / q as f64).round() as i128;
    let exp = u32::try_from(q).ok()?;
    (guess.saturating_sub(1)..=guess.saturating_add(1))
        .find(|&c| c >= 0 && c.checked_pow(exp) == Some(v))
}

/// Greek letters read as variables.
const GREEK: [&str; 18] = [
    "alpha", "beta", "gamma", "delta", "theta", "lambda", "mu", "phi", "varphi", "psi", "omega",
    "sigma", "tau", "rho", "epsilon", "eta", "xi", "nu",
];

/// The numeric value of a constant answer (no variables, real), for tolerances and rounding.
pub fn numeric_value(s: &str) -> Option<f64> {
    parse(s)?.value()
}

impl Poly {
    /// The value of a real constant (no variables, no imaginary part).
    fn value(&self) -> Option<f64> {
        let mut total = 0.0;
        for (m, c) in &self.0 {
            if m.imag {
                return None;
            }
            let mut v = c.to_f64() * (m.rad as f64).sqrt();
            for (sym, e) in &m.syms {
                let base = match sym {
                    Sym::Pi => std::f64::consts::PI,
                    Sym::E => std::f64::consts::E,
                    Sym::Var(_) => return None,
                };
                v *= base.powi(*e);
            }
            total += v;
        }
        total.is_finite().then_some(total)
    }

    /// `|v|`, `⌊v⌋`, `⌈v⌉` of a real constant: exact for rationals, else from its value when
    /// that is clearly away from the point where the result changes.
    fn apply(&self, f: Rounding) -> Option<Poly> {
        if let Some(r) = self.as_rational() {
            let out = match f {
                Rounding::Abs => {
                    if r.numer() < 0 {
                        r.neg()?
                    } else {
                        r
                    }
                }
                Rounding::Floor => r.floor()?,
                Rounding::Ceil => r.neg()?.floor()?.neg()?,
            };
            return Some(Poly::constant(out));
        }
        let v = self.value()?;
        match f {
            Rounding::Abs => {
                if v.abs() < 1e-9 {
                    return None;
                }
                if v < 0.0 {
                    self.neg()
                } else {
                    Some(self.clone())
                }
            }
            Rounding::Floor | Rounding::Ceil => {
                if (v - v.round()).abs() < 1e-9 || v.abs() > 1e15 {
                    return None;
                }
                let n = if f == Rounding::Floor {
                    v.floor()
                } else {
                    v.ceil()
                };
                Some(Poly::constant(Rational::integer(n as i128)?))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rounding {
    Abs,
    Floor,
    Ceil,
}

/// Parses a normalised answer into its canonical form; `None` outside the algebra.
pub fn parse(s: &str) -> Option<Poly> {
    if s.is_empty() || s.len() > MAX_LEN || has_plain_word(s, 3) {
        return None;
    }
    expr::read(s, Algebra).map(|(v, _)| v)
}

/// Whether two normalised answers are equal in this algebra; `None` when either side is
/// outside it. Equations compare as equations: `y=2x+1` equals `2y-4x=2`.
pub fn equal(a: &str, b: &str) -> Option<bool> {
    let (sa, sb) = (top_level_eq(a), top_level_eq(b));
    match (sa, sb) {
        (Some((la, ra)), Some((lb, rb))) => {
            let da = parse(la)?.sub(&parse(ra)?)?;
            let db = parse(lb)?.sub(&parse(rb)?)?;
            Some(proportional(&da, &db)?)
        }
        (Some((l, r)), None) | (None, Some((l, r))) => {
            // `y = 2x+1` against `2x+1`: an assignment to a single variable.
            let other = if sa.is_some() { b } else { a };
            let lhs = l.trim();
            let single = lhs.len() == 1 && lhs.as_bytes()[0].is_ascii_alphabetic();
            if !single {
                return None;
            }
            Some(parse(r)? == parse(other)?)
        }
        (None, None) => {
            if let (Some(x), Some(y)) = (parse(a), parse(b)) {
                return Some(x == y);
            }
            // Quotients with symbolic denominators: `p1/q1 = p2/q2` exactly when
            // `p1·q2 = p2·q1` (polynomials over a field form an integral domain).
            let (p1, q1) = quotient(a)?;
            let (p2, q2) = quotient(b)?;
            Some(p1.mul(&q2)? == p2.mul(&q1)?)
        }
    }
}

/// `s` as a quotient `(numerator, denominator)` of values of this algebra: a plain value
/// (denominator 1), `\frac{p}{q}`, `-\frac{p}{q}` or `p/q` at the top level. The
/// denominator is never zero.
fn quotient(s: &str) -> Option<(Poly, Poly)> {
    if s.len() > MAX_LEN || has_plain_word(s, 3) {
        return None;
    }
    if let Some(v) = parse(s) {
        return Some((v, Poly::constant(Rational::ONE)));
    }
    let (body, negate) = match s.strip_prefix('-') {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let (num, den) = if let Some(rest) = body.strip_prefix("\\frac{") {
        let (n, after) = split_group(rest)?;
        let d = after.strip_prefix('{')?;
        let (d, tail) = split_group(d)?;
        if !tail.is_empty() {
            return None;
        }
        (n, d)
    } else {
        let slash = top_level_slash(body)?;
        (&body[..slash], &body[slash + 1..])
    };
    let mut p = parse(num)?;
    let q = parse(den)?;
    if q.is_zero() {
        return None;
    }
    if negate {
        p = p.neg()?;
    }
    Some((p, q))
}

/// The content of a brace group whose `{` was just consumed, and the text after its `}`.
fn split_group(s: &str) -> Option<(&str, &str)> {
    let mut depth = 1usize;
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&s[..i], &s[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

/// The position of the only `/` outside brackets.
fn top_level_slash(s: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut found = None;
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b'/' if depth == 0 => {
                if found.is_some() {
                    return None;
                }
                found = Some(i);
            }
            _ => {}
        }
    }
    found
}

/// Splits `l=r` at its single top-level `=`.
fn top_level_eq(s: &str) -> Option<(&str, &str)> {
    let pos = s.find('=')?;
    if s[pos + 1..].contains('=') || s[..pos].ends_with(['<', '>', '!', '\\']) {
        return None;
    }
    Some((&s[..pos], &s[pos + 1..]))
}

/// `b = k·a` for a non-zero rational `k`.
fn proportional(a: &Poly, b: &Poly) -> Option<bool> {
    if a.is_zero() || b.is_zero() {
        return Some(a.is_zero() && b.is_zero());
    }
    let (m, ca) = a.0.iter().next()?;
    let Some(cb) = b.0.get(m) else {
        return Some(false);
    };
    let k = cb.div(*ca)?;
    Some(a.scale(k)? == *b)
}

/// The grammar's domain of this algebra: spaces, implicit products (`2x`, `3\sqrt{2}`),
/// variables, `\pi`, `e`, `i`, roots, factorials, `|x|`, `\lfloor x \rfloor`, `\binom`, `\log_b`.
struct Algebra;

impl Domain for Algebra {
    type Value = Poly;
    const SPACES: bool = true;
    const SIGNED_EXPONENT: bool = true;
    const MAX_DEPTH: usize = 48;

    fn add(&mut self, a: Poly, b: Poly) -> Option<Poly> {
        a.add(&b)
    }

    fn sub(&mut self, a: Poly, b: Poly) -> Option<Poly> {
        a.sub(&b)
    }

    fn mul(&mut self, a: Poly, b: Poly) -> Option<Poly> {
        a.mul(&b)
    }

    fn div(&mut self, a: Poly, b: Poly) -> Option<Poly> {
        a.mul(&b.inverse()?)
    }

    fn neg(&mut self, a: Poly) -> Option<Poly> {
        a.neg()
    }

    fn pow(&mut self, base: Poly, exp: Poly) -> Option<Poly> {
        base.pow(exp.as_rational()?)
    }

    fn digit(&mut self, d: u8) -> Option<Poly> {
        Some(Poly::constant(Rational::integer(i128::from(d))?))
    }

    fn factorial(&mut self, v: Poly) -> Option<Poly> {
        let n = v.as_rational()?;
        if !n.is_integer() || !(0..=33).contains(&n.numer()) {
            return None;
        }
        let mut f = Rational::integer(1)?;
        for k in 2..=n.numer() {
            f = f.mul(Rational::integer(k)?)?;
        }
        Some(Poly::constant(f))
    }

    fn starts_factor(next: u8, command: Option<&str>) -> bool {
        match next {
            b'\\' => !matches!(
                command,
                Some("cdot" | "times" | "div" | "rfloor" | "rceil") | None
            ),
            b => b.is_ascii_alphanumeric() || b == b'(' || b == b'{',
        }
    }

    fn atom(p: &mut Parser<'_, Self>) -> Option<Poly> {
        match p.peek()? {
            b'0'..=b'9' | b'.' => p.number(),
            b'|' => {
                p.pos += 1;
                let v = p.expr()?;
                if !p.eat("|") {
                    return None;
                }
                v.apply(Rounding::Abs)
            }
            b'\\' => p.command_atom(),
            b'i' => {
                p.pos += 1;
                Poly::imaginary_unit()
            }
            b'e' => {
                p.pos += 1;
                Some(Poly::sym(Sym::E))
            }
            b if b.is_ascii_alphabetic() => {
                p.pos += 1;
                let mut name = char::from(b).to_string();
                name.push_str(&p.subscript()?);
                Some(Poly::sym(Sym::Var(name)))
            }
            _ => None,
        }
    }
}

impl Parser<'_, Algebra> {
    /// `_1`, `_{12}`, `_n` after a variable, as text; empty when there is none.
    fn subscript(&mut self) -> Option<String> {
        if self.s.get(self.pos) != Some(&b'_') {
            return Some(String::new());
        }
        self.pos += 1;
        match self.s.get(self.pos)? {
            b'{' => {
                let rest = &self.src[self.pos + 1..];
                let end = rest.find('}')?;
                let inner = &rest[..end];
                if inner.is_empty() || !inner.bytes().all(|c| c.is_ascii_alphanumeric()) {
                    return None;
                }
                self.pos += end + 2;
                Some(format!("_{inner}"))
            }
            c if c.is_ascii_alphanumeric() => {
                let c = char::from(*c);
                self.pos += 1;
                Some(format!("_{c}"))
            }
            _ => None,
        }
    }

    /// A decimal literal (`12`, `1.5`, `1.5e3`), read exactly by [`parse_number`].
    fn number(&mut self) -> Option<Poly> {
        let start = self.pos;
        let mut end = start;
        while end < self.s.len() && (self.s[end].is_ascii_digit() || self.s[end] == b'.') {
            end += 1;
        }
        // Scientific notation: `1.5e3`, `2E-4`.
        let rest = &self.s[end..];
        if matches!(rest.first(), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(rest.get(1), Some(b'-' | b'+')));
            if rest.get(1 + sign).is_some_and(u8::is_ascii_digit) {
                end += 1 + sign;
                while end < self.s.len() && self.s[end].is_ascii_digit() {
                    end += 1;
                }
            }
        }
        let value = parse_number(&self.src[start..end])?;
        self.pos = end;
        Some(Poly::constant(value))
    }

    fn command_atom(&mut self) -> Option<Poly> {
        let name = self.command()?;
        self.pos += 1 + name.len();
        match name {
            "sqrt" => {
                let (index, arg) = self.root_args()?;
                let index = match index {
                    Some(text) => {
                        let idx = parse_number(text.trim())?;
                        if !idx.is_integer() || !(2..=64).contains(&idx.numer()) {
                            return None;
                        }
                        idx.numer()
                    }
                    None => 2,
                };
                arg.pow(Rational::new(1, index)?)
            }
            "binom" => {
                let n = self.group()?.as_rational()?;
                let k = self.group()?.as_rational()?;
                binomial(n, k).map(Poly::constant)
            }
            "log" => self.log(),
            "lfloor" | "lceil" => {
                let v = self.expr()?;
                let (close, f) = if name == "lfloor" {
                    ("\\rfloor", Rounding::Floor)
                } else {
                    ("\\rceil", Rounding::Ceil)
                };
                if !self.eat(close) {
                    return None;
                }
                v.apply(f)
            }
            "pi" => Some(Poly::sym(Sym::Pi)),
            g if GREEK.contains(&g) => Some(Poly::sym(Sym::Var(format!("\\{g}")))),
            _ => None,
        }
    }

    /// `\log_b x` after `\log`: an integer base `b` (`_2` or `_{10}`) and an exact argument
    /// (`8`, `{8}`, `(8)`), evaluated only when `x` is an exact power of `b`.
    fn log(&mut self) -> Option<Poly> {
        if self.s.get(self.pos) != Some(&b'_') {
            return None;
        }
        self.pos += 1;
        let base = match *self.s.get(self.pos)? {
            b'{' => self.group()?.as_rational()?,
            c if c.is_ascii_digit() => {
                self.pos += 1;
                Rational::integer(i128::from(c - b'0'))?
            }
            _ => return None,
        };
        let arg = match self.peek()? {
            b'{' => self.group()?,
            b'(' => self.parens()?,
            b'0'..=b'9' => {
                let v = self.number()?;
                // `\log_2 8x` or `\log_2 8^2`: the argument's extent is unclear.
                if self.starts_factor() || self.peek() == Some(b'^') {
                    return None;
                }
                v
            }
            _ => return None,
        };
        exact_log(base, arg.as_rational()?).map(Poly::constant)
    }
}

/// `log_b x` when it is rational: `b = c^m` for the smallest integer root `c` of `b`, and
/// `x = c^n` (`n` may be negative), giving `n/m`. `None` otherwise (irrational or unknown).
fn exact_log(b: Rational, x: Rational) -> Option<Rational> {
    if !b.is_integer() || b.numer() < 2 || x.numer() <= 0 {
        return None;
    }
    let b = b.numer();
    let (c, m) = (2..=127)
        .rev()
        .find_map(|m| integer_root(b, m).filter(|&c| c >= 2).map(|c| (c, m)))
        .unwrap_or((b, 1));
    let (mut v, sign) = match (x.numer(), x.denom()) {
        (n, 1) => (n, 1),
        (1, d) => (d, -1),
        _ => return None,
    };
    let mut n: i128 = 0;
    while v > 1 {
        if v % c != 0 {
            return None;
        }
        v /= c;
        n += 1;
    }
    Rational::new(sign * n, m)
}

fn binomial(n: Rational, k: Rational) -> Option<Rational> {
    if !n.is_integer() || !k.is_integer() {
        return None;
    }
    let (n, k) = (n.numer(), k.numer());
    if !(0..=200).contains(&n) || k < 0 || k > n {
        return if (0..=200).contains(&n) {
            Rational::integer(0)
        } else {
            None
        };
    }
    let k = k.min(n - k);
    let mut r = Rational::integer(1)?;
    for j in 0..k {
        r = r.mul(Rational::new(n - j, j + 1)?)?;
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_table() {
        let cases: &[(&str, &str, Option<bool>)] = &[
            ("3+4i", "4i+3", Some(true)),
            ("3+4i", "3-4i", Some(false)),
            ("14.0-1.0i", "14-i", Some(true)),
            ("i^2", "-1", Some(true)),
            ("i^3", "-i", Some(true)),
            ("\\frac{1}{i}", "-i", Some(true)),
            ("\\frac{1+i}{1-i}", "i", Some(true)),
            ("2\\pi", "\\pi\\cdot2", Some(true)),
            ("2\\pi", "\\pi", Some(false)),
            ("\\frac{\\pi}{2}", "\\pi/2", Some(true)),
            ("2e", "e\\cdot2", Some(true)),
            ("e^{2}", "e^2", Some(true)),
            ("e", "\\pi", Some(false)),
            ("2\\sqrt{2}", "\\sqrt{8}", Some(true)),
            ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", Some(true)),
            ("\\sqrt{2}/2", "\\frac{\\sqrt{2}}{2}", Some(true)),
            ("\\sqrt{3}", "\\sqrt{2}", Some(false)),
            ("3\\sqrt{2}", "\\sqrt{18}", Some(true)),
            ("\\frac{3}{\\sqrt{3}}", "\\sqrt{3}", Some(true)),
            ("\\frac{1}{1+\\sqrt{2}}", "\\sqrt{2}-1", Some(true)),
            (
                "\\frac{1}{\\sqrt{2}+\\sqrt{3}}",
                "\\sqrt{3}-\\sqrt{2}",
                Some(true),
            ),
            ("\\sqrt{6}", "\\sqrt{2}\\sqrt{3}", Some(true)),
            ("\\sqrt{-4}", "2i", Some(true)),
            ("\\sqrt[3]{8}", "2", Some(true)),
            ("\\sqrt[3]{2}", "2", None),
            ("4^{\\frac{1}{2}}", "2", Some(true)),
            ("x^2+2x+1", "(x+1)^2", Some(true)),
            ("x^2+2x+1", "(x-1)^2", Some(false)),
            ("(x+1)(x-1)", "x^2-1", Some(true)),
            ("\\frac{x+1}{2}", "\\frac{x}{2}+\\frac{1}{2}", Some(true)),
            ("\\frac{1}{x+1}", "1", Some(false)),
            ("\\frac{2}{2x+2}", "\\frac{1}{x+1}", Some(true)),
            ("\\frac{x^2-1}{x-1}", "x+1", Some(true)),
            ("\\frac{x}{x+1}", "\\frac{1}{x+1}", Some(false)),
            ("-\\frac{1}{x+1}", "\\frac{1}{-x-1}", Some(true)),
            ("1/(x+1)", "\\frac{1}{x+1}", Some(true)),
            ("\\frac{x+y}{x^2-y^2}", "\\frac{1}{x-y}", Some(true)),
            ("\\frac{1}{x+1}", "\\frac{1}{x+2}", Some(false)),
            ("\\frac{1}{x-x}", "1", None),
            ("\\frac{\\sin x}{x}", "1", None),
            ("\\log_28", "3", Some(true)),
            ("\\log_216", "3", Some(false)),
            ("\\log_2{16}", "4", Some(true)),
            ("\\log_{10}(1000)", "3", Some(true)),
            ("\\log_4 2", "\\frac{1}{2}", Some(true)),
            ("\\log_8 4", "\\frac{2}{3}", Some(true)),
            ("\\log_2{\\frac{1}{8}}", "-3", Some(true)),
            ("\\log_3 1", "0", Some(true)),
            ("\\log_2 3", "1", None),
            ("\\log_2 8x", "3x", None),
            ("\\log_1 1", "0", None),
            ("\\log 100", "2", None),
            ("33!", "8683317618811886495518194401280000000", Some(true)),
            ("34!", "1", None),
            ("xy", "yx", Some(true)),
            ("a_1+a_{2}", "a_2+a_1", Some(true)),
            ("2\\theta", "\\theta+\\theta", Some(true)),
            ("5!", "120", Some(true)),
            ("\\binom{5}{2}", "10", Some(true)),
            ("1.5e3", "1500", Some(true)),
            ("y=2x+1", "y=1+2x", Some(true)),
            ("y=2x+1", "2y-4x=2", Some(true)),
            ("y=2x+1", "y=2x-1", Some(false)),
            ("y=2x+1", "2x+1", Some(true)),
            ("\\sin x", "1", None),
            ("evelyn", "e", None),
            ("\\infty", "1", None),
            ("x^n", "x", None),
            ("2^{1000}", "1", None),
        ];
        for (a, b, want) in cases {
            assert_eq!(equal(a, b), *want, "{a:?} vs {b:?}");
            assert_eq!(equal(b, a), *want, "{b:?} vs {a:?}");
        }
    }

    #[test]
    fn hostile_inputs_are_bounded() {
        let _ = parse(&"(x+1)^{24}".repeat(4));
        let _ = parse("(x+y+z+w)^{24}");
        let _ = parse(&"\\sqrt{".repeat(1000));
        let _ = parse(&("(".repeat(5000) + "1" + &")".repeat(5000)));
        let _ = parse("\\sqrt{999999999989}\\sqrt{999999999959}");
        let _ = parse("\\frac{1}{\\sqrt{2}+\\sqrt{3}+\\sqrt{5}+\\sqrt{7}+\\sqrt{11}+\\sqrt{13}}");
        let _ = parse("x^{256}x^{256}");
        let _ = parse("30!!!");
        let _ = parse("\\binom{100}{50}");
        for s in [
            "", "\\", "^", "x^", "\\frac{", "\\sqrt[", "_", "x_", "x_{", "é", "1e", "!",
        ] {
            let _ = parse(s);
        }
    }
}
