// Embeds every file under `templates/` into the binary; `--templates DIR` can override any of them at run time.
fn main() {
    minijinja_embed::embed_templates!("templates");
}
