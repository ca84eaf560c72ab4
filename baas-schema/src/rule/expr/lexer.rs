//! Tokens of the expression language (pocketbase-api.md §7).
//!
//! The lexer is deliberately small: names, `@names`, literals, operators and punctuation.
//! Whether `post.author` is one path or `post .author` is a mistake is the parser's call; it
//! sees every token's span and checks adjacency itself.
//!
//! Operator mistakes that have an obvious fix (`==`, a lone `&` or `|`, a bare `!` or `?`) are
//! reported here, with the fix as help.

use super::ParseError;
use super::ast::{Op, OpKind};
use crate::source::Span;

#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    /// `[A-Za-z_][A-Za-z0-9_]*`: a field name, a modifier or function name, or one of the
    /// keywords `true`, `false`, `null` (the parser tells them apart).
    Ident(String),
    /// `@name`: a datetime macro or one of the roots `@request` / `@collection`. The string is
    /// the name without `@`.
    At(String),
    /// A quoted string, escapes resolved.
    Str(String),
    /// `5`, `-3`, `1.5`.
    Number(f64),
    /// `{:name}`; the string is `name`.
    Placeholder(String),
    /// A comparison operator, `?` prefix included.
    Op(Op),
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    LParen,
    RParen,
    Comma,
    Dot,
    Colon,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Splits `src` into tokens, skipping whitespace and `//` comments.
pub fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    Lexer { src, pos: 0, tokens: Vec::new() }.run()
}

struct Lexer<'a> {
    src: &'a str,
    /// Byte offset of the next unread character; always on a char boundary.
    pos: usize,
    tokens: Vec<Token>,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn error(span: Span, message: impl Into<String>, help: Option<String>) -> ParseError {
    ParseError { message: message.into(), span, help }
}

const ANY_OPERATORS: &str = "?=, ?!=, ?>, ?>=, ?<, ?<=, ?~ or ?!~";

impl Lexer<'_> {
    fn rest(&self) -> &str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.rest().chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Consumes characters while `pred` holds.
    fn eat_while(&mut self, pred: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&pred) {
            self.bump();
        }
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token { kind, span: Span::new(start, self.pos) });
    }

    fn run(mut self) -> Result<Vec<Token>, ParseError> {
        while let Some(c) = self.peek() {
            let start = self.pos;
            match c {
                c if c.is_whitespace() => {
                    self.bump();
                }
                '/' if self.peek_at(1) == Some('/') => self.eat_while(|c| c != '\n'),
                '"' | '\'' => self.string(c)?,
                '0'..='9' => self.number()?,
                '-' if self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) => self.number()?,
                c if is_ident_start(c) => {
                    self.eat_while(is_ident_continue);
                    let name = self.src[start..self.pos].to_owned();
                    self.push(TokenKind::Ident(name), start);
                }
                '@' => self.at()?,
                '{' => self.placeholder()?,
                '(' | ')' | ',' | '.' | ':' => {
                    self.bump();
                    let kind = match c {
                        '(' => TokenKind::LParen,
                        ')' => TokenKind::RParen,
                        ',' => TokenKind::Comma,
                        '.' => TokenKind::Dot,
                        _ => TokenKind::Colon,
                    };
                    self.push(kind, start);
                }
                '&' | '|' => {
                    self.bump();
                    if self.peek() == Some(c) {
                        self.bump();
                        let kind = if c == '&' { TokenKind::AndAnd } else { TokenKind::OrOr };
                        self.push(kind, start);
                    } else {
                        let (double, word) = if c == '&' { ("&&", "and") } else { ("||", "or") };
                        return Err(error(
                            Span::new(start, self.pos),
                            format!("unexpected '{c}'"),
                            Some(format!("use '{double}' for '{word}'")),
                        ));
                    }
                }
                '?' => {
                    self.bump();
                    match self.operator(start)? {
                        Some(kind) => self.push(TokenKind::Op(Op { kind, any: true }), start),
                        None => {
                            return Err(error(
                                Span::new(start, self.pos),
                                "'?' must be followed by a comparison operator",
                                Some(format!("the any-of operators are {ANY_OPERATORS}")),
                            ));
                        }
                    }
                }
                _ => match self.operator(start)? {
                    Some(kind) => self.push(TokenKind::Op(Op { kind, any: false }), start),
                    None => {
                        self.bump();
                        let span = Span::new(start, self.pos);
                        let help = match c {
                            '-' => Some(
                                "a negative number is written with the '-' directly before its digits, e.g. '-5'"
                                    .to_owned(),
                            ),
                            '/' => Some("comments start with '//'".to_owned()),
                            _ => None,
                        };
                        return Err(error(span, format!("unexpected character '{c}'"), help));
                    }
                },
            }
        }
        Ok(self.tokens)
    }

    /// Reads a comparison operator at the current position, if there is one. `start` is where
    /// the whole token began (before a `?` prefix), for error spans.
    fn operator(&mut self, start: usize) -> Result<Option<OpKind>, ParseError> {
        let Some(c) = self.peek() else { return Ok(None) };
        let next = self.peek_at(1);
        let (kind, len) = match (c, next) {
            ('=', Some('=')) => {
                self.pos += 2;
                return Err(error(
                    Span::new(start, self.pos),
                    format!("'{}' is not an operator", &self.src[start..self.pos]),
                    Some(format!("use '{}=' to compare for equality", &self.src[start..self.pos - 2])),
                ));
            }
            ('=', _) => (OpKind::Eq, 1),
            ('!', Some('=')) => (OpKind::Neq, 2),
            ('!', Some('~')) => (OpKind::NotLike, 2),
            ('!', _) => {
                self.pos += 1;
                return Err(error(
                    Span::new(start, self.pos),
                    format!("unexpected '{}'", &self.src[start..self.pos]),
                    Some("use '!=' (not equal) or '!~' (does not contain); there is no negation operator".to_owned()),
                ));
            }
            ('>', Some('=')) => (OpKind::Gte, 2),
            ('>', _) => (OpKind::Gt, 1),
            ('<', Some('=')) => (OpKind::Lte, 2),
            ('<', _) => (OpKind::Lt, 1),
            ('~', _) => (OpKind::Like, 1),
            _ => return Ok(None),
        };
        self.pos += len;
        Ok(Some(kind))
    }

    /// A quoted string. A backslash escapes the quote character and itself; before anything
    /// else it is kept, together with the character after it.
    fn string(&mut self, quote: char) -> Result<(), ParseError> {
        let start = self.pos;
        self.bump();
        let mut value = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(error(
                        Span::new(start, start + 1),
                        "unterminated string",
                        Some(format!("add a closing {quote} to end the string")),
                    ));
                }
                Some(c) if c == quote => break,
                Some('\\') => match self.peek() {
                    Some(next) if next == quote || next == '\\' => {
                        self.bump();
                        value.push(next);
                    }
                    _ => value.push('\\'),
                },
                Some(c) => value.push(c),
            }
        }
        self.push(TokenKind::Str(value), start);
        Ok(())
    }

    /// `-?[0-9]+(\.[0-9]+)?`, which covers everything `{}` prints for a finite `f64`.
    fn number(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.bump();
        }
        self.eat_while(|c| c.is_ascii_digit());
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            self.eat_while(|c| c.is_ascii_digit());
        }
        if self.peek().is_some_and(is_ident_continue) {
            self.eat_while(is_ident_continue);
            let text = &self.src[start..self.pos];
            return Err(error(
                Span::new(start, self.pos),
                format!("invalid number '{text}'"),
                Some("numbers are digits with an optional '-' and decimal part, e.g. '5', '-3' or '1.5'".to_owned()),
            ));
        }
        let text = &self.src[start..self.pos];
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => {
                self.push(TokenKind::Number(n), start);
                Ok(())
            }
            _ => Err(error(Span::new(start, self.pos), "number is too large", None)),
        }
    }

    /// `@name`.
    fn at(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        self.bump();
        if !self.peek().is_some_and(is_ident_start) {
            return Err(error(
                Span::new(start, self.pos),
                "expected a name after '@'",
                Some("'@' starts '@request.…', '@collection.…' or a macro such as '@now'".to_owned()),
            ));
        }
        let name_start = self.pos;
        self.eat_while(is_ident_continue);
        let name = self.src[name_start..self.pos].to_owned();
        self.push(TokenKind::At(name), start);
        Ok(())
    }

    /// `{:name}`.
    fn placeholder(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        self.bump();
        let malformed = |end: usize| {
            error(
                Span::new(start, end),
                "malformed placeholder",
                Some("a placeholder is written '{:name}', with no spaces".to_owned()),
            )
        };
        if self.peek() != Some(':') {
            return Err(malformed(self.pos));
        }
        self.bump();
        let name_start = self.pos;
        self.eat_while(is_ident_continue);
        let name = self.src[name_start..self.pos].to_owned();
        if name.is_empty() || self.peek() != Some('}') {
            return Err(malformed(self.pos));
        }
        self.bump();
        self.push(TokenKind::Placeholder(name), start);
        Ok(())
    }
}
