//! `#[selvedge::test]`: turns an `async fn` (or a plain `fn`) into a `#[test]` whose body runs
//! under selvedge's model, every interleaving explored with DPOR (`selvedge::model`).
//!
//! The expansion names selvedge by the name the calling crate gave it in Cargo.toml (found by
//! `proc-macro-crate`), or reaches it through the facade crate `selvedge-tokio`, so a Cargo
//! rename such as `tokio = { package = "selvedge-tokio", .. }` works unchanged; `crate =
//! "path"` overrides both.
//!
//! Invariant: every argument is either used or one of tokio's that the model makes moot
//! (`flavor`, `worker_threads`, `start_paused`); anything else is a compile error that lists
//! the accepted ones.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemFn, Lit, Meta, MetaNameValue, ReturnType, Token};

/// Runs the test body under selvedge's model: an `async fn` is driven by
/// `selvedge::future::block_on_then_shutdown` (tasks still running when the body completes are
/// cancelled, as dropping a tokio runtime does), a plain `fn` runs as is; every interleaving of the tasks it
/// spawns is explored (`selvedge::model`). A body returning `Result` fails the test on `Err`.
///
/// Accepted arguments: `crate = "path"` (where selvedge is, when the automatic lookup cannot
/// tell), and tokio's `flavor`, `worker_threads` and `start_paused`, which change nothing: the
/// model explores every interleaving whatever the flavor, and its time is always virtual.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand(args.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

fn expand(args: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let krate = crate_path(args)?;
    let function: ItemFn = syn::parse2(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            "`#[selvedge::test]` goes on a function: `async fn name() { .. }` or `fn name() { .. }`",
        )
    })?;
    if !function.sig.inputs.is_empty() {
        return Err(syn::Error::new(
            function.sig.inputs.span(),
            "a `#[selvedge::test]` function takes no arguments",
        ));
    }
    if !function.sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            function.sig.generics.span(),
            "a `#[selvedge::test]` function cannot be generic",
        ));
    }
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    let name = &sig.ident;
    let output = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let run = if sig.asyncness.is_some() {
        quote!(#krate::future::block_on_then_shutdown(async move #block))
    } else {
        quote!((move || -> #output #block)())
    };
    let span = sig.span();
    Ok(quote_spanned! {span=>
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #name() {
            #krate::model(|| {
                let outcome: #output = #run;
                #krate::__private::TestOutcome::check(outcome);
            });
        }
    })
}

/// The path to selvedge: `crate = ".."`, else the calling crate's name for it.
fn crate_path(args: TokenStream2) -> syn::Result<TokenStream2> {
    let args = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut krate = None;
    for arg in args {
        let name = arg
            .path()
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        match (name.as_str(), &arg) {
            ("crate", Meta::NameValue(MetaNameValue { value, .. })) => {
                let path: syn::Path = syn::parse_str(&string_value(value)?)?;
                krate = Some(quote!(#path));
            }
            ("flavor" | "worker_threads" | "start_paused", Meta::NameValue(_)) => {}
            _ => {
                return Err(syn::Error::new(
                    arg.span(),
                    format!(
                        "unknown argument `{}` to `#[selvedge::test]`: accepted are `crate = \
                         \"path\"`, and tokio's `flavor`, `worker_threads` and `start_paused`, \
                         which the model makes moot (it explores every interleaving, on virtual \
                         time)",
                        quote!(#arg)
                    ),
                ))
            }
        }
    }
    Ok(krate.unwrap_or_else(found_crate))
}

fn string_value(value: &Expr) -> syn::Result<String> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.value()),
        other => Err(syn::Error::new(
            other.span(),
            "expected a string, as in `crate = \"selvedge\"`",
        )),
    }
}

/// selvedge as the calling crate names it: `::selvedge` (or its Cargo rename), else through
/// the facade crate `selvedge-tokio` (renamed `tokio`, say), which re-exports it.
fn found_crate() -> TokenStream2 {
    use proc_macro_crate::{crate_name, FoundCrate};
    let ident = |name: &str| syn::Ident::new(name, Span::call_site());
    match crate_name("selvedge") {
        Ok(FoundCrate::Name(name)) => {
            let name = ident(&name);
            return quote!(::#name);
        }
        // Selvedge's own tests and doc-tests.
        Ok(FoundCrate::Itself) => return quote!(::selvedge),
        Err(_) => {}
    }
    match crate_name("selvedge-tokio") {
        Ok(FoundCrate::Name(name)) => {
            let name = ident(&name);
            quote!(::#name::__selvedge)
        }
        Ok(FoundCrate::Itself) => quote!(::selvedge_tokio::__selvedge),
        Err(_) => quote!(::selvedge),
    }
}

#[cfg(test)]
mod tests {
    use super::{expand, TokenStream2};

    fn error_of(args: &str, item: &str) -> String {
        let args: TokenStream2 = args.parse().unwrap();
        let item: TokenStream2 = item.parse().unwrap();
        expand(args, item).unwrap_err().to_string()
    }

    #[::core::prelude::v1::test]
    fn bad_input_gets_a_message_naming_what_is_accepted() {
        // Goal: every refusal says what was wrong and what is accepted.
        let unknown = error_of("strategy = \"dpor\"", "async fn t() {}");
        assert!(
            unknown.contains("unknown argument `strategy = \"dpor\"`"),
            "{unknown}"
        );
        assert!(
            unknown.contains("`flavor`, `worker_threads` and `start_paused`"),
            "{unknown}"
        );
        let args = error_of("", "async fn t(x: u32) {}");
        assert_eq!(args, "a `#[selvedge::test]` function takes no arguments");
        let not_fn = error_of("", "struct S;");
        assert!(not_fn.contains("goes on a function"), "{not_fn}");
        let crate_not_string = error_of("crate = selvedge", "async fn t() {}");
        assert!(
            crate_not_string.contains("expected a string"),
            "{crate_not_string}"
        );
    }

    #[::core::prelude::v1::test]
    fn tokio_arguments_and_a_crate_path_are_accepted() {
        let args: TokenStream2 =
            "flavor = \"current_thread\", start_paused = true, crate = \"my::path\""
                .parse()
                .unwrap();
        let item: TokenStream2 = "async fn t() {}".parse().unwrap();
        let out = expand(args, item).unwrap().to_string();
        assert!(out.contains("my :: path :: model"), "{out}");
        assert!(out.contains("future :: block_on_then_shutdown"), "{out}");
    }
}
