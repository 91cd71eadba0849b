pub mod bench;
pub mod ps;
pub mod run;
pub mod serve;
pub mod tokenize;

use crate::exit::InputError;
use std::io::Read;

/// The text argument, or all of standard input when it is absent.
pub fn text_or_stdin(arg: Option<String>, what: &str) -> anyhow::Result<String> {
    if let Some(t) = arg {
        return Ok(t);
    }
    let mut buf = Vec::new();
    std::io::stdin().read_to_end(&mut buf)?;
    String::from_utf8(buf).map_err(|e| {
        InputError(format!(
            "the {what} on standard input is not valid UTF-8 (bad byte at offset {}); convert it to UTF-8 first (e.g. with iconv)",
            e.utf8_error().valid_up_to()
        ))
        .into()
    })
}
