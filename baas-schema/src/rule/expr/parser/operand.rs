//! Operands: literals, placeholders, macros, paths with their modifier, `@request.*`,
//! `@collection.*` and function calls, each with its own messages for what is missing.

use super::{FUNCTIONS, KEYWORDS, ParseError, Parser, REQUEST_FIELDS, err, quoted_list, suggest, with_help};
use crate::rule::expr::ast::{Literal, Macro, Modifier, Operand, OperandKind, Path, Root, Segment};
use crate::rule::expr::lexer::{Token, TokenKind};
use crate::source::Span;

impl Parser<'_> {
    /// One operand. `after` is the token before it, for "expected an operand after …".
    pub(super) fn operand(&mut self, after: Option<&Token>) -> Result<Operand, ParseError> {
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
}

fn modifier_list() -> String {
    let names: Vec<String> = Modifier::ALL.iter().map(|m| format!(":{}", m.name())).collect();
    format!("the modifiers are {}", names.join(", "))
}
