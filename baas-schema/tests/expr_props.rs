//! Property tests for the expression language: no input panics the lexer or parser, and
//! printing a tree then parsing the text gives the same tree back, with spans that cover
//! exactly the printed pieces.

use baas_schema::Span;
use baas_schema::expr::ast::{
    Compare, Expr, Literal, Macro, Modifier, Op, OpKind, Operand, OperandKind, Path, Root, Segment,
};
use baas_schema::expr::{parse, tokenize};
use proptest::prelude::*;

// ---- arbitrary text ----

/// Pieces of the grammar, glued together at random: text that is close to valid.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("@request.".to_owned()),
        Just("@request.auth.".to_owned()),
        Just("@collection.".to_owned()),
        Just("@".to_owned()),
        Just("&&".to_owned()),
        Just("||".to_owned()),
        Just("&".to_owned()),
        Just("|".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("\\".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just(":each".to_owned()),
        Just(":".to_owned()),
        Just(".".to_owned()),
        Just(",".to_owned()),
        Just("{:".to_owned()),
        Just("}".to_owned()),
        Just("//".to_owned()),
        Just("\n".to_owned()),
        Just(" ".to_owned()),
        Just("-".to_owned()),
        Just("strftime(".to_owned()),
        Just("geoDistance(".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
        Just("@now".to_owned()),
        prop::sample::select(vec!["=", "==", "!=", "!", "?", ">", ">=", "<", "<=", "~", "!~", "?=", "?!~"])
            .prop_map(str::to_owned),
        "[a-z_]{1,6}",
        "-?[0-9]{1,4}(\\.[0-9]{0,3})?",
        any::<char>().prop_map(String::from),
    ]
}

fn grammar_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..24).prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(src in any::<String>()) {
        let _ = tokenize(&src);
        let _ = parse(&src);
    }

    #[test]
    fn grammar_soup_never_panics(src in grammar_soup()) {
        let _ = tokenize(&src);
        if let Err(e) = parse(&src) {
            // Error spans point into the input, on character boundaries.
            prop_assert!(e.span.start <= e.span.end && e.span.end <= src.len(), "{e:?}");
            prop_assert!(src.is_char_boundary(e.span.start) && src.is_char_boundary(e.span.end), "{e:?}");
        }
    }
}

// ---- well-formed trees ----

const RESERVED: [&str; 5] = ["true", "false", "null", "strftime", "geoDistance"];

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,7}"
        .prop_filter("keywords and function names are not identifiers", |s| !RESERVED.contains(&s.as_str()))
}

fn segment() -> impl Strategy<Value = Segment> {
    name().prop_map(|name| Segment { name, span: Span::default() })
}

fn segments(min: usize, max: usize) -> impl Strategy<Value = Vec<Segment>> {
    prop::collection::vec(segment(), min..=max)
}

fn finite_f64() -> impl Strategy<Value = f64> {
    use prop::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    prop_oneof![
        (POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO),
        (-1000i32..1000).prop_map(f64::from),
        (-100_000i32..100_000).prop_map(|n| f64::from(n) / 100.0),
    ]
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<String>().prop_map(Literal::String),
        "[\"'\\\\a-z %]{0,8}".prop_map(Literal::String),
        finite_f64().prop_map(Literal::Number),
        any::<bool>().prop_map(Literal::Bool),
        Just(Literal::Null),
    ]
}

fn root_and_segments() -> impl Strategy<Value = (Root, Vec<Segment>)> {
    prop_oneof![
        segments(1, 3).prop_map(|s| (Root::Record, s)),
        segments(1, 3).prop_map(|s| (Root::Auth, s)),
        segments(1, 3).prop_map(|s| (Root::Body, s)),
        segments(1, 1).prop_map(|s| (Root::Query, s)),
        segments(1, 1).prop_map(|s| (Root::Headers, s)),
        Just((Root::Method, Vec::new())),
        Just((Root::Context, Vec::new())),
        (segment(), prop::option::of(segment()), segments(1, 3))
            .prop_map(|(name, alias, s)| (Root::Collection { name, alias }, s)),
    ]
}

fn path() -> impl Strategy<Value = Path> {
    (root_and_segments(), prop::option::of(prop::sample::select(Modifier::ALL.to_vec()))).prop_map(
        |((root, segments), modifier)| Path { root, segments, modifier: modifier.map(|m| (m, Span::default())) },
    )
}

fn leaf_operand() -> impl Strategy<Value = OperandKind> {
    prop_oneof![
        literal().prop_map(OperandKind::Literal),
        path().prop_map(OperandKind::Path),
        prop::sample::select(Macro::ALL.to_vec()).prop_map(OperandKind::Macro),
        "[A-Za-z0-9_]{1,8}".prop_map(OperandKind::Placeholder),
    ]
}

fn operand() -> impl Strategy<Value = Operand> {
    let kind = leaf_operand().prop_recursive(2, 12, 4, |inner| {
        (
            prop::sample::select(vec!["strftime", "geoDistance"]),
            prop::collection::vec(inner.prop_map(|kind| Operand { kind, span: Span::default() }), 0..4),
        )
            .prop_map(|(name, args)| OperandKind::Call { name: name.to_owned(), args })
    });
    kind.prop_map(|kind| Operand { kind, span: Span::default() })
}

fn op() -> impl Strategy<Value = Op> {
    (prop::sample::select(OpKind::ALL.to_vec()), any::<bool>()).prop_map(|(kind, any)| Op { kind, any })
}

fn comparison() -> impl Strategy<Value = Expr> {
    (operand(), op(), operand())
        .prop_map(|(lhs, op, rhs)| Expr::Compare(Compare { lhs, op, op_span: Span::default(), rhs }))
}

fn group(e: Expr) -> Expr {
    Expr::Group(Box::new(e), Span::default())
}

/// `a && b`, with the groups the printed text needs to parse back to this tree.
fn and(a: Expr, b: Expr) -> Expr {
    let a = if matches!(a, Expr::Or(..)) { group(a) } else { a };
    let b = if matches!(b, Expr::Or(..) | Expr::And(..)) { group(b) } else { b };
    Expr::And(Box::new(a), Box::new(b))
}

/// `a || b`, grouping a right-hand `||`.
fn or(a: Expr, b: Expr) -> Expr {
    let b = if matches!(b, Expr::Or(..)) { group(b) } else { b };
    Expr::Or(Box::new(a), Box::new(b))
}

fn expr() -> impl Strategy<Value = Expr> {
    comparison().prop_recursive(5, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| and(a, b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| or(a, b)),
            inner.prop_map(group),
        ]
    })
}

// ---- span checks ----

/// Every span of a tree parsed from canonical text covers exactly the printed piece.
fn check_spans(src: &str, e: &Expr) -> Result<(), TestCaseError> {
    let text = |span: Span| src.get(span.start..span.end).unwrap_or("<bad span>");
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => {
            check_spans(src, a)?;
            check_spans(src, b)?;
        }
        Expr::Group(inner, span) => {
            prop_assert_eq!(text(*span), e.to_string());
            check_spans(src, inner)?;
        }
        Expr::Compare(c) => {
            prop_assert_eq!(text(c.op_span), c.op.to_string());
            check_operand(src, &c.lhs)?;
            check_operand(src, &c.rhs)?;
        }
    }
    prop_assert_eq!(text(e.span()), e.to_string());
    Ok(())
}

fn check_operand(src: &str, o: &Operand) -> Result<(), TestCaseError> {
    let text = |span: Span| src.get(span.start..span.end).unwrap_or("<bad span>");
    prop_assert_eq!(text(o.span), o.to_string());
    match &o.kind {
        OperandKind::Path(p) => {
            for s in &p.segments {
                prop_assert_eq!(text(s.span), &s.name);
            }
            if let Root::Collection { name, alias } = &p.root {
                prop_assert_eq!(text(name.span), &name.name);
                if let Some(alias) = alias {
                    prop_assert_eq!(text(alias.span), &alias.name);
                }
            }
            if let Some((m, span)) = p.modifier {
                prop_assert_eq!(text(span), format!(":{}", m.name()));
            }
        }
        OperandKind::Call { args, .. } => {
            for arg in args {
                check_operand(src, arg)?;
            }
        }
        _ => {}
    }
    Ok(())
}

proptest! {
    #[test]
    fn print_then_parse_round_trips(ast in expr()) {
        let text = ast.to_string();
        let parsed = match parse(&text) {
            Ok(parsed) => parsed,
            Err(e) => return Err(TestCaseError::fail(format!("{text:?} does not parse: {e:?}"))),
        };
        prop_assert_eq!(parsed.without_spans(), ast.without_spans(), "text: {:?}", text);
        // Printing is a fixed point: the parsed tree prints to the same text.
        prop_assert_eq!(parsed.to_string(), text.clone());
        check_spans(&text, &parsed)?;
    }

    /// Whitespace and comments between tokens don't change the tree.
    #[test]
    fn comments_and_spacing_are_insignificant(ast in expr()) {
        let text = ast.to_string();
        let spaced = text.replace(" && ", " // and\n\t&&  ").replace(" || ", "\r\n|| // or\n");
        let parsed = match parse(&spaced) {
            Ok(parsed) => parsed,
            Err(e) => return Err(TestCaseError::fail(format!("{spaced:?} does not parse: {e:?}"))),
        };
        prop_assert_eq!(parsed.without_spans(), ast.without_spans(), "text: {:?}", spaced);
    }
}

#[test]
fn printed_numbers_re_lex() {
    let values =
        [0.0, -0.0, 0.1, -0.1, 1e21, 1e-7, 1e300, -1e300, f64::MAX, f64::MIN, f64::MIN_POSITIVE, 5e-324, 123.456];
    for n in values {
        let text = format!("a = {n}");
        let Expr::Compare(c) = parse(&text).unwrap() else { panic!("{text}") };
        match c.rhs.kind {
            OperandKind::Literal(Literal::Number(m)) => {
                assert_eq!(m.to_bits(), n.to_bits(), "{text}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}
