//! The subset's grammar, read by recursive descent:
//!
//! ```text
//! condition  = or
//! or         = and { "or" and }
//! and        = unary { "and" unary }
//! unary      = "not" unary | "(" or ")" | operand [ op operand ]
//! operand    = literal | path | Function "(" [ args ] ")"
//! path       = name { "." name } { "[" ( string | int ) "]" }
//! literal    = string | int | float | "true" | "false" | "nil"
//! op         = "==" | "!=" | "<" | "<=" | ">" | ">="
//! ```
//!
//! `not` binds tighter than `and`, `and` tighter than `or` (as in OTTL).
//! An operand alone must be a boolean: `true`, `false` or a function that
//! returns one.

use crate::filter::ottl::lexer::{lex, CmpOp, Tok, Token};
use crate::filter::ottl::paths::{resolve, Context, Field, Key};
use crate::filter::ottl::ParseError;
use regex::Regex;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Operand, CmpOp, Operand),
    /// A boolean operand on its own.
    Bool(Operand),
}

/// A value in a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Lit(Lit),
    Field(Field),
    Call(Call),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
}

/// A function of the subset.
#[derive(Debug, Clone)]
pub enum Call {
    /// `IsMatch(target, "pattern")`: the target's text matches (RE2-style,
    /// unanchored); false for nil.
    IsMatch(Box<Operand>, Regex),
    /// `HasAttrOnSample("key", "value")` (profcol's own): some sample of the
    /// profile has the attribute with that text.
    HasAttrOnSample(String, String),
    /// `HasAttrKeyOnSample("key")` (profcol's own): some sample of the
    /// profile has the attribute.
    HasAttrKeyOnSample(String),
}

/// A compiled pattern compares by its source text.
impl PartialEq for Call {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Call::IsMatch(a, x), Call::IsMatch(b, y)) => a == b && x.as_str() == y.as_str(),
            (Call::HasAttrOnSample(a, x), Call::HasAttrOnSample(b, y)) => a == b && x == y,
            (Call::HasAttrKeyOnSample(a), Call::HasAttrKeyOnSample(b)) => a == b,
            _ => false,
        }
    }
}

const FUNCTIONS: &str = "IsMatch, HasAttrOnSample, HasAttrKeyOnSample";

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    ctx: Context,
}

/// Parses `src` as one condition written for `ctx`.
pub fn parse(src: &str, ctx: Context) -> Result<Expr, ParseError> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        ctx,
    };
    if p.peek() == &Tok::End {
        return Err(ParseError::new(src, 0, "empty condition"));
    }
    let e = p.or()?;
    match p.peek() {
        Tok::End => Ok(e),
        _ => Err(p.error_here("expected `and`, `or` or the end of the condition")),
    }
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map_or(&Tok::End, |t| &t.tok)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.src.len(), |t| t.at)
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn error_here(&self, msg: &str) -> ParseError {
        let found = match self.peek() {
            Tok::End => "the end".to_string(),
            _ => {
                let at = self.at();
                let rest = &self.src[at..];
                let word: String = rest
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .take(20)
                    .collect();
                format!("`{word}`")
            }
        };
        ParseError::new(self.src, self.at(), format!("{msg}, found {found}"))
    }

    fn expect(&mut self, t: Tok, what: &str) -> Result<(), ParseError> {
        if self.peek() == &t {
            self.bump();
            Ok(())
        } else {
            Err(self.error_here(&format!("expected {what}")))
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and()?;
        while self.peek() == &Tok::Or {
            self.bump();
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        while self.peek() == &Tok::And {
            self.bump();
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Tok::Not => {
                self.bump();
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Tok::LParen => {
                self.bump();
                let e = self.or()?;
                self.expect(Tok::RParen, "`)`")?;
                Ok(e)
            }
            _ => {
                let start = self.at();
                let left = self.operand()?;
                if let Tok::Op(op) = self.peek().clone() {
                    self.bump();
                    let right = self.operand()?;
                    return Ok(Expr::Compare(left, op, right));
                }
                match &left {
                    Operand::Lit(Lit::Bool(_)) | Operand::Call(_) => Ok(Expr::Bool(left)),
                    _ => Err(ParseError::new(
                        self.src,
                        start,
                        "a value alone is not a condition; compare it (==, !=, <, <=, >, >=) or use a function such as IsMatch",
                    )),
                }
            }
        }
    }

    fn operand(&mut self) -> Result<Operand, ParseError> {
        let at = self.at();
        match self.bump() {
            Tok::Str(s) => Ok(Operand::Lit(Lit::Str(s))),
            Tok::Int(i) => Ok(Operand::Lit(Lit::Int(i))),
            Tok::Float(f) => Ok(Operand::Lit(Lit::Float(f))),
            Tok::True => Ok(Operand::Lit(Lit::Bool(true))),
            Tok::False => Ok(Operand::Lit(Lit::Bool(false))),
            Tok::Nil => Ok(Operand::Lit(Lit::Nil)),
            Tok::Ident(name) => {
                if self.peek() == &Tok::LParen {
                    self.bump();
                    return self.call(&name, at).map(Operand::Call);
                }
                self.path(name, at).map(Operand::Field)
            }
            _ => {
                self.pos -= 1;
                Err(self.error_here("expected a value (a path, a literal or a function)"))
            }
        }
    }

    fn path(&mut self, first: String, at: usize) -> Result<Field, ParseError> {
        if first.starts_with(|c: char| c.is_ascii_uppercase()) {
            return Err(ParseError::new(
                self.src,
                at,
                format!("`{first}` is an enum or a function without `(`; the subset has no enums"),
            ));
        }
        let mut names = vec![(first, at)];
        while self.peek() == &Tok::Dot {
            self.bump();
            let at = self.at();
            match self.bump() {
                Tok::Ident(n) => names.push((n, at)),
                _ => {
                    self.pos -= 1;
                    return Err(self.error_here("expected a name after `.`"));
                }
            }
        }
        let mut keys = Vec::new();
        while self.peek() == &Tok::LBracket {
            self.bump();
            match self.bump() {
                Tok::Str(s) => keys.push(Key::Str(s)),
                Tok::Int(i) => keys.push(Key::Int(i)),
                _ => {
                    self.pos -= 1;
                    return Err(self.error_here("expected a string or an integer key"));
                }
            }
            self.expect(Tok::RBracket, "`]`")?;
        }
        resolve(self.src, &names, keys, self.ctx)
    }

    fn args(&mut self) -> Result<Vec<(Operand, usize)>, ParseError> {
        let mut args = Vec::new();
        if self.peek() == &Tok::RParen {
            self.bump();
            return Ok(args);
        }
        loop {
            let at = self.at();
            args.push((self.operand()?, at));
            match self.bump() {
                Tok::Comma => continue,
                Tok::RParen => return Ok(args),
                _ => {
                    self.pos -= 1;
                    return Err(self.error_here("expected `,` or `)`"));
                }
            }
        }
    }

    fn call(&mut self, name: &str, at: usize) -> Result<Call, ParseError> {
        let src = self.src;
        let arity = |args: &[(Operand, usize)], n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(ParseError::new(
                    src,
                    at,
                    format!(
                        "{name} takes {n} argument{}, got {}",
                        if n == 1 { "" } else { "s" },
                        args.len()
                    ),
                ))
            }
        };
        let string_lit = |arg: &(Operand, usize), what: &str| match &arg.0 {
            Operand::Lit(Lit::Str(s)) => Ok(s.clone()),
            _ => Err(ParseError::new(
                src,
                arg.1,
                format!("{name}'s {what} must be a string literal"),
            )),
        };
        match name {
            "IsMatch" => {
                let mut args = self.args()?;
                arity(&args, 2)?;
                let pattern = string_lit(&args[1], "pattern")?;
                let re = Regex::new(&pattern).map_err(|e| {
                    ParseError::new(
                        src,
                        args[1].1,
                        format!("invalid regular expression: {}", crate::regex_error::describe(&e)),
                    )
                })?;
                let target = args.swap_remove(0).0;
                Ok(Call::IsMatch(Box::new(target), re))
            }
            "HasAttrOnSample" => {
                let args = self.args()?;
                arity(&args, 2)?;
                Ok(Call::HasAttrOnSample(
                    string_lit(&args[0], "key")?,
                    string_lit(&args[1], "value")?,
                ))
            }
            "HasAttrKeyOnSample" => {
                let args = self.args()?;
                arity(&args, 1)?;
                Ok(Call::HasAttrKeyOnSample(string_lit(&args[0], "key")?))
            }
            n if n.starts_with(|c: char| c.is_ascii_lowercase()) => Err(ParseError::new(
                src,
                at,
                format!("`{n}` is an editor; conditions call converters only ({FUNCTIONS} in profcol's subset)"),
            )),
            n => Err(ParseError::new(
                src,
                at,
                format!("unknown function `{n}`; profcol's OTTL subset has {FUNCTIONS}"),
            )),
        }
    }
}
