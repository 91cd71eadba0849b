//! Incremental detokenization: emits text only once complete UTF-8 characters
//! are available; invalid byte sequences become U+FFFD instead of stalling.

use crate::Tokenizer;

#[derive(Debug, Default, Clone)]
pub struct StreamDecoder {
    pending: Vec<u8>,
    special: bool,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Also render control tokens (as their text).
    pub fn with_special(special: bool) -> Self {
        StreamDecoder {
            pending: Vec::new(),
            special,
        }
    }

    /// Feeds one token; returns the newly completed text (possibly empty).
    pub fn push(&mut self, tok: &Tokenizer, id: u32) -> String {
        let mut out = String::new();
        self.push_into(tok, id, &mut out);
        out
    }

    /// Feeds one token and appends the newly completed text to `out`. Once
    /// `out` and the decoder's few pending bytes have their capacity, this
    /// allocates nothing (the per-token step of generation).
    pub fn push_into(&mut self, tok: &Tokenizer, id: u32, out: &mut String) {
        let piece = if self.special {
            tok.token_to_piece_special(id)
        } else {
            tok.token_to_piece(id)
        };
        self.push_bytes_into(piece, out)
    }

    /// Feeds raw bytes.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> String {
        let mut out = String::new();
        self.push_bytes_into(bytes, &mut out);
        out
    }

    /// Feeds raw bytes and appends the newly completed text to `out`.
    pub fn push_bytes_into(&mut self, bytes: &[u8], out: &mut String) {
        // The common case: nothing pending and a piece of whole characters.
        if self.pending.is_empty() {
            if let Ok(s) = std::str::from_utf8(bytes) {
                out.push_str(s);
                return;
            }
        }
        self.pending.extend_from_slice(bytes);
        let mut consumed = 0;
        loop {
            let rest = &self.pending[consumed..];
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    consumed = self.pending.len();
                    break;
                }
                Err(e) => {
                    let good = e.valid_up_to();
                    // valid up to `good`, as `from_utf8` just found
                    out.push_str(std::str::from_utf8(&rest[..good]).unwrap_or_default());
                    consumed += good;
                    match e.error_len() {
                        // invalid sequence: replace and continue
                        Some(n) => {
                            out.push('\u{FFFD}');
                            consumed += n;
                        }
                        // incomplete character at the end: wait for more bytes
                        None => break,
                    }
                }
            }
        }
        self.pending.drain(..consumed);
    }

    /// Bytes held back waiting for the rest of a character.
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }

    /// Emits whatever is pending (incomplete characters become U+FFFD).
    pub fn flush(&mut self) -> String {
        let s = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        s
    }
}
