//! Proc-macro shell for the derive front end. The logic will live in `baas-codegen` as a
//! library over `proc_macro2::TokenStream` (issue 5); this crate stays a thin shell.
