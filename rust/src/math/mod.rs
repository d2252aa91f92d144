//! Math answers: extraction of the final answer from a completion, normalisation, and a fast
//! exact comparison with the gold answer.
//!
//! [`check_math`] decides what it can decide exactly (equal normalised strings, exact rational
//! numbers, tuples, intervals, sets, matrices) and reports [`MathStatus::Undecided`] for
//! symbolic answers, which the Python layer hands to a CAS in a worker process.

mod algebra;
mod compare;
mod extract;
mod normalize;
mod number;

pub use extract::{extract_answer, extract_answer_with, extract_choice};
pub use normalize::normalize_answer;

use compare::{compare, Verdict};

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
    let gold_answer = gold_answer(gold);
    let gold_norm = normalize_answer(&gold_answer);
    if let Some(gold_letter) = choice_letter(&gold_norm) {
        return check_choice(completion, gold_letter, anchored);
    }
    let Some(extracted) = extract_answer_with(completion, anchored) else {
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
    match compare(&pred, &gold_norm) {
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

/// The gold's final answer: a gold written as a full solution carries it in a box.
fn gold_answer(gold: &str) -> String {
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
