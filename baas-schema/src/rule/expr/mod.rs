//! The rule and filter expression language (pocketbase-api.md §7): one grammar for access
//! rules, `?filter=` and realtime filters.
//!
//! [`parse`] turns text into an [`ast::Expr`] with spans; `Display` prints a tree back as
//! text that parses to the same tree.

pub mod ast;
mod lexer;
mod parser;
mod print;

pub use lexer::{Token, TokenKind, tokenize};
pub use parser::{ParseError, parse};
