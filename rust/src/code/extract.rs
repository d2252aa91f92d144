//! Finding the program in a model completion.

/// The seed template's marker before the final code block.
const FINAL_MARKER: &str = "Here's my final solution:";

/// Closing tag of a reasoning section that some models inline in the completion.
const THINK_END: &str = "</think>";

/// One fenced code block.
#[derive(Debug)]
struct Block {
    /// Byte offset of the opening fence.
    start: usize,
    /// Lower-cased first word of the info string ("" for an untagged fence).
    lang: String,
    code: String,
}

/// Extracts the program from a completion: the last fenced Python block (```` ```python ````,
/// ```` ```py ````, ```` ```python3 ````), or failing that the last untagged block.
///
/// If the seed template's "Here's my final solution:" is present, the first Python block after
/// its last occurrence wins; otherwise blocks after a closing `</think>` are preferred. Blocks tagged with another language
/// (```` ```cpp ````, ```` ```text ````…) and empty blocks are skipped. A final block whose closing
/// fence is missing (a completion that ended inside it) still counts. Returns `None` when there
/// is no such block.
///
/// ```
/// let text = "Plan...\n\nHere's my final solution:\n\n```python\nprint(1)\n```\n";
/// assert_eq!(_core::code::extract_program(text).as_deref(), Some("print(1)\n"));
/// ```
pub fn extract_program(completion: &str) -> Option<String> {
    let blocks = fenced_blocks(completion);
    let after = |pos: usize| blocks.iter().filter(|b| b.start >= pos).collect::<Vec<_>>();
    // The seed template puts the final code right after its marker; later blocks are examples.
    if let Some(pos) = completion.rfind(FINAL_MARKER) {
        if let Some(code) = pick(after(pos), First) {
            return Some(code);
        }
    }
    if let Some(pos) = completion.rfind(THINK_END) {
        if let Some(code) = pick(after(pos), Last) {
            return Some(code);
        }
    }
    pick(blocks.iter().collect(), Last)
}

#[derive(Clone, Copy, PartialEq)]
enum Which {
    First,
    Last,
}
use Which::{First, Last};

fn pick(mut blocks: Vec<&Block>, which: Which) -> Option<String> {
    blocks.retain(|b| !b.code.trim().is_empty());
    if which == Last {
        blocks.reverse();
    }
    let is_python = |lang: &str| matches!(lang, "python" | "py" | "python3" | "py3");
    blocks
        .iter()
        .find(|b| is_python(&b.lang))
        .or_else(|| blocks.iter().find(|b| b.lang.is_empty()))
        .map(|b| b.code.clone())
}

/// All fenced blocks (CommonMark-style: a line of 3+ backticks or tildes, closed by a line of at
/// least as many of the same character).
fn fenced_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, usize, char, usize, String, String)> = None; // start, indent, ch, len, lang, code
    let mut offset = 0;
    for raw_line in text.split_inclusive('\n') {
        let line_start = offset;
        offset += raw_line.len();
        let line = raw_line.trim_end_matches(['\n', '\r']);
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        let body = &line[indent..];
        let fence_char = body.chars().next().filter(|c| *c == '`' || *c == '~');
        let fence_len = fence_char.map_or(0, |c| body.chars().take_while(|x| *x == c).count());
        match &mut open {
            None => {
                if let Some(c) = fence_char.filter(|_| fence_len >= 3) {
                    let info = body[fence_len..].trim();
                    if c == '`' && info.contains('`') {
                        continue; // inline code such as ```x``` on one line
                    }
                    let lang = info
                        .split(|ch: char| ch.is_whitespace() || ch == '{' || ch == ',')
                        .next()
                        .unwrap_or("")
                        .to_ascii_lowercase();
                    open = Some((line_start, indent, c, fence_len, lang, String::new()));
                }
            }
            Some((start, open_indent, c, len, lang, code)) => {
                let closes = fence_char == Some(*c)
                    && fence_len >= *len
                    && body[fence_len..].trim().is_empty();
                if closes {
                    blocks.push(Block {
                        start: *start,
                        lang: std::mem::take(lang),
                        code: std::mem::take(code),
                    });
                    open = None;
                } else {
                    // Remove up to the opening fence's indentation (blocks inside list items).
                    let strip = raw_line
                        .chars()
                        .take(*open_indent)
                        .take_while(|ch| *ch == ' ' || *ch == '\t')
                        .count();
                    let text = &raw_line[strip..];
                    code.push_str(text.trim_end_matches('\n').trim_end_matches('\r'));
                    if text.ends_with('\n') {
                        code.push('\n');
                    }
                }
            }
        }
    }
    if let Some((start, _, _, _, lang, code)) = open {
        blocks.push(Block { start, lang, code });
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("no code here", None),
            ("```python\nprint(1)\n```", Some("print(1)\n")),
            ("```py\nx = 1\n```\ntext", Some("x = 1\n")),
            ("```Python3\nx = 1\n```", Some("x = 1\n")),
            ("```\nprint(2)\n```", Some("print(2)\n")),
            // the last python block wins
            (
                "```python\na()\n```\nthen\n```python\nb()\n```\n",
                Some("b()\n"),
            ),
            // a tagged block beats a later untagged one (usually sample input/output)
            (
                "```python\nsolve()\n```\nExample:\n```\n3\n1 2\n```\n",
                Some("solve()\n"),
            ),
            // other languages are skipped
            ("```cpp\nint main(){}\n```", None),
            ("```python\nok()\n```\n```text\n5\n```", Some("ok()\n")),
            // empty blocks are skipped
            ("```python\nreal()\n```\n```python\n\n```", Some("real()\n")),
            // unterminated final block
            ("Code:\n```python\nprint(3)\n", Some("print(3)\n")),
            // longer fences and tildes
            ("````python\nprint('```')\n````", Some("print('```')\n")),
            ("~~~python\nx()\n~~~", Some("x()\n")),
            // indented fences inside a list item
            (
                "1. Code:\n   ```python\n   def f():\n       return 1\n   ```",
                Some("def f():\n    return 1\n"),
            ),
            // CRLF line endings
            ("```python\r\nprint(4)\r\n```\r\n", Some("print(4)\n")),
            // inline triple backticks are not fences
            ("use ```x``` here", None),
        ];
        for (text, expected) in cases {
            assert_eq!(extract_program(text).as_deref(), *expected, "{text:?}");
        }
    }

    #[test]
    fn prefers_block_after_final_marker() {
        let text = "Step 1: try\n```python\ndraft()\n```\nHere's my final solution:\n\n```python\nfinal()\n```\n\nThis code works by magic.\n```python\nusage_example()\n```\n";
        // the block right after the marker, not a later usage example
        assert_eq!(extract_program(text).as_deref(), Some("final()\n"));
        let seed = "Step 1: try\n```python\ndraft()\n```\nHere's my final solution:\n\n```python\nfinal()\n```\n\nThis code works by [explanation].\n";
        assert_eq!(extract_program(seed).as_deref(), Some("final()\n"));
        // ...and a marker without a block after it falls back to the whole text
        let no_block = "```python\nonly()\n```\nHere's my final solution: see above";
        assert_eq!(extract_program(no_block).as_deref(), Some("only()\n"));
    }

    #[test]
    fn prefers_blocks_after_think() {
        let text =
            "<think>\n```python\nscratch()\n```\n</think>\nAnswer:\n```python\nanswer()\n```";
        assert_eq!(extract_program(text).as_deref(), Some("answer()\n"));
        let truncated = "<think>\n```python\nscratch()\n```\n</think>\nno code";
        assert_eq!(extract_program(truncated).as_deref(), Some("scratch()\n"));
    }
}
