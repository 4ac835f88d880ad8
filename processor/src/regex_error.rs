//! A regular expression's compile error in one line: the regex crate
//! prints the pattern with a caret above the message; config problems want
//! the message only.

pub(crate) fn describe(e: &regex::Error) -> String {
    let s = e.to_string();
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(&s)
        .trim()
        .to_string()
}
