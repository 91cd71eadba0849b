//! `cargo run -p extract --example extract -- FILE...`: print each file's kind and text
//! (or its error), as `hearth batch` would see it.
fn main() {
    let mut failed = false;
    for arg in std::env::args().skip(1) {
        let path = std::path::Path::new(&arg);
        let kind = extract::kind_of(path).map_or("?", |k| k.as_str());
        match extract::extract(path) {
            Ok(text) => println!(
                "==> {arg} ({kind}, {} chars)\n{text}\n",
                text.chars().count()
            ),
            Err(e) => {
                failed = true;
                println!("==> {arg} ({kind})\nerror: {e}\n");
            }
        }
    }
    std::process::exit(i32::from(failed));
}
