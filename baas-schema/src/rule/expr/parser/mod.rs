//! Recursive-descent parser for rule and filter expressions (pocketbase-api.md §7).
//!
//! ```text
//! expr     := and ( "||" and )*
//! and      := primary ( "&&" primary )*
//! primary  := "(" expr ")" | operand OP operand
//! operand  := string | number | true | false | null | {:name} | @macro
//!           | path modifier? | name "(" operands? ")"
//! path     := name ( "." name )*
//!           | "@request." ( ("auth" | "body") ( "." name )+ | ("query" | "headers") "." name
//!                          | "method" | "context" )
//!           | "@collection." name ( ":" alias )? ( "." name )+
//! modifier := ":" ( "isset" | "changed" | "length" | "each" | "lower" )
//! ```
//!
//! The pieces of a path and its modifier must touch (`post.author:length`); the parser checks
//! adjacency from the token spans. Nesting of groups and calls is capped at [`MAX_DEPTH`] and
//! the number of comparisons at [`MAX_COMPARISONS`], so no input can exhaust the stack of the
//! parser or of the code that walks the tree afterwards.
//!
//! This file holds the expression levels (`||`, `&&`, groups, comparisons); `operand` reads
//! what stands on either side of an operator.

mod operand;

use std::fmt;

use super::ast::{Compare, Expr, OperandKind, Path, Root};
use super::lexer::{Token, TokenKind, tokenize};
use crate::diag::did_you_mean;
use crate::source::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    pub message: String,
    pub span: Span,
    pub help: Option<String>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.message, self.span)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}

/// How deeply parentheses and function calls may nest.
pub const MAX_DEPTH: usize = 64;

/// How many comparisons one expression may hold.
pub const MAX_COMPARISONS: usize = 1000;

/// The functions the grammar knows.
pub const FUNCTIONS: [&str; 2] = ["strftime", "geoDistance"];

/// The names that may follow `@request.`.
pub const REQUEST_FIELDS: [&str; 6] = ["auth", "body", "query", "headers", "method", "context"];

const KEYWORDS: [&str; 3] = ["true", "false", "null"];

/// Parses a rule or filter expression.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let tokens = tokenize(src)?;
    if tokens.is_empty() {
        return Err(ParseError { message: "empty expression".to_owned(), span: Span::new(0, src.len()), help: None });
    }
    let mut parser = Parser { src, tokens, pos: 0, depth: 0, comparisons: 0 };
    let expr = parser.expr(None)?;
    match parser.peek() {
        None => Ok(expr),
        Some(token) => Err(parser.unexpected_after_expr(token, false)),
    }
}

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    comparisons: usize,
}

fn err(span: Span, message: impl Into<String>) -> ParseError {
    ParseError { message: message.into(), span, help: None }
}

fn with_help(mut e: ParseError, help: impl Into<String>) -> ParseError {
    e.help = Some(help.into());
    e
}

/// `did you mean …?` when a candidate is close, otherwise `fallback`.
fn suggest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>, fallback: String) -> String {
    did_you_mean(wrong, candidates).unwrap_or(fallback)
}

fn quoted_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_kind(&self) -> Option<&TokenKind> {
        self.peek().map(|t| &t.kind)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        if token.is_some() {
            self.pos += 1;
        }
        token
    }

    /// The next token if it is `kind`.
    fn eat_kind(&mut self, kind: &TokenKind) -> Option<Token> {
        if self.peek_kind() == Some(kind) { self.next() } else { None }
    }

    /// The next token if it is `kind` and starts exactly at `at` (no space before it).
    fn eat_adjacent(&mut self, kind: &TokenKind, at: usize) -> Option<Token> {
        match self.peek() {
            Some(t) if t.kind == *kind && t.span.start == at => self.next(),
            _ => None,
        }
    }

    /// The next token if it is a name starting exactly at `at`.
    fn eat_adjacent_ident(&mut self, at: usize) -> Option<(String, Span)> {
        match self.peek() {
            Some(Token { kind: TokenKind::Ident(name), span }) if span.start == at => {
                let out = (name.clone(), *span);
                self.pos += 1;
                Some(out)
            }
            _ => None,
        }
    }

    /// The source text of `span`, shortened for messages.
    fn text(&self, span: Span) -> String {
        let text = self.src.get(span.start..span.end).unwrap_or("");
        if text.chars().count() > 40 {
            let short: String = text.chars().take(37).collect();
            format!("{short}...")
        } else {
            text.to_owned()
        }
    }

    /// `'&&'`, `'title'`, or `end of input`, for "found …" messages.
    fn describe(&self, token: Option<&Token>) -> String {
        match token {
            Some(t) => format!("'{}'", self.text(t.span)),
            None => "end of input".to_owned(),
        }
    }

    // ---- expressions ----

    /// `and ( "||" and )*`. `after` is the token before the expression (`(` or nothing), for
    /// messages.
    fn expr(&mut self, after: Option<&Token>) -> Result<Expr, ParseError> {
        let mut lhs = self.and(after)?;
        while let Some(op) = self.peek().filter(|t| t.kind == TokenKind::OrOr).cloned() {
            self.pos += 1;
            let rhs = self.and(Some(&op))?;
            lhs = Expr::Or(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn and(&mut self, after: Option<&Token>) -> Result<Expr, ParseError> {
        let mut lhs = self.primary(after)?;
        while let Some(op) = self.peek().filter(|t| t.kind == TokenKind::AndAnd).cloned() {
            self.pos += 1;
            let rhs = self.primary(Some(&op))?;
            lhs = Expr::And(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn primary(&mut self, after: Option<&Token>) -> Result<Expr, ParseError> {
        let Some(open) = self.peek().filter(|t| t.kind == TokenKind::LParen).cloned() else {
            return self.comparison(after);
        };
        self.pos += 1;
        self.enter(open.span)?;
        let inner = self.expr(Some(&open))?;
        self.depth -= 1;
        match self.peek() {
            Some(Token { kind: TokenKind::RParen, span }) => {
                let close = *span;
                self.pos += 1;
                Ok(Expr::Group(Box::new(inner), open.span.to(close)))
            }
            None => Err(with_help(err(open.span, "unclosed '('"), "add a ')' to close it")),
            Some(token) => Err(self.unexpected_after_expr(token, true)),
        }
    }

    fn enter(&mut self, at: Span) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(with_help(
                err(at, "expression is nested too deeply"),
                format!("at most {MAX_DEPTH} levels of parentheses and function calls are allowed"),
            ));
        }
        Ok(())
    }

    /// A token left over where a comparison ended: inside a group (`in_group`) or at the end.
    fn unexpected_after_expr(&self, token: &Token, in_group: bool) -> ParseError {
        let found = self.describe(Some(token));
        let expected = if in_group { "'&&', '||' or ')'" } else { "'&&' or '||'" };
        match &token.kind {
            TokenKind::RParen => with_help(err(token.span, "unmatched ')'"), "remove it, or add the '(' it closes"),
            TokenKind::Op(_) => with_help(
                err(token.span, format!("unexpected {found} after a comparison")),
                "comparisons can't be chained; join two comparisons with '&&' or '||'",
            ),
            TokenKind::Ident(word) if word.eq_ignore_ascii_case("and") => {
                with_help(err(token.span, format!("expected {expected}, found {found}")), "use '&&' for 'and'")
            }
            TokenKind::Ident(word) if word.eq_ignore_ascii_case("or") => {
                with_help(err(token.span, format!("expected {expected}, found {found}")), "use '||' for 'or'")
            }
            _ => with_help(
                err(token.span, format!("expected {expected}, found {found}")),
                "join comparisons with '&&' or '||'",
            ),
        }
    }

    fn comparison(&mut self, after: Option<&Token>) -> Result<Expr, ParseError> {
        let lhs = self.operand(after)?;
        let (op, op_span) = match self.peek() {
            Some(Token { kind: TokenKind::Op(op), span }) => (*op, *span),
            next => {
                let (span, found) = match next {
                    Some(t) => (t.span, format!(", found {}", self.describe(Some(t)))),
                    None => (lhs.span, String::new()),
                };
                let single_name = match &lhs.kind {
                    OperandKind::Path(Path { root: Root::Record, segments, modifier: None }) if segments.len() == 1 => {
                        segments.first().map(|s| s.name.as_str())
                    }
                    _ => None,
                };
                let help = match (next.map(|t| &t.kind), single_name) {
                    (Some(TokenKind::LParen), Some(name)) => {
                        format!("a function call has no space before '(': '{name}('")
                    }
                    (Some(TokenKind::Colon), _) if lhs.as_path().is_some() => {
                        let modifier = match self.tokens.get(self.pos + 1).map(|t| &t.kind) {
                            Some(TokenKind::Ident(name)) => name.as_str(),
                            _ => "isset",
                        };
                        format!("a modifier follows the field directly: '{}:{modifier}'", self.text(lhs.span))
                    }
                    _ => "a comparison is 'operand operator operand', e.g. 'title = \"x\"'; the operators \
                          are =, !=, >, >=, <, <=, ~, !~ and their any-of forms ?=, ?!=, …"
                        .to_owned(),
                };
                return Err(with_help(
                    err(span, format!("expected a comparison operator after '{}'{found}", self.text(lhs.span))),
                    help,
                ));
            }
        };
        self.pos += 1;
        let op_token = Token { kind: TokenKind::Op(op), span: op_span };
        let rhs = self.operand(Some(&op_token))?;
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            return Err(with_help(
                err(lhs.span.to(rhs.span), "expression has too many comparisons"),
                format!("at most {MAX_COMPARISONS} comparisons are allowed in one expression"),
            ));
        }
        Ok(Expr::Compare(Compare { lhs, op, op_span, rhs }))
    }
}
