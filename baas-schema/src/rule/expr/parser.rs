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

use std::fmt;

use super::ast::{Compare, Expr, Literal, Macro, Modifier, Operand, OperandKind, Path, Root, Segment};
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

    // ---- operands ----

    /// One operand. `after` is the token before it, for "expected an operand after …".
    fn operand(&mut self, after: Option<&Token>) -> Result<Operand, ParseError> {
        let Some(token) = self.peek().cloned() else {
            return Err(self.expected_operand(after, None));
        };
        let start = token.span;
        let operand = match token.kind {
            TokenKind::Str(s) => {
                self.pos += 1;
                Operand { kind: OperandKind::Literal(Literal::String(s)), span: start }
            }
            TokenKind::Number(n) => {
                self.pos += 1;
                Operand { kind: OperandKind::Literal(Literal::Number(n)), span: start }
            }
            TokenKind::Placeholder(name) => {
                self.pos += 1;
                Operand { kind: OperandKind::Placeholder(name), span: start }
            }
            TokenKind::Ident(name) => {
                self.pos += 1;
                if let Some(open) = self.eat_adjacent(&TokenKind::LParen, start.end) {
                    self.call(name, start, open)?
                } else if KEYWORDS.contains(&name.as_str()) {
                    let literal = match name.as_str() {
                        "true" => Literal::Bool(true),
                        "false" => Literal::Bool(false),
                        _ => Literal::Null,
                    };
                    Operand { kind: OperandKind::Literal(literal), span: start }
                } else {
                    let mut segments = vec![Segment { name, span: start }];
                    self.segments(&mut segments, start)?;
                    self.path(Root::Record, segments, start)?
                }
            }
            TokenKind::At(name) => {
                self.pos += 1;
                match name.as_str() {
                    "request" => self.request(start)?,
                    "collection" => self.collection(start)?,
                    _ => match Macro::from_name(&name) {
                        Some(m) => Operand { kind: OperandKind::Macro(m), span: start },
                        None => return Err(self.unknown_at(&name, start)),
                    },
                }
            }
            _ => return Err(self.expected_operand(after, Some(&token))),
        };
        let what = match &operand.kind {
            OperandKind::Path(_) => return Ok(operand),
            OperandKind::Literal(Literal::String(_)) => "strings",
            OperandKind::Literal(Literal::Number(_)) => "numbers",
            OperandKind::Literal(_) => "true, false or null",
            OperandKind::Macro(_) => "macros",
            OperandKind::Placeholder(_) => "placeholders",
            OperandKind::Call { .. } => "function calls",
        };
        if let Some(colon) = self.peek().filter(|t| t.kind == TokenKind::Colon && t.span.start == operand.span.end) {
            let span = match self.tokens.get(self.pos + 1) {
                Some(t) if t.span.start == colon.span.end && matches!(t.kind, TokenKind::Ident(_)) => {
                    colon.span.to(t.span)
                }
                _ => colon.span,
            };
            return Err(with_help(
                err(span, "only fields can take a modifier"),
                format!("modifiers apply to fields and '@request.*' values, not to {what}"),
            ));
        }
        Ok(operand)
    }

    fn expected_operand(&self, after: Option<&Token>, found: Option<&Token>) -> ParseError {
        let found_text = self.describe(found);
        let (message, span) = match (after, found) {
            (Some(a), Some(f)) => {
                (format!("expected an operand after '{}', found {found_text}", self.text(a.span)), f.span)
            }
            (Some(a), None) => (format!("expected an operand after '{}'", self.text(a.span)), a.span),
            (None, Some(f)) => (format!("expected an operand, found {found_text}"), f.span),
            (None, None) => ("expected an operand".to_owned(), Span::point(self.src.len())),
        };
        let help = match found.map(|t| &t.kind) {
            Some(TokenKind::Dot) => "a field name starts with a letter or '_'; a number needs a digit before '.'",
            _ => {
                "an operand is a field, a string, a number, true, false, null, {:placeholder}, \
                  '@request.*', '@collection.*' or a macro such as '@now'"
            }
        };
        with_help(err(span, message), help)
    }

    fn unknown_at(&self, name: &str, span: Span) -> ParseError {
        let candidates: Vec<String> = Macro::ALL
            .iter()
            .map(|m| format!("@{}", m.name()))
            .chain(["@request".to_owned(), "@collection".to_owned()])
            .collect();
        let fallback = format!(
            "'@' names are @request, @collection and the macros {}",
            Macro::ALL.iter().map(|m| format!("@{}", m.name())).collect::<Vec<_>>().join(", ")
        );
        with_help(
            err(span, format!("unknown '@{name}'")),
            suggest(&format!("@{name}"), candidates.iter().map(String::as_str), fallback),
        )
    }

    /// `( "." name )*`, each piece touching the one before; `start` is the span so far.
    fn segments(&mut self, segments: &mut Vec<Segment>, start: Span) -> Result<(), ParseError> {
        let mut end = start.end;
        while let Some(dot) = self.eat_adjacent(&TokenKind::Dot, end) {
            match self.eat_adjacent_ident(dot.span.end) {
                Some((name, span)) => {
                    segments.push(Segment { name, span });
                    end = span.end;
                }
                None => {
                    let next = self.peek().filter(|t| t.span.start == dot.span.end);
                    return Err(with_help(
                        err(next.map_or(dot.span, |t| t.span), "expected a field name after '.'"),
                        "a field name starts with a letter or '_' and follows the '.' directly, e.g. 'post.title'",
                    ));
                }
            }
        }
        Ok(())
    }

    /// A path's optional modifier, then the finished operand. `head` is the span of the root
    /// (`@request.auth`, `@collection.posts:p`) or of the first name.
    fn path(&mut self, root: Root, segments: Vec<Segment>, head: Span) -> Result<Operand, ParseError> {
        let end = segments.last().map_or(head.end, |s| s.span.end);
        let mut path = Path { root, segments, modifier: None };
        let mut span = Span::new(head.start, end);
        if let Some(colon) = self.eat_adjacent(&TokenKind::Colon, end) {
            let Some((name, name_span)) = self.eat_adjacent_ident(colon.span.end) else {
                return Err(with_help(err(colon.span, "expected a modifier name after ':'"), modifier_list()));
            };
            let Some(modifier) = Modifier::from_name(&name) else {
                let candidates: Vec<String> = Modifier::ALL.iter().map(|m| format!(":{}", m.name())).collect();
                return Err(with_help(
                    err(colon.span.to(name_span), format!("unknown modifier ':{name}'")),
                    suggest(&format!(":{name}"), candidates.iter().map(String::as_str), modifier_list()),
                ));
            };
            path.modifier = Some((modifier, colon.span.to(name_span)));
            span = span.to(name_span);
            if let Some(extra) = self.peek().filter(|t| t.kind == TokenKind::Colon && t.span.start == span.end) {
                let extra_span = match self.tokens.get(self.pos + 1) {
                    Some(t) if t.span.start == extra.span.end && matches!(t.kind, TokenKind::Ident(_)) => {
                        extra.span.to(t.span)
                    }
                    _ => extra.span,
                };
                return Err(with_help(
                    err(extra_span, "only one modifier is allowed"),
                    format!("keep one of ':{}' and '{}'", modifier.name(), self.text(extra_span)),
                ));
            }
        }
        Ok(Operand { kind: OperandKind::Path(path), span })
    }

    /// After `@request`.
    fn request(&mut self, at: Span) -> Result<Operand, ParseError> {
        let fields: Vec<String> = REQUEST_FIELDS.iter().map(|f| format!("'.{f}'")).collect();
        let Some(dot) = self.eat_adjacent(&TokenKind::Dot, at.end) else {
            return Err(with_help(
                err(at, format!("expected {} after '@request'", quoted_list(&fields))),
                "e.g. '@request.auth.id'",
            ));
        };
        let Some((field, field_span)) = self.eat_adjacent_ident(dot.span.end) else {
            return Err(with_help(
                err(at.to(dot.span), format!("expected {} after '@request'", quoted_list(&fields))),
                "e.g. '@request.auth.id'",
            ));
        };
        let head = at.to(field_span);
        let root = match field.as_str() {
            "auth" => Root::Auth,
            "body" => Root::Body,
            "query" => Root::Query,
            "headers" => Root::Headers,
            "method" => Root::Method,
            "context" => Root::Context,
            _ => {
                let fallback = format!("'@request.' is followed by {}", REQUEST_FIELDS.join(", "));
                return Err(with_help(
                    err(field_span, format!("unknown '@request.{field}'")),
                    suggest(&field, REQUEST_FIELDS, fallback),
                ));
            }
        };
        let mut segments = Vec::new();
        self.segments(&mut segments, head)?;
        let whole = format!("@request.{field}");
        match root {
            Root::Auth | Root::Body if segments.is_empty() => {
                let example = if field == "auth" { "@request.auth.id" } else { "@request.body.title" };
                return Err(with_help(
                    err(head, format!("expected a field after '{whole}'")),
                    format!("name the field, e.g. '{example}'"),
                ));
            }
            Root::Query | Root::Headers if segments.len() != 1 => {
                let Some(extra) = segments.get(1) else {
                    let example = if field == "query" { "@request.query.page" } else { "@request.headers.x_token" };
                    return Err(with_help(
                        err(head, format!("expected a name after '{whole}'")),
                        format!("e.g. '{example}'"),
                    ));
                };
                let last = segments.last().map_or(extra.span, |s| s.span);
                return Err(with_help(
                    err(extra.span.to(last), format!("'{whole}' takes a single name, not a path")),
                    format!("'{whole}.<name>' values are plain strings and have no fields"),
                ));
            }
            Root::Method | Root::Context if !segments.is_empty() => {
                let first = segments.first().map_or(head, |s| s.span);
                let last = segments.last().map_or(head, |s| s.span);
                return Err(with_help(
                    err(first.to(last), format!("'{whole}' has no fields")),
                    format!("'{whole}' is a plain string; compare it directly, e.g. '{whole} = \"…\"'"),
                ));
            }
            _ => {}
        }
        self.path(root, segments, head)
    }

    /// After `@collection`.
    fn collection(&mut self, at: Span) -> Result<Operand, ParseError> {
        let name = self
            .eat_adjacent(&TokenKind::Dot, at.end)
            .and_then(|dot| self.eat_adjacent_ident(dot.span.end))
            .map(|(name, span)| Segment { name, span });
        let Some(name) = name else {
            return Err(with_help(
                err(at, "expected a collection name after '@collection.'"),
                "e.g. '@collection.posts.author'",
            ));
        };
        let mut head = at.to(name.span);
        let mut alias = None;
        if let Some(colon) = self.eat_adjacent(&TokenKind::Colon, head.end) {
            let Some((alias_name, alias_span)) = self.eat_adjacent_ident(colon.span.end) else {
                return Err(with_help(
                    err(colon.span, "expected an alias after ':'"),
                    format!("e.g. '@collection.{}:alias.id'", name.name),
                ));
            };
            head = head.to(alias_span);
            alias = Some(Segment { name: alias_name, span: alias_span });
        }
        let mut segments = Vec::new();
        self.segments(&mut segments, head)?;
        if segments.is_empty() {
            let text = self.text(head);
            return Err(with_help(err(head, format!("expected a field after '{text}'")), format!("e.g. '{text}.id'")));
        }
        self.path(Root::Collection { name, alias }, segments, head)
    }

    /// `name(` has been read: the arguments up to `)`.
    fn call(&mut self, name: String, name_span: Span, open: Token) -> Result<Operand, ParseError> {
        if !FUNCTIONS.contains(&name.as_str()) {
            let fallback = format!("the functions are {}", FUNCTIONS.join(" and "));
            return Err(with_help(
                err(name_span, format!("unknown function '{name}'")),
                suggest(&name, FUNCTIONS, fallback),
            ));
        }
        self.enter(open.span)?;
        let mut args = Vec::new();
        let unclosed = |name: &str| {
            with_help(err(open.span, format!("unclosed '(' of '{name}'")), "add a ')' after the last argument")
        };
        let close = if let Some(close) = self.eat_kind(&TokenKind::RParen) {
            close
        } else if self.peek().is_none() {
            return Err(unclosed(&name));
        } else {
            let mut after = open.clone();
            loop {
                args.push(self.operand(Some(&after))?);
                match self.next() {
                    Some(t) if t.kind == TokenKind::RParen => break t,
                    Some(t) if t.kind == TokenKind::Comma => after = t,
                    Some(t) => {
                        return Err(with_help(
                            err(
                                t.span,
                                format!(
                                    "expected ',' or ')' in the arguments of '{name}', found {}",
                                    self.describe(Some(&t))
                                ),
                            ),
                            "separate arguments with ','",
                        ));
                    }
                    None => return Err(unclosed(&name)),
                }
            }
        };
        self.depth -= 1;
        Ok(Operand { kind: OperandKind::Call { name, args }, span: name_span.to(close.span) })
    }

    fn eat_kind(&mut self, kind: &TokenKind) -> Option<Token> {
        if self.peek_kind() == Some(kind) { self.next() } else { None }
    }
}

fn modifier_list() -> String {
    let names: Vec<String> = Modifier::ALL.iter().map(|m| format!(":{}", m.name())).collect();
    format!("the modifiers are {}", names.join(", "))
}
