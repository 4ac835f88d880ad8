//! The OTTL subset's tokens: identifiers, the keywords `and`, `or`, `not`,
//! `true`, `false`, `nil`, double-quoted strings with Go's escapes, integer
//! and float literals (with an optional sign), `== != < <= > >=`, and
//! `( ) [ ] , .`. Every token keeps its byte offset for error columns.

use crate::filter::ottl::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Op(CmpOp),
    And,
    Or,
    Not,
    True,
    False,
    Nil,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    End,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Byte offset in the condition.
    pub at: usize,
}

pub(crate) fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let at = i;
        let single = |t: Tok| Token { tok: t, at };
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => out.push(single(Tok::LParen)),
            b')' => out.push(single(Tok::RParen)),
            b'[' => out.push(single(Tok::LBracket)),
            b']' => out.push(single(Tok::RBracket)),
            b',' => out.push(single(Tok::Comma)),
            b'.' => out.push(single(Tok::Dot)),
            b'=' | b'!' | b'<' | b'>' => {
                let next = bytes.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    (b'=', Some(b'=')) => (CmpOp::Eq, 2),
                    (b'!', Some(b'=')) => (CmpOp::Ne, 2),
                    (b'<', Some(b'=')) => (CmpOp::Le, 2),
                    (b'>', Some(b'=')) => (CmpOp::Ge, 2),
                    (b'<', _) => (CmpOp::Lt, 1),
                    (b'>', _) => (CmpOp::Gt, 1),
                    (b'=', _) => {
                        return Err(ParseError::new(
                            src,
                            at,
                            "`=` assigns, which conditions cannot do; compare with `==`",
                        ))
                    }
                    _ => return Err(ParseError::new(src, at, "`!` alone; use `not` or `!=`")),
                };
                out.push(single(Tok::Op(op)));
                i += len;
                continue;
            }
            b'"' => {
                let (s, end) = string(src, i)?;
                out.push(Token {
                    tok: Tok::Str(s),
                    at,
                });
                i = end;
                continue;
            }
            b'0'..=b'9' | b'-' | b'+' => {
                let (tok, end) = number(src, i)?;
                out.push(Token { tok, at });
                i = end;
                continue;
            }
            c if c == b'_' || c.is_ascii_alphabetic() => {
                let mut end = i;
                while end < bytes.len()
                    && (bytes[end] == b'_' || bytes[end].is_ascii_alphanumeric())
                {
                    end += 1;
                }
                let word = &src[i..end];
                let tok = match word {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    "true" => Tok::True,
                    "false" => Tok::False,
                    "nil" => Tok::Nil,
                    w => Tok::Ident(w.to_string()),
                };
                out.push(Token { tok, at });
                i = end;
                continue;
            }
            b'\'' => {
                return Err(ParseError::new(
                    src,
                    at,
                    "strings are written in double quotes",
                ))
            }
            b'{' | b'}' => {
                return Err(ParseError::new(
                    src,
                    at,
                    "map literals are not in profcol's OTTL subset",
                ))
            }
            b'*' | b'/' => {
                return Err(ParseError::new(
                    src,
                    at,
                    "arithmetic is not in profcol's OTTL subset",
                ))
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(ParseError::new(
                    src,
                    at,
                    format!("unexpected character {ch:?}"),
                ));
            }
        }
        i += 1;
    }
    out.push(Token {
        tok: Tok::End,
        at: src.len(),
    });
    Ok(out)
}

/// A double-quoted string from `start`; its value and the offset after it.
fn string(src: &str, start: usize) -> Result<(String, usize), ParseError> {
    let mut out = String::new();
    let mut chars = src[start + 1..]
        .char_indices()
        .map(|(o, c)| (start + 1 + o, c));
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok((out, at + 1)),
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                let simple = match e {
                    'a' => Some('\u{7}'),
                    'b' => Some('\u{8}'),
                    'f' => Some('\u{c}'),
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    't' => Some('\t'),
                    'v' => Some('\u{b}'),
                    '\\' => Some('\\'),
                    '"' => Some('"'),
                    _ => None,
                };
                if let Some(ch) = simple {
                    out.push(ch);
                    continue;
                }
                let digits = match e {
                    'x' => 2,
                    'u' => 4,
                    'U' => 8,
                    '0'..='7' => 2,
                    _ => {
                        return Err(ParseError::new(
                            src,
                            at,
                            format!("invalid escape \\{e} in a string (a backslash in a regular expression is written \\\\)"),
                        ))
                    }
                };
                let mut text = String::new();
                if e.is_ascii_digit() {
                    text.push(e);
                }
                for _ in 0..digits {
                    match chars.next() {
                        Some((_, d)) => text.push(d),
                        None => return Err(ParseError::new(src, at, "unterminated escape")),
                    }
                }
                let radix = if e.is_ascii_digit() { 8 } else { 16 };
                let code = u32::from_str_radix(&text, radix).map_err(|_| {
                    ParseError::new(
                        src,
                        at,
                        format!(
                            "invalid escape \\{e}{}",
                            &text[usize::from(e.is_ascii_digit())..]
                        ),
                    )
                })?;
                if e == 'x' || e.is_ascii_digit() {
                    // A byte; strings here are text, so only ASCII.
                    if code > 0x7f {
                        return Err(ParseError::new(
                            src,
                            at,
                            "a byte escape above \\x7f is not text",
                        ));
                    }
                }
                let ch = char::from_u32(code)
                    .ok_or_else(|| ParseError::new(src, at, "an escape that is no character"))?;
                out.push(ch);
            }
            c => out.push(c),
        }
    }
    Err(ParseError::new(src, start, "unterminated string"))
}

/// A number from `start`: an int, or a float when it has a `.` or an
/// exponent.
fn number(src: &str, start: usize) -> Result<(Tok, usize), ParseError> {
    let bytes = src.as_bytes();
    let mut end = start;
    if matches!(bytes[end], b'-' | b'+') {
        end += 1;
        if !bytes.get(end).is_some_and(u8::is_ascii_digit) {
            return Err(ParseError::new(
                src,
                start,
                "arithmetic is not in profcol's OTTL subset",
            ));
        }
    }
    if bytes[end] == b'0' && matches!(bytes.get(end + 1), Some(b'x' | b'X')) {
        return Err(ParseError::new(
            src,
            start,
            "bytes literals are not in profcol's OTTL subset",
        ));
    }
    let mut float = false;
    while end < bytes.len() {
        match bytes[end] {
            b'0'..=b'9' => end += 1,
            b'.' if !float => {
                float = true;
                end += 1;
            }
            b'e' | b'E' => {
                float = true;
                end += 1;
                if matches!(bytes.get(end), Some(b'+' | b'-')) {
                    end += 1;
                }
            }
            _ => break,
        }
    }
    let text = &src[start..end];
    let tok = if float {
        Tok::Float(
            text.parse()
                .map_err(|_| ParseError::new(src, start, format!("{text:?} is not a number")))?,
        )
    } else {
        Tok::Int(text.parse().map_err(|_| {
            ParseError::new(src, start, format!("{text} does not fit a 64-bit integer"))
        })?)
    };
    Ok((tok, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn tokens() {
        assert_eq!(
            toks(r#"attributes["a.b"] != -3 and x <= 1.5e3"#),
            vec![
                Tok::Ident("attributes".into()),
                Tok::LBracket,
                Tok::Str("a.b".into()),
                Tok::RBracket,
                Tok::Op(CmpOp::Ne),
                Tok::Int(-3),
                Tok::And,
                Tok::Ident("x".into()),
                Tok::Op(CmpOp::Le),
                Tok::Float(1500.0),
                Tok::End
            ]
        );
        assert_eq!(
            toks(r#""a\"b\\c\u00e9\x41""#)[0],
            Tok::Str("a\"b\\céA".into())
        );
    }

    #[test]
    fn errors_point_at_the_column() {
        for (src, col, msg) in [
            ("a = 1", 3, "compare with `==`"),
            (r#"x == "abc"#, 6, "unterminated string"),
            (r#"x == "\d""#, 7, "invalid escape \\d"),
            ("x == 'a'", 6, "double quotes"),
            ("x == 99999999999999999999", 6, "does not fit"),
            ("x == 0x01", 6, "bytes literals"),
            ("x == a - b", 8, "arithmetic"),
            ("x == a ~ b", 8, "unexpected character '~'"),
        ] {
            let e = lex(src).unwrap_err();
            assert_eq!(e.column, col, "{src}: {e}");
            assert!(e.message.contains(msg), "{src}: {e}");
        }
    }
}
