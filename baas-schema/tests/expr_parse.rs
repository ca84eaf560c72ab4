//! Parser tests for the rule/filter expression language (pocketbase-api.md §7).

use baas_schema::Span;
use baas_schema::expr::ast::{
    Compare, Expr, Literal, Macro, Modifier, Op, OpKind, Operand, OperandKind, Path, Root, Segment,
};
use baas_schema::expr::{ParseError, TokenKind, parse, tokenize};

// ---- helpers ----

#[track_caller]
fn ok(src: &str) -> Expr {
    match parse(src) {
        Ok(expr) => expr,
        Err(e) => panic!("{src:?} failed to parse: {e:?}"),
    }
}

#[track_caller]
fn fail(src: &str) -> ParseError {
    match parse(src) {
        Ok(expr) => panic!("{src:?} parsed, expected an error: {expr:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn compare(src: &str) -> Compare {
    match ok(src) {
        Expr::Compare(c) => c,
        other => panic!("{src:?} is not a single comparison: {other:?}"),
    }
}

/// The left operand of `{src} = 1`.
#[track_caller]
fn operand(src: &str) -> Operand {
    compare(&format!("{src} = 1")).lhs
}

#[track_caller]
fn path(src: &str) -> Path {
    match operand(src).kind {
        OperandKind::Path(p) => p,
        other => panic!("{src:?} is not a path: {other:?}"),
    }
}

fn names(path: &Path) -> Vec<&str> {
    path.segments.iter().map(|s| s.name.as_str()).collect()
}

/// The text a span covers.
fn at(src: &str, span: Span) -> &str {
    &src[span.start..span.end]
}

#[track_caller]
fn assert_error(src: &str, message: &str, span_text: &str, help: Option<&str>) {
    let e = fail(src);
    assert_eq!(e.message, message, "message for {src:?}");
    assert_eq!(at(src, e.span), span_text, "span for {src:?} ({:?})", e.span);
    assert_eq!(e.help.as_deref(), help, "help for {src:?}");
}

/// A readable table of errors for snapshots: input, message, the spanned text, help.
fn error_table(inputs: &[&str]) -> String {
    let mut out = String::new();
    for src in inputs {
        let e = fail(src);
        out.push_str(&format!(
            "{src:?}\n  error: {}\n  at {}..{}: {:?}\n  help: {}\n",
            e.message,
            e.span.start,
            e.span.end,
            src.get(e.span.start..e.span.end).unwrap_or("<bad span>"),
            e.help.as_deref().unwrap_or("-"),
        ));
    }
    out
}

fn str_lit(s: &str) -> OperandKind {
    OperandKind::Literal(Literal::String(s.to_owned()))
}

fn num(n: f64) -> OperandKind {
    OperandKind::Literal(Literal::Number(n))
}

// ---- operators ----

#[test]
fn every_operator_plain_and_any() {
    for kind in OpKind::ALL {
        for any in [false, true] {
            let op = Op { kind, any };
            let src = format!("title {op} \"x\"");
            let c = compare(&src);
            assert_eq!(c.op, op, "{src}");
            assert_eq!(at(&src, c.op_span), op.to_string(), "{src}");
            assert_eq!(c.op_span, Span::new(6, 6 + op.to_string().len()), "{src}");
            assert_eq!(c.rhs.kind, str_lit("x"));
            // Whitespace is optional around operators.
            let tight = format!("title{op}\"x\"");
            assert_eq!(compare(&tight).op, op, "{tight}");
        }
    }
}

#[test]
fn operator_spellings() {
    let cases = [
        ("=", OpKind::Eq, false),
        ("!=", OpKind::Neq, false),
        (">", OpKind::Gt, false),
        (">=", OpKind::Gte, false),
        ("<", OpKind::Lt, false),
        ("<=", OpKind::Lte, false),
        ("~", OpKind::Like, false),
        ("!~", OpKind::NotLike, false),
        ("?=", OpKind::Eq, true),
        ("?!=", OpKind::Neq, true),
        ("?>", OpKind::Gt, true),
        ("?>=", OpKind::Gte, true),
        ("?<", OpKind::Lt, true),
        ("?<=", OpKind::Lte, true),
        ("?~", OpKind::Like, true),
        ("?!~", OpKind::NotLike, true),
    ];
    for (text, kind, any) in cases {
        let src = format!("a {text} 1");
        assert_eq!(compare(&src).op, Op { kind, any }, "{src}");
    }
}

// ---- operands ----

#[test]
fn every_modifier() {
    for modifier in Modifier::ALL {
        let src = format!("tags:{} = 1", modifier.name());
        let c = compare(&src);
        let p = c.lhs.as_path().expect("path");
        let (m, span) = p.modifier.expect("modifier");
        assert_eq!(m, modifier);
        assert_eq!(at(&src, span), format!(":{}", modifier.name()));
        assert_eq!(at(&src, c.lhs.span), format!("tags:{}", modifier.name()), "operand span includes the modifier");
        assert_eq!(names(p), ["tags"]);
        assert_eq!(at(&src, p.segments[0].span), "tags");
    }
}

#[test]
fn modifiers_on_request_and_collection_paths() {
    let p = path("@request.body.flags:each");
    assert_eq!(p.root, Root::Body);
    assert_eq!(names(&p), ["flags"]);
    assert_eq!(p.modifier(), Some(Modifier::Each));

    let p = path("@request.body.title:changed");
    assert_eq!(p.modifier(), Some(Modifier::Changed));

    let p = path("@collection.posts:p.tags:length");
    assert_eq!(names(&p), ["tags"]);
    assert_eq!(p.modifier(), Some(Modifier::Length));

    let p = path("@request.method:lower");
    assert_eq!(p.root, Root::Method);
    assert_eq!(p.modifier(), Some(Modifier::Lower));
}

#[test]
fn every_macro() {
    for m in Macro::ALL {
        let src = format!("created > @{}", m.name());
        let c = compare(&src);
        assert_eq!(c.rhs.kind, OperandKind::Macro(m), "{src}");
        assert_eq!(at(&src, c.rhs.span), format!("@{}", m.name()));
    }
}

#[test]
fn every_request_root() {
    let cases = [
        ("@request.auth.id", Root::Auth, vec!["id"]),
        ("@request.auth.collectionName", Root::Auth, vec!["collectionName"]),
        ("@request.auth.team.owner.email", Root::Auth, vec!["team", "owner", "email"]),
        ("@request.body.title", Root::Body, vec!["title"]),
        ("@request.body.author.name", Root::Body, vec!["author", "name"]),
        ("@request.query.page", Root::Query, vec!["page"]),
        ("@request.headers.x_probe", Root::Headers, vec!["x_probe"]),
        ("@request.method", Root::Method, vec![]),
        ("@request.context", Root::Context, vec![]),
    ];
    for (text, root, segments) in cases {
        let src = format!("{text} = \"x\"");
        let c = compare(&src);
        let p = c.lhs.as_path().expect("path");
        assert_eq!(p.root, root, "{text}");
        assert_eq!(names(p), segments, "{text}");
        assert_eq!(p.modifier, None);
        assert_eq!(at(&src, c.lhs.span), text, "operand span of {text}");
        for segment in &p.segments {
            assert_eq!(at(&src, segment.span), segment.name, "segment span in {text}");
        }
    }
}

#[test]
fn request_auth_spans() {
    let src = "author = @request.auth.id";
    let c = compare(src);
    assert_eq!(
        c.rhs,
        Operand {
            kind: OperandKind::Path(Path {
                root: Root::Auth,
                segments: vec![Segment { name: "id".into(), span: Span::new(23, 25) }],
                modifier: None,
            }),
            span: Span::new(9, 25),
        }
    );
    assert_eq!(
        c.lhs,
        Operand {
            kind: OperandKind::Path(Path {
                root: Root::Record,
                segments: vec![Segment { name: "author".into(), span: Span::new(0, 6) }],
                modifier: None,
            }),
            span: Span::new(0, 6),
        }
    );
    assert_eq!(c.op_span, Span::new(7, 8));
}

#[test]
fn collection_without_alias() {
    insta::assert_debug_snapshot!(ok("@collection.members.user ?= @request.auth.id"));
}

#[test]
fn collection_with_alias() {
    let src = "@collection.posts:p.author.name:lower = \"x\"";
    let p = path("@collection.posts:p.author.name:lower");
    match &p.root {
        Root::Collection { name, alias } => {
            assert_eq!(name.name, "posts");
            assert_eq!(at(src, name.span), "posts");
            let alias = alias.as_ref().expect("alias");
            assert_eq!(alias.name, "p");
            assert_eq!(at(src, alias.span), "p");
        }
        other => panic!("not a collection root: {other:?}"),
    }
    assert_eq!(names(&p), ["author", "name"]);
    assert_eq!(p.modifier(), Some(Modifier::Lower));
    insta::assert_debug_snapshot!(ok(src));
}

#[test]
fn record_paths_and_back_relations() {
    assert_eq!(names(&path("title")), ["title"]);
    assert_eq!(names(&path("_private9")), ["_private9"]);
    assert_eq!(names(&path("post.author.name")), ["post", "author", "name"]);
    let src = "comments_via_post.text ?~ \"hello\"";
    let c = compare(src);
    let p = c.lhs.as_path().expect("path");
    assert_eq!(p.root, Root::Record);
    assert_eq!(names(p), ["comments_via_post", "text"]);
    assert_eq!(at(src, p.segments[1].span), "text");
    assert_eq!(at(src, c.lhs.span), "comments_via_post.text");
    // Keywords are only keywords at the start of a path.
    assert_eq!(names(&path("post.null")), ["post", "null"]);
}

#[test]
fn literals() {
    assert_eq!(operand("true").kind, OperandKind::Literal(Literal::Bool(true)));
    assert_eq!(operand("false").kind, OperandKind::Literal(Literal::Bool(false)));
    assert_eq!(operand("null").kind, OperandKind::Literal(Literal::Null));
    // `True` is a field name, not a keyword.
    assert_eq!(names(&path("True")), ["True"]);
}

#[test]
fn numbers() {
    let cases = [
        ("5", 5.0),
        ("-3", -3.0),
        ("1.5", 1.5),
        ("-0.25", -0.25),
        ("0", 0.0),
        ("007", 7.0),
        ("1000000000000000000000", 1e21),
        ("0.000001", 1e-6),
    ];
    for (text, value) in cases {
        let src = format!("views > {text}");
        let c = compare(&src);
        assert_eq!(c.rhs.kind, num(value), "{text}");
        assert_eq!(at(&src, c.rhs.span), text);
    }
    // `-0` keeps its sign.
    match compare("a = -0").rhs.kind {
        OperandKind::Literal(Literal::Number(n)) => assert!(n == 0.0 && n.is_sign_negative()),
        other => panic!("{other:?}"),
    }
    // A negative number directly after an operator.
    assert_eq!(compare("a>-1").rhs.kind, num(-1.0));
}

#[test]
fn strings_and_escapes() {
    let cases = [
        (r#""hello""#, "hello"),
        ("'hello'", "hello"),
        (r#""""#, ""),
        (r#""a\"b""#, "a\"b"),
        (r#"'it\'s'"#, "it's"),
        (r#""a\\b""#, "a\\b"),
        (r#""a\\\"b""#, "a\\\"b"),
        // A backslash before anything else is kept, with the character after it.
        (r#""a\nb""#, "a\\nb"),
        (r#""50\%""#, "50\\%"),
        // The other quote character needs no escape; escaping it keeps the backslash.
        (r#"'say "hi"'"#, "say \"hi\""),
        (r#""it's""#, "it's"),
        (r#""it\'s""#, "it\\'s"),
        ("\"über ✓\"", "über ✓"),
        ("\"two\nlines\"", "two\nlines"),
        (r#""Hel%abc""#, "Hel%abc"),
        (r#""// not a comment""#, "// not a comment"),
    ];
    for (text, value) in cases {
        let src = format!("title = {text}");
        let c = compare(&src);
        assert_eq!(c.rhs.kind, str_lit(value), "{text}");
        assert_eq!(at(&src, c.rhs.span), text, "span of {text}");
    }
}

#[test]
fn placeholders() {
    let src = "author = {:userId} && views > {:min_views2}";
    let Expr::And(a, b) = ok(src) else { panic!("not an And") };
    let Expr::Compare(a) = *a else { panic!() };
    let Expr::Compare(b) = *b else { panic!() };
    assert_eq!(a.rhs.kind, OperandKind::Placeholder("userId".into()));
    assert_eq!(at(src, a.rhs.span), "{:userId}");
    assert_eq!(b.rhs.kind, OperandKind::Placeholder("min_views2".into()));
}

#[test]
fn function_calls() {
    insta::assert_debug_snapshot!(ok("strftime('%Y-%m', created) = strftime('%Y-%m', @now)"));
    let src = "geoDistance(location.lon, location.lat, 23.32, {:lat}) < 25";
    let c = compare(src);
    let OperandKind::Call { name, args } = &c.lhs.kind else { panic!("not a call: {:?}", c.lhs) };
    assert_eq!(name, "geoDistance");
    assert_eq!(at(src, c.lhs.span), "geoDistance(location.lon, location.lat, 23.32, {:lat})");
    assert_eq!(args.len(), 4);
    assert_eq!(names(args[0].as_path().unwrap()), ["location", "lon"]);
    assert_eq!(args[2].kind, num(23.32));
    assert_eq!(args[3].kind, OperandKind::Placeholder("lat".into()));
    // Arity is not the parser's business.
    let OperandKind::Call { args, .. } = compare("strftime() = 1").lhs.kind else { panic!() };
    assert!(args.is_empty());
    // Nested calls.
    let OperandKind::Call { args, .. } = compare("strftime('%Y', strftime('%s', @now)) = 1").lhs.kind else { panic!() };
    assert!(matches!(args[1].kind, OperandKind::Call { .. }));
}

#[test]
fn comments_and_whitespace() {
    let src = "// only published posts\npublished = true // the flag\n\t&& // and\n  author = @request.auth.id //";
    let expr = ok(src);
    assert_eq!(expr.comparisons().len(), 2);
    assert_eq!(at(src, expr.span()), "published = true // the flag\n\t&& // and\n  author = @request.auth.id");
    assert_eq!(ok("a=1").without_spans(), ok("  a \r\n=\t1  ").without_spans());
}

// ---- structure ----

#[test]
fn and_binds_tighter_than_or() {
    let e = ok("a = 1 || b = 2 && c = 3").without_spans();
    assert!(matches!(&e, Expr::Or(l, r) if matches!(**l, Expr::Compare(_)) && matches!(**r, Expr::And(..))), "{e:?}");
    let e = ok("a = 1 && b = 2 || c = 3").without_spans();
    assert!(matches!(&e, Expr::Or(l, r) if matches!(**l, Expr::And(..)) && matches!(**r, Expr::Compare(_))), "{e:?}");
}

#[test]
fn left_associative() {
    let e = ok("a = 1 && b = 2 && c = 3");
    let Expr::And(l, r) = &e else { panic!("{e:?}") };
    assert!(matches!(**l, Expr::And(..)));
    assert!(matches!(**r, Expr::Compare(_)));
    let e = ok("a = 1 || b = 2 || c = 3");
    let Expr::Or(l, r) = &e else { panic!("{e:?}") };
    assert!(matches!(**l, Expr::Or(..)));
    assert!(matches!(**r, Expr::Compare(_)));
}

#[test]
fn groups_keep_their_parentheses() {
    let src = "a = 1 && (b = 2 || c = 3)";
    let e = ok(src);
    let Expr::And(_, r) = &e else { panic!("{e:?}") };
    let Expr::Group(inner, span) = &**r else { panic!("{r:?}") };
    assert_eq!(at(src, *span), "(b = 2 || c = 3)");
    assert!(matches!(**inner, Expr::Or(..)));
    assert_eq!(at(src, e.span()), src);

    let src = "((a = 1))";
    let Expr::Group(inner, outer) = ok(src) else { panic!() };
    assert_eq!(outer, Span::new(0, 9));
    assert!(matches!(*inner, Expr::Group(_, Span { start: 1, end: 8 })));
}

#[test]
fn full_rule_snapshot() {
    insta::assert_debug_snapshot!(ok(
        "@request.auth.id != \"\" && (author = @request.auth.id || published = true) && @request.body.tags:length <= 3"
    ));
}

#[test]
fn nesting_up_to_the_limit_is_fine() {
    let src = format!("{}a = 1{}", "(".repeat(64), ")".repeat(64));
    ok(&src);
    let src = format!("{}a = 1{}", "(".repeat(65), ")".repeat(65));
    let e = fail(&src);
    assert_eq!(e.message, "expression is nested too deeply");
    assert_eq!(e.span, Span::new(64, 65));
}

#[test]
fn deep_input_does_not_overflow() {
    for depth in [1_000, 100_000] {
        let src = format!("{}a = 1{}", "(".repeat(depth), ")".repeat(depth));
        assert_eq!(fail(&src).message, "expression is nested too deeply");
        let src = format!("{}1) = 1", "strftime(".repeat(depth));
        assert_eq!(fail(&src).message, "expression is nested too deeply");
        let src = "(".repeat(depth);
        assert_eq!(fail(&src).message, "expression is nested too deeply");
    }
    let chain = vec!["a = 1"; 1000].join(" && ");
    assert_eq!(ok(&chain).comparisons().len(), 1000);
    let chain = vec!["a = 1"; 100_000].join(" || ");
    let e = fail(&chain);
    assert_eq!(e.message, "expression has too many comparisons");
    assert_eq!(e.span, Span::new(9000, 9005));
}

// ---- tokens ----

#[test]
fn tokens() {
    let kinds: Vec<TokenKind> = tokenize("@request.auth.id ?!= {:x} && (a:each || 'q') // c\n-1.5,")
        .unwrap()
        .into_iter()
        .map(|t| t.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            TokenKind::At("request".into()),
            TokenKind::Dot,
            TokenKind::Ident("auth".into()),
            TokenKind::Dot,
            TokenKind::Ident("id".into()),
            TokenKind::Op(Op { kind: OpKind::Neq, any: true }),
            TokenKind::Placeholder("x".into()),
            TokenKind::AndAnd,
            TokenKind::LParen,
            TokenKind::Ident("a".into()),
            TokenKind::Colon,
            TokenKind::Ident("each".into()),
            TokenKind::OrOr,
            TokenKind::Str("q".into()),
            TokenKind::RParen,
            TokenKind::Number(-1.5),
            TokenKind::Comma,
        ]
    );
    assert_eq!(tokenize("  // nothing\n").unwrap(), []);
}

// ---- printing ----

#[test]
fn prints_canonical_text() {
    let cases = [
        ("a=1", "a = 1"),
        ("  a   ?!~'x'  ", "a ?!~ \"x\""),
        ("a=1||b=2&&(c=3||d=4)", "a = 1 || b = 2 && (c = 3 || d = 4)"),
        ("((a=1))", "((a = 1))"),
        ("x = 'it\\'s \"q\" \\\\ \\n'", r#"x = "it's \"q\" \\ \\n""#),
        ("n=1.50", "n = 1.5"),
        ("n=-0", "n = -0"),
        ("n=007", "n = 7"),
        ("n=1000000000000000000000", "n = 1000000000000000000000"),
        ("t=true&&f=false&&z=null", "t = true && f = false && z = null"),
        ("a={:p}", "a = {:p}"),
        ("c>@todayStart", "c > @todayStart"),
        ("tags:each?=\"x\"", "tags:each ?= \"x\""),
        (
            "@collection.posts:p.title:lower~@request.body.title",
            "@collection.posts:p.title:lower ~ @request.body.title",
        ),
        ("@collection.posts.title = @request.query.q", "@collection.posts.title = @request.query.q"),
        (
            "@request.method='GET'&&@request.context!='oauth2'",
            "@request.method = \"GET\" && @request.context != \"oauth2\"",
        ),
        ("@request.headers.x_token = 'a'", "@request.headers.x_token = \"a\""),
        ("geoDistance(a,b,1,2)<5", "geoDistance(a, b, 1, 2) < 5"),
        ("strftime('%Y',created)=\"2026\" // comment", "strftime(\"%Y\", created) = \"2026\""),
        ("a = 1 // x\n || b = 2", "a = 1 || b = 2"),
    ];
    for (src, printed) in cases {
        let e = ok(src);
        assert_eq!(e.to_string(), printed, "printing {src:?}");
        assert_eq!(ok(printed).without_spans(), e.without_spans(), "re-parsing {printed:?}");
    }
}

#[test]
fn prints_operands_and_paths() {
    assert_eq!(operand("post.author.name:lower").to_string(), "post.author.name:lower");
    assert_eq!(path("@request.auth.id").to_string(), "@request.auth.id");
    assert_eq!(Literal::String("a\"b\\c".into()).to_string(), r#""a\"b\\c""#);
    assert_eq!(Literal::Number(0.1).to_string(), "0.1");
    assert_eq!(Literal::Number(1e-7).to_string(), "0.0000001");
}

// ---- errors ----

#[test]
fn empty_expression() {
    for src in ["", "   ", "\n\t", "// just a comment", "  // c1\n // c2\n"] {
        let e = fail(src);
        assert_eq!(e.message, "empty expression", "{src:?}");
        assert_eq!(e.span, Span::new(0, src.len()));
        assert_eq!(e.help, None);
    }
}

#[test]
fn double_equals() {
    assert_error("title == 'x'", "'==' is not an operator", "==", Some("use '=' to compare for equality"));
    assert_error("tags ?== 'x'", "'?==' is not an operator", "?==", Some("use '?=' to compare for equality"));
}

#[test]
fn single_ampersand_and_pipe() {
    assert_error("a = 1 & b = 2", "unexpected '&'", "&", Some("use '&&' for 'and'"));
    assert_error("a = 1 | b = 2", "unexpected '|'", "|", Some("use '||' for 'or'"));
}

#[test]
fn operand_without_operator() {
    let help = "a comparison is 'operand operator operand', e.g. 'title = \"x\"'; the operators are =, !=, >, >=, <, <=, ~, !~ and their any-of forms ?=, ?!=, …";
    assert_error("published", "expected a comparison operator after 'published'", "published", Some(help));
    assert_error(
        "published && a = 1",
        "expected a comparison operator after 'published', found '&&'",
        "&&",
        Some(help),
    );
    assert_error(
        "@request.body.x:isset",
        "expected a comparison operator after '@request.body.x:isset'",
        "@request.body.x:isset",
        Some(help),
    );
}

#[test]
fn missing_operands() {
    let help = Some(
        "an operand is a field, a string, a number, true, false, null, {:placeholder}, '@request.*', '@collection.*' or a macro such as '@now'",
    );
    assert_error("a = 1 &&", "expected an operand after '&&'", "&&", help);
    assert_error("a = 1 || ", "expected an operand after '||'", "||", help);
    assert_error("a = 1 && || b = 2", "expected an operand after '&&', found '||'", "||", help);
    assert_error("a =", "expected an operand after '='", "=", help);
    assert_error("a ?!~ )", "expected an operand after '?!~', found ')'", ")", help);
    assert_error("= 1", "expected an operand, found '='", "=", help);
    assert_error("a = 1 && ()", "expected an operand after '(', found ')'", ")", help);
}

#[test]
fn unbalanced_parentheses() {
    assert_error("(a = 1", "unclosed '('", "(", Some("add a ')' to close it"));
    assert_error("a = 1 && ((b = 2) || c = 3", "unclosed '('", "(", Some("add a ')' to close it"));
    let e = fail("a = 1 && ((b = 2) || c = 3");
    assert_eq!(e.span, Span::new(9, 10), "the outer, unclosed parenthesis");
    assert_error("a = 1)", "unmatched ')'", ")", Some("remove it, or add the '(' it closes"));
    assert_error(
        "(a = 1 b = 2)",
        "expected '&&', '||' or ')', found 'b'",
        "b",
        Some("join comparisons with '&&' or '||'"),
    );
}

#[test]
fn trailing_garbage() {
    assert_error("a = 1 b = 2", "expected '&&' or '||', found 'b'", "b", Some("join comparisons with '&&' or '||'"));
    assert_error("a = 1 and b = 2", "expected '&&' or '||', found 'and'", "and", Some("use '&&' for 'and'"));
    assert_error("a = 1 OR b = 2", "expected '&&' or '||', found 'OR'", "OR", Some("use '||' for 'or'"));
    assert_error(
        "a = 1 = 2",
        "unexpected '=' after a comparison",
        "=",
        Some("comparisons can't be chained; join two comparisons with '&&' or '||'"),
    );
}

#[test]
fn unterminated_strings() {
    assert_error("title = \"abc", "unterminated string", "\"", Some("add a closing \" to end the string"));
    assert_error("title = 'a\\'", "unterminated string", "'", Some("add a closing ' to end the string"));
    let e = fail("a = 1 && title = 'abc");
    assert_eq!(e.span, Span::new(17, 18));
}

#[test]
fn bad_request_roots() {
    assert_error("@request.autth.id = 1", "unknown '@request.autth'", "autth", Some("did you mean 'auth'?"));
    assert_error(
        "@request.data.title = 1",
        "unknown '@request.data'",
        "data",
        Some("'@request.' is followed by auth, body, query, headers, method, context"),
    );
    assert_error(
        "@request.auth = 1",
        "expected a field after '@request.auth'",
        "@request.auth",
        Some("name the field, e.g. '@request.auth.id'"),
    );
    assert_error(
        "@request.body = 1",
        "expected a field after '@request.body'",
        "@request.body",
        Some("name the field, e.g. '@request.body.title'"),
    );
    assert_error(
        "@request.query = 1",
        "expected a name after '@request.query'",
        "@request.query",
        Some("e.g. '@request.query.page'"),
    );
    assert_error(
        "@request = 1",
        "expected '.auth', '.body', '.query', '.headers', '.method' or '.context' after '@request'",
        "@request",
        Some("e.g. '@request.auth.id'"),
    );
    assert_error(
        "@request.method.x = 1",
        "'@request.method' has no fields",
        "x",
        Some("'@request.method' is a plain string; compare it directly, e.g. '@request.method = \"…\"'"),
    );
    assert_error(
        "@request.headers.a.b = 1",
        "'@request.headers' takes a single name, not a path",
        "b",
        Some("'@request.headers.<name>' values are plain strings and have no fields"),
    );
}

#[test]
fn bad_collections() {
    assert_error(
        "@collection.posts = 1",
        "expected a field after '@collection.posts'",
        "@collection.posts",
        Some("e.g. '@collection.posts.id'"),
    );
    assert_error(
        "@collection.posts:p = 1",
        "expected a field after '@collection.posts:p'",
        "@collection.posts:p",
        Some("e.g. '@collection.posts:p.id'"),
    );
    assert_error(
        "@collection = 1",
        "expected a collection name after '@collection.'",
        "@collection",
        Some("e.g. '@collection.posts.author'"),
    );
}

#[test]
fn unknown_macros() {
    assert_error("created > @tody", "unknown '@tody'", "@tody", Some("did you mean '@todayEnd'?"));
    assert_error("created > @todayStrat", "unknown '@todayStrat'", "@todayStrat", Some("did you mean '@todayStart'?"));
    assert_error("a = @requets.auth.id", "unknown '@requets'", "@requets", Some("did you mean '@request'?"));
    assert_error("a = @colection.x.y", "unknown '@colection'", "@colection", Some("did you mean '@collection'?"));
    let e = fail("a = @zzz");
    assert!(e.help.unwrap().starts_with("'@' names are @request, @collection and the macros @now, @second"));
}

#[test]
fn unknown_modifiers() {
    assert_error("tags:lenght = 2", "unknown modifier ':lenght'", ":lenght", Some("did you mean ':length'?"));
    assert_error(
        "tags:xyz = 2",
        "unknown modifier ':xyz'",
        ":xyz",
        Some("the modifiers are :isset, :changed, :length, :each, :lower"),
    );
    assert_error(
        "tags:each:length = 2",
        "only one modifier is allowed",
        ":length",
        Some("keep one of ':each' and ':length'"),
    );
    assert_error(
        "@now:lower = 1",
        "only fields can take a modifier",
        ":lower",
        Some("modifiers apply to fields and '@request.*' values, not to macros"),
    );
}

#[test]
fn unknown_functions() {
    assert_error(
        "strftme('%Y', created) = 1",
        "unknown function 'strftme'",
        "strftme",
        Some("did you mean 'strftime'?"),
    );
    assert_error(
        "lower(title) = 'x'",
        "unknown function 'lower'",
        "lower",
        Some("the functions are strftime and geoDistance"),
    );
    assert_error(
        "strftime('%Y' created) = 1",
        "expected ',' or ')' in the arguments of 'strftime', found 'created'",
        "created",
        Some("separate arguments with ','"),
    );
    assert_error(
        "strftime('%Y', created",
        "unclosed '(' of 'strftime'",
        "(",
        Some("add a ')' after the last argument"),
    );
}

#[test]
fn error_catalogue() {
    let catalogue = error_table(&[
        "title ! 'x'",
        "a ? 1",
        "a = 1 #",
        "a = - 1",
        "a = 1 / 2",
        "a = 1e5",
        "a = 12abc",
        "a = .5",
        "a = @",
        "a = @ now",
        "a = { :x}",
        "a = {:}",
        "a = {:x",
        "a = 'x' < 'y' < 'z'",
        "post. author = 1",
        "post.",
        "post.5 = 1",
        "tags : each = 1",
        "tags: = 1",
        "'x':lower = 1",
        "strftime ('%Y', created) = 1",
        "strftime('%Y',) = 1",
        "strftime(",
        "@request.auth.id = 1 && @collection.posts: = 1",
        "a = 1 && é = 2",
        "a = 1 &&& b = 2",
        "(a = 1))",
        ")",
        "a",
        "a = 1 &&\n// trailing comment",
        &format!("a = {}", "9".repeat(400)),
    ]);
    insta::assert_snapshot!(catalogue);
}
