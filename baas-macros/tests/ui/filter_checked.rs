// A collection's `filter!` runs the schema's checker when the crate compiles: a field renamed
// in the schema (`title` → `headline`) or misspelled inside the string is reported with the
// checker's help, and a placeholder's value must have the type of what it is compared with.
// (The same schema as renamed_field.rs, with its migrations.)
#[baas_runtime::schema(migrations = "../../../../baas-macros/tests/ui/migrations/renamed_field")]
mod blog {
    use baas_runtime::Collection;

    #[derive(Collection)]
    #[collection(list = "", view = "", create = "", update = "", delete = "")]
    pub struct Post {
        pub headline: String,
        pub views: u32,
    }
}

fn renamed() -> baas_runtime::data::CheckedFilter {
    blog::posts::filter!("title = 'Hello'")
}

fn misspelled() -> baas_runtime::data::CheckedFilter {
    blog::posts::filter!("headlin = 'Hello'")
}

fn wrong_type() -> baas_runtime::data::CheckedFilter {
    blog::posts::filter!("views > {:n}", n = "many")
}

fn missing_value() -> baas_runtime::data::CheckedFilter {
    blog::posts::filter!("headline = {:h}")
}

fn fine(min: u32) -> baas_runtime::data::CheckedFilter {
    blog::posts::filter!("views > {:min} && headline != ''", min = min)
}

fn main() {}
