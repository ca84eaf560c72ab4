fn main() {
    baas_codegen::Builder::new().schema("../../schemas/blog.yaml").compile();
}
