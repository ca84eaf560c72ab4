//! The blog-yaml backend: generated once by baas, yours from now on.

mod generated;
mod hooks;

fn main() -> ::std::process::ExitCode {
    ::baas_runtime::run(generated::backend(hooks::Hooks).routes(hooks::routes()).cron(
        "purge_unverified",
        "0 3 * * *",
        hooks::purge_unverified,
    ))
}
