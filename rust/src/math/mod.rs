//! Math answers: extraction of the final answer from a completion, normalisation, and a fast
//! exact comparison with the gold answer.
//!
//! [`check_math`] decides what it can decide exactly (equal normalised strings, exact rational
//! numbers, tuples, intervals, sets, matrices) and reports [`MathStatus::Undecided`] for
//! symbolic answers, which the Python layer hands to a CAS in a worker process.

mod algebra;
mod compare;
mod expr;
mod extract;
mod normalize;
mod number;
mod numeric;

pub use extract::{
    extract_answer, extract_answer_opts, extract_answer_with, extract_choice, last_box,
};
pub use normalize::normalize_answer;

use compare::{compare_with, Verdict};

/// Options of a math check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MathOptions {
    /// Require an answer marker or a concluding sentence (see [`extract_answer_opts`]); when
    /// false, the last math span or number of the completion also counts.
    pub anchored: bool,
    /// Strict no-marker policy: a completion without a box, an answer phrase or a bold final
    /// value has no answer (its concluding sentence is not read).
    pub strict: bool,
    /// Relative tolerance for numbers (`|a − b| ≤ rel_tol · max(|a|, |b|)`); `0.0`, the
    /// default, compares exactly.
    pub rel_tol: f64,
}

impl Default for MathOptions {
    fn default() -> Self {
        MathOptions {
            anchored: true,
            strict: false,
            rel_tol: 0.0,
        }
    }
}

/// The outcome of checking a math completion against its gold answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MathStatus {
    /// The extracted answer equals the gold answer.
    Correct,
    /// The extracted answer is a decidable value that differs from the gold answer.
    WrongAnswer,
    /// The completion has no final answer (no box, no answer phrase, or a truncated box).
    NoAnswer,
    /// The fast path cannot decide (symbolic expressions); a CAS must.
    Undecided,
}

impl MathStatus {
    /// The verdict status string: `correct`, `wrong_answer`, `no_answer`, `undecided`.
    pub fn as_str(&self) -> &'static str {
        match self {
            MathStatus::Correct => "correct",
            MathStatus::WrongAnswer => "wrong_answer",
            MathStatus::NoAnswer => "no_answer",
            MathStatus::Undecided => "undecided",
        }
    }
}

/// A math verdict: status, the raw extracted answer, and a short reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MathCheck {
    pub status: MathStatus,
    pub extracted: Option<String>,
    pub detail: Option<String>,
}

/// Extracts the final answer of `completion` and compares it with `gold`.
///
/// Never panics and runs in time roughly linear in the input size.
pub fn check_math(completion: &str, gold: &str) -> MathCheck {
    check_math_with(completion, gold, true)
}

/// [`check_math`] with a choice of anchoring: `anchored == false` also reads an answer that is
/// only the last math span or number of the completion (see [`extract_answer_with`]).
///
/// A gold answer that is a choice letter `A`–`E` (`C`, `(C)`, `\text{(C)}`) is checked as a
/// multiple-choice answer: the completion's letter is read with [`extract_choice`].
pub fn check_math_with(completion: &str, gold: &str, anchored: bool) -> MathCheck {
    check_math_opts(
        completion,
        gold,
        &MathOptions {
            anchored,
            ..MathOptions::default()
        },
    )
}

/// [`check_math`] with every option (see [`MathOptions`]).
///
/// Beyond exact comparison: a gold written as a rounded decimal (`3.606`) accepts a constant
/// that rounds to it at the gold's precision (`\sqrt{13}`) when the answer is not itself a
/// shorter decimal; a decimal comma (`0,25`) is read as a decimal point when the gold is one
/// number; and several written forms of one value (`\boxed{0.5}` or `\boxed{\frac12}`) count
/// as that value.
pub fn check_math_opts(completion: &str, gold: &str, opts: &MathOptions) -> MathCheck {
    let anchored = opts.anchored;
    let gold_answer = gold_answer(gold);
    let gold_norm = normalize_answer(&gold_answer);
    if let Some(gold_letter) = choice_letter(&gold_norm) {
        return check_choice(completion, gold_letter, anchored);
    }
    let Some(extracted) = extract_answer_opts(completion, anchored, opts.strict) else {
        let detail = if completion.contains("\\boxed") || completion.contains("\\fbox") {
            "unterminated \\boxed (truncated completion?)"
        } else {
            "no \\boxed answer or answer phrase found"
        };
        return verdict(MathStatus::NoAnswer, None, detail);
    };
    let pred = normalize_answer(&extracted);
    if pred.is_empty() {
        return verdict(
            MathStatus::NoAnswer,
            Some(extracted),
            "answer is empty after normalisation",
        );
    }
    if gold_norm.is_empty() {
        return verdict(
            MathStatus::Undecided,
            Some(extracted),
            "gold answer is empty",
        );
    }
    if pred == gold_norm {
        return verdict(
            MathStatus::Correct,
            Some(extracted),
            "normalised strings match",
        );
    }
    let outcome = compare_with(&pred, &gold_norm, opts.rel_tol);
    if outcome != Verdict::Equal {
        if let Some(detail) = lenient_equal(&pred, &gold_norm, opts.rel_tol) {
            return verdict(MathStatus::Correct, Some(extracted), detail);
        }
    }
    match outcome {
        Verdict::Equal => verdict(MathStatus::Correct, Some(extracted), "equal values"),
        Verdict::Different => {
            if percent_equal(&extracted, &pred, &gold_answer, &gold_norm) {
                return verdict(
                    MathStatus::Correct,
                    Some(extracted),
                    "equal as a percentage",
                );
            }
            let detail = format!(
                "{} differs from the gold {}",
                compare::describe(&pred),
                compare::describe(&gold_norm)
            );
            verdict(MathStatus::WrongAnswer, Some(extracted), &detail)
        }
        Verdict::Unknown => verdict(
            MathStatus::Undecided,
            Some(extracted),
            "symbolic comparison needed",
        ),
    }
}

/// The equalities beyond [`compare_with`] that depend on which side is the gold: a rounded
/// decimal gold, a decimal comma in the answer, and one value written several ways.
fn lenient_equal(pred: &str, gold: &str, rel_tol: f64) -> Option<&'static str> {
    if rounds_to(pred, gold) {
        return Some("rounds to the gold's decimal");
    }
    let single_gold = compare::as_number(gold).is_some();
    if single_gold {
        if let Some(decimal) = decimal_comma(pred) {
            if compare_with(&decimal, gold, rel_tol) == Verdict::Equal {
                return Some("equal with a decimal comma");
            }
        }
    }
    // `0.5, \frac{1}{2}`: every listed form equals the one-valued gold.
    if !gold.contains(',') {
        let parts = compare::split_list(pred);
        if parts.len() >= 2
            && parts.iter().all(|p| {
                let p = normalize_answer(p);
                p == gold || compare_with(&p, gold, rel_tol) == Verdict::Equal
            })
        {
            return Some("every written form equals the gold");
        }
    }
    None
}

/// `0,25` -> `0.25`: one comma between digits that is not a thousands separator.
fn decimal_comma(pred: &str) -> Option<String> {
    let (int, frac) = pred.split_once(',')?;
    let int_ok = {
        let digits = int.strip_prefix('-').unwrap_or(int);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    let frac_ok = !frac.is_empty() && frac.len() != 3 && frac.bytes().all(|b| b.is_ascii_digit());
    (int_ok && frac_ok).then(|| format!("{int}.{frac}"))
}

/// Whether `gold` is a decimal with `d ≥ 1` places and `pred` a real constant that rounds to it
/// at `d` places, `pred` not being itself a decimal of at most `d + 1` places (so `0.54` does
/// not pass for `0.5`, while `\sqrt{13}` and `3.60555` pass for `3.606`).
fn rounds_to(pred: &str, gold: &str) -> bool {
    let body = gold.strip_prefix('-').unwrap_or(gold);
    let Some((int, frac)) = body.split_once('.') else {
        return false;
    };
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || frac.is_empty()
        || frac.len() > 12
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return false;
    }
    let places = frac.len();
    let pred_body = pred.strip_prefix('-').unwrap_or(pred);
    if let Some((pi, pf)) = pred_body.split_once('.') {
        let plain =
            pi.bytes().all(|b| b.is_ascii_digit()) && pf.bytes().all(|b| b.is_ascii_digit());
        if plain && pf.len() <= places + 1 {
            return false;
        }
    }
    if pred_body.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let (Some(g), Some(p)) = (gold.parse::<f64>().ok(), algebra::numeric_value(pred)) else {
        return false;
    };
    let scale = 10f64.powi(places as i32);
    let half = 0.5 / scale;
    // Inside the rounding interval of the gold, with a margin for binary floating point.
    (p - g).abs() < half * (1.0 - 1e-9)
}

/// The gold's final answer, as [`check_math`] compares it: a gold written as a full solution
/// carries it in a box (read as [`extract_answer`] reads a completion); any other gold is its
/// own answer.
pub fn gold_answer(gold: &str) -> String {
    if gold.contains("\\boxed") || gold.contains("\\fbox") {
        extract_answer(gold).unwrap_or_else(|| gold.to_string())
    } else {
        gold.to_string()
    }
}

/// `A`–`E` when a normalised gold answer is a lone choice letter.
fn choice_letter(norm: &str) -> Option<char> {
    match norm.as_bytes() {
        [c @ b'A'..=b'E'] => Some(char::from(*c)),
        _ => None,
    }
}

fn check_choice(completion: &str, gold: char, anchored: bool) -> MathCheck {
    match extract_choice(completion, anchored) {
        Some((raw, letter)) if letter == gold => {
            verdict(MathStatus::Correct, Some(raw), "same choice letter")
        }
        Some((raw, letter)) => verdict(
            MathStatus::WrongAnswer,
            Some(raw),
            &format!("choice {letter} differs from the gold choice {gold}"),
        ),
        None => {
            let extracted = extract_answer_with(completion, anchored);
            let detail = if extracted.is_some() {
                "the gold is a choice letter and the answer names none"
            } else {
                "no choice letter found"
            };
            verdict(MathStatus::NoAnswer, extracted, detail)
        }
    }
}

fn verdict(status: MathStatus, extracted: Option<String>, detail: &str) -> MathCheck {
    MathCheck {
        status,
        extracted,
        detail: Some(detail.to_string()),
    }
}

fn has_percent(raw: &str) -> bool {
    raw.contains('%') || raw.to_ascii_lowercase().contains("percent")
}

/// When exactly one side is written as a percentage, `p%` also equals `p/100`
/// (gold `50\%` accepts `0.5`; gold `0.05` accepts `5\%`). Exact, no tolerance.
fn percent_equal(pred_raw: &str, pred: &str, gold_raw: &str, gold: &str) -> bool {
    let (pp, gp) = (has_percent(pred_raw), has_percent(gold_raw));
    if pp == gp {
        return false;
    }
    let (Some(p), Some(g)) = (compare::as_number(pred), compare::as_number(gold)) else {
        return false;
    };
    let Some(hundred) = number::Rational::integer(100) else {
        return false;
    };
    if pp {
        p.div(hundred) == Some(g)
    } else {
        g.div(hundred) == Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MathStatus::*;

    #[test]
    fn check_table() {
        let cases: &[(&str, &str, MathStatus)] = &[
            ("So the answer is $\\boxed{5}$.", "5", Correct),
            ("\\boxed{4}", "5", WrongAnswer),
            ("\\boxed{3} wait, no: \\boxed{4}", "4", Correct),
            ("\\boxed{3} wait, no: \\boxed{4}", "3", WrongAnswer),
            ("Therefore, the answer is 42.", "42", Correct),
            ("#### 1,000", "1000", Correct),
            ("Answer: 0.5", "\\frac{1}{2}", Correct),
            ("\\boxed{0.333}", "\\frac13", WrongAnswer),
            (
                "\\boxed{\\frac{1}{2^{99}}}",
                "\\frac{1}{2^{98}}",
                WrongAnswer,
            ),
            ("\\boxed{\\dfrac{14}{3}}", "\\frac{14}{3}", Correct),
            (
                "\\boxed{(3, \\frac{\\pi}{2})}",
                "\\left( 3, \\frac{\\pi}{2} \\right)",
                Correct,
            ),
            ("\\boxed{[1,2]}", "(1,2)", WrongAnswer),
            ("\\boxed{\\{2,1\\}}", "\\{1,2\\}", Correct),
            ("\\boxed{-2,1}", "1,-2", Correct),
            ("\\boxed{90}", "90^\\circ", Correct),
            ("\\boxed{5\\text{ cm}}", "5", Correct),
            ("\\boxed{x=5}", "5", Correct),
            ("\\boxed{Evelyn}", "\\text{Evelyn}", Correct),
            ("\\boxed{50\\%}", "50", Correct),
            ("\\boxed{0.5}", "50\\%", Correct),
            ("\\boxed{5\\%}", "0.05", Correct),
            ("\\boxed{5}", "0.05", WrongAnswer),
            ("\\boxed{10\\,000}", "10000", Correct),
            ("\\boxed{5.0}", "5", Correct),
            ("\\boxed{3\\frac12}", "\\frac72", Correct),
            ("\\boxed{\\frac{\\sqrt2}{2}}", "\\sqrt{2}/2", Correct),
            ("\\boxed{\\sin x}", "\\cos x", Undecided),
            ("\\boxed{\\pi\\cdot 2}", "2\\pi", Correct),
            ("\\boxed{11\\sqrt{2}}", "11\\sqrt2", Correct),
            ("\\boxed{C}", "\\text{(C)}", Correct),
            ("\\boxed{B}", "C", WrongAnswer),
            ("The answer is (C).", "C", Correct),
            ("So we pick $\\textbf{(C)}\\ 12$", "C", Correct),
            (
                "So we pick $\\textbf{(C)}\\ 12$",
                "\\textbf{(D)}",
                WrongAnswer,
            ),
            ("Answer: C", "(C)", Correct),
            ("The correct option is C) 12.", "C", Correct),
            ("The correct option is B) 12.", "C", WrongAnswer),
            ("\\boxed{12}", "C", NoAnswer),
            ("\\boxed{1.5e3}", "1500", Correct),
            ("\\boxed{1.5\\times10^{3}}", "1500", Correct),
            ("\\boxed{4i+3}", "3+4i", Correct),
            ("\\boxed{3-4i}", "3+4i", WrongAnswer),
            ("\\boxed{14.0 - 1.0i}", "14-i", Correct),
            ("\\boxed{e^2}", "e^{2}", Correct),
            ("\\boxed{\\frac{1}{2004!}}", "\\frac{1}{2006!}", WrongAnswer),
            ("\\boxed{\\frac{1}{2006!}}", "\\frac{1}{2006!}", Correct),
            ("\\boxed{3+2\\sqrt{2}}", "3\\pm2\\sqrt{2}", WrongAnswer),
            ("\\boxed{3\\pm2\\sqrt{2}}", "3+2\\sqrt{2}", WrongAnswer),
            ("\\boxed{-\\infty}", "\\infty", WrongAnswer),
            ("\\boxed{100}", "\\infty", WrongAnswer),
            ("\\boxed{\\infty}", "\\infty", Correct),
            ("\\boxed{\\frac{2}{2x+2}}", "\\frac{1}{x+1}", Correct),
            ("\\boxed{\\frac{2}{2x+1}}", "\\frac{1}{x+1}", WrongAnswer),
            ("\\boxed{\\log_2 8}", "3", Correct),
            ("\\boxed{\\log_2 16}", "3", WrongAnswer),
            ("\\boxed{\\log_2 3}", "1", Undecided),
            ("\\boxed{3:2}", "2:3", WrongAnswer),
            ("\\boxed{6:4}", "3:2", Correct),
            ("Compute $2+3$. Not sure.", "5", NoAnswer),
            ("I don't know.", "5", NoAnswer),
            ("\\boxed{12", "12", NoAnswer),
            ("\\boxed{$$}", "12", NoAnswer),
            ("\\boxed{5}", "The solution gives $\\boxed{5}$.", Correct),
        ];
        for (completion, gold, want) in cases {
            let got = check_math(completion, gold);
            assert_eq!(got.status, *want, "{completion:?} vs {gold:?}: {got:?}");
        }
    }

    /// The failure families of real answer forms: each row is (completion, gold, verdict).
    #[test]
    fn answer_forms_table() {
        let cases: &[(&str, &str, MathStatus)] = &[
            // 1. Times and zero parts are exact.
            ("\\boxed{11:00}", "2:00", WrongAnswer),
            ("\\boxed{0:3}", "0:8", WrongAnswer),
            ("\\boxed{4:30 \\text{ p.m.}}", "\\text{4:30 p.m.}", Correct),
            ("\\boxed{6:4}", "3:2", Correct),
            // 2. Several parts.
            ("So $\\boxed{4}$ and $\\boxed{7}$.", "4, 7", Correct),
            ("So $\\boxed{4}$ and $\\boxed{7}$.", "4", WrongAnswer),
            ("$y = \\boxed{-2}$ or $y = \\boxed{5}$", "-2, 5", Correct),
            ("\\boxed{3 \\text{ and } 9}", "3, 9", Correct),
            ("\\boxed{3}", "3, 9", WrongAnswer),
            ("\\boxed{3, 9, 12}", "3, 9", WrongAnswer),
            ("The roots are $t = -1$ and $t = 6$.", "6, -1", Correct),
            ("The roots are $t = -1$ and $t = 7$.", "6, -1", WrongAnswer),
            ("\\boxed{5}", "\\boxed{4}, \\boxed{5}", WrongAnswer),
            ("\\boxed{0.5} or \\boxed{\\frac{1}{2}}", "\\frac12", Correct),
            ("$\\boxed{28}$, or $\\boxed{28_9}$", "28_9", Correct),
            ("$\\boxed{28}$, or $\\boxed{29_9}$", "28_9", WrongAnswer),
            // 3. Chains.
            ("\\boxed{3^3 = 27}", "27", Correct),
            ("Thus $y = \\frac{12}{3} = 4$.", "4", Correct),
            ("\\boxed{p + q = q + p = 17}", "17", Correct),
            ("\\boxed{p + q = q + p = 18}", "17", WrongAnswer),
            ("\\boxed{x + y = 5}", "x - y = 5", WrongAnswer),
            // 4. Values that need evaluation.
            ("\\boxed{|-7|}", "7", Correct),
            ("\\boxed{\\lfloor 5.2 \\rfloor}", "5", Correct),
            ("\\boxed{\\lceil 1.4 \\rceil}", "2", Correct),
            ("\\boxed{\\lceil 1.4 \\rceil}", "1", WrongAnswer),
            ("\\boxed{\\{2,5\\} \\cup \\{7\\}}", "\\{2, 5, 7\\}", Correct),
            ("\\boxed{\\{2,5\\} \\cap \\{5\\}}", "\\{5\\}", Correct),
            ("\\boxed{\\dbinom{6}{2}}", "15", Correct),
            // 5. Labels.
            ("\\boxed{(a,b)=(5,1)}", "(5,1)", Correct),
            ("\\boxed{(5,1)}", "(a,b)=(5,1)", Correct),
            ("\\boxed{PQ=6, RS=2}", "6, 2", Correct),
            ("\\boxed{g(x)=3}", "3", Correct),
            ("\\boxed{S_{ABC}:S=3:11}", "3:11", Correct),
            ("\\boxed{0<g(t)<2}", "(0,2)", Correct),
            ("\\boxed{0<g(t)\\le 2}", "(0,2)", WrongAnswer),
            // 6. Relations.
            ("\\boxed{x \\geq 2}", "x >= 2", Correct),
            ("\\boxed{[2, \\infty)}", "x >= 2", Correct),
            ("\\boxed{x > 2}", "x >= 2", WrongAnswer),
            ("\\boxed{x \\lt 5}", "x<5", Correct),
            ("\\boxed{x ≤ 5}", "(-\\infty, 5]", Correct),
            // 7. Answer phrases with prose.
            ("Final Answer: The smallest $k$ is 12.", "12", Correct),
            (
                "\\boxed{11}\nFinal Answer: The final answer is 12.",
                "12",
                Correct,
            ),
            // 8. No marker.
            ("Altogether, there are 36 outcomes.", "36", Correct),
            ("We add them, so the sum is 19", "19", Correct),
            ("We add them, so the sum is 19", "20", WrongAnswer),
            // 9. Notation.
            ("\\boxed{0,25}", "0.25", Correct),
            ("\\boxed{0,26}", "0.25", WrongAnswer),
            ("\\boxed{1,5}", "1, 5", Correct),
            ("\\boxed{50 \\text{ percent}}", "50\\%", Correct),
            ("\\boxed{12 {, }345}", "12345", Correct),
            (
                "\\boxed{\\left[\\begin{array}{cc} 1 & 2 \\\\ 3 & 4 \\end{array}\\right]}",
                "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
                Correct,
            ),
            ("\\boxed{(1; 2)}", "(1, 2)", Correct),
            ("\\boxed{\\{-7, 7\\}}", "\\pm 7", Correct),
            ("\\boxed{{-7, 7}}", "\\pm 7", Correct),
            ("\\boxed{{-7, 8}}", "\\pm 7", WrongAnswer),
            ("\\boxed{3√13}", "3\\sqrt{13}", Correct),
            ("\\boxed{3√14}", "3\\sqrt{13}", WrongAnswer),
            // 10. Rounded decimal golds.
            ("\\boxed{\\sqrt{13}}", "3.606", Correct),
            ("\\boxed{\\sqrt{14}}", "3.606", WrongAnswer),
            ("\\boxed{3.60555}", "3.606", Correct),
            ("\\boxed{3.6056}", "3.606", WrongAnswer),
            ("\\boxed{0.54}", "0.5", WrongAnswer),
            ("\\boxed{3.61}", "3.606", WrongAnswer),
            ("\\boxed{2\\pi}", "6.28", Correct),
            ("\\boxed{4}", "3.9", WrongAnswer),
        ];
        for (completion, gold, want) in cases {
            let got = check_math(completion, gold);
            assert_eq!(got.status, *want, "{completion:?} vs {gold:?}: {got:?}");
        }
    }

    #[test]
    fn options() {
        let strict = MathOptions {
            strict: true,
            ..MathOptions::default()
        };
        let text = "Altogether, there are 36 outcomes.";
        assert_eq!(check_math_opts(text, "36", &strict).status, NoAnswer);
        assert_eq!(
            check_math_opts("\\boxed{36}", "36", &strict).status,
            Correct
        );
        let loose = MathOptions {
            rel_tol: 1e-3,
            ..MathOptions::default()
        };
        assert_eq!(check_math("\\boxed{3.1416}", "3.1415").status, WrongAnswer);
        assert_eq!(
            check_math_opts("\\boxed{3.1416}", "3.1415", &loose).status,
            Correct
        );
        assert_eq!(
            check_math_opts("\\boxed{3.2}", "3.1415", &loose).status,
            WrongAnswer
        );
        assert_eq!(
            check_math_opts("\\boxed{\\pi}", "3.1416", &loose).status,
            Correct
        );
        assert_eq!(
            check_math_opts("\\boxed{(1, 2.0001)}", "(1,2)", &loose).status,
            Correct
        );
        let nan = MathOptions {
            rel_tol: f64::NAN,
            ..MathOptions::default()
        };
        assert_eq!(
            check_math_opts("\\boxed{3.1416}", "3.1415", &nan).status,
            WrongAnswer
        );
    }

    #[test]
    fn unanchored_option() {
        let loose = check_math_with("We compute $2+3$ and stop.", "2+3", false);
        assert_eq!(loose.status, Correct);
        let strict = check_math_with("We compute $2+3$ and stop.", "2+3", true);
        assert_eq!(strict.status, NoAnswer);
        assert_eq!(check_math_with("It is B) here", "B", false).status, Correct);
        assert_eq!(check_math_with("It is B) here", "B", true).status, NoAnswer);
    }

    #[test]
    fn status_strings() {
        assert_eq!(Correct.as_str(), "correct");
        assert_eq!(WrongAnswer.as_str(), "wrong_answer");
        assert_eq!(NoAnswer.as_str(), "no_answer");
        assert_eq!(Undecided.as_str(), "undecided");
    }

    #[test]
    fn extracted_is_raw() {
        let got = check_math("so \\boxed{\\dfrac{1}{2}}", "0.5");
        assert_eq!(got.extracted.as_deref(), Some("\\dfrac{1}{2}"));
        assert_eq!(got.status, Correct);
    }

    #[test]
    fn pathological_inputs_do_not_panic() {
        let deep = format!("\\boxed{{{}1{}}}", "{".repeat(10_000), "}".repeat(10_000));
        let _ = check_math(&deep, "1");
        let _ = check_math("\\boxed{1}", &deep);
        let mb = "é \\frac{ ( [ \\{ ".repeat(70_000);
        let _ = check_math(&mb, &mb);
        let mb_box = format!("\\boxed{{{}}}", "1,".repeat(500_000));
        let _ = check_math(&mb_box, &mb_box[..mb_box.len() / 2]);
        let tower = "\\boxed{\\dfrac{5^{\\left(5^{\\left(5^{\\left(5^5\\right)}\\right)} - 4\\right)} - 5}{16}}";
        let got = check_math(tower, "1");
        assert_eq!(got.status, Undecided);
    }
}
