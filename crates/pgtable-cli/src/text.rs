//! Text width and wrapping: every line the command prints itself fits
//! [`WIDTH`] columns.

/// Width of everything the command prints itself (help included).
pub const WIDTH: usize = 80;

/// `text` wrapped to [`WIDTH`] columns at spaces: the first line indented
/// by `first`, the rest by `rest` spaces (a word longer than a line, such
/// as an address, stays whole).
pub fn wrap(text: &str, first: usize, rest: usize) -> String {
    wrap_prefixed(text, &" ".repeat(first), &" ".repeat(rest))
}

/// `text` wrapped to [`WIDTH`] columns at spaces, the first line starting
/// with `first`, each following one with `rest`.
pub fn wrap_prefixed(text: &str, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        let len = line.chars().count() + usize::from(!empty) + word.chars().count();
        if !empty && len > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// Each line of `text` wrapped on its own, continuations indented by
/// `rest` (messages of several lines).
pub fn wrap_lines(text: &str, rest: usize) -> String {
    text.lines().map(|l| wrap(l, 0, rest)).collect()
}

/// A `#` comment line (ptdump's own lines) wrapped to [`WIDTH`] columns,
/// each continuation a `#` line too.
pub fn comment(text: &str) -> String {
    let body = text.strip_prefix('#').unwrap_or(text);
    wrap_prefixed(body, "# ", "#   ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_spaces_within_80_columns_and_keeps_words_whole() {
        let addr = "0xffffeb3ff1200000";
        let text = format!("{} {addr} {}", "word ".repeat(14), "more ".repeat(30));
        let out = wrap(&text, 2, 6);
        assert!(out.lines().all(|l| l.chars().count() <= WIDTH), "{out}");
        assert!(out.contains(addr), "the address split:\n{out}");
        // Nothing lost or added but line breaks and indentation.
        let words: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(words, text.split_whitespace().collect::<Vec<_>>());
        assert!(out.starts_with("  word") && out.lines().skip(1).all(|l| l.starts_with("      ")));
        // A word wider than a line stays whole, on a line of its own.
        let long = "x".repeat(100);
        assert_eq!(
            wrap(&format!("a {long} b"), 0, 0),
            format!("a\n{long}\nb\n")
        );
    }

    #[test]
    fn a_comment_continues_on_comment_lines() {
        let c = comment(&format!("# {}", "entry ".repeat(20)));
        assert!(c.lines().count() > 1, "{c}");
        assert!(
            c.lines()
                .all(|l| l.starts_with('#') && l.chars().count() <= WIDTH),
            "{c}"
        );
    }
}
