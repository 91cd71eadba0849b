//! The per-token step shared by every generation loop (one request in
//! `conversation.rs`, many in `scheduler.rs`): sample a token, end on an
//! end-of-generation token, turn ids into complete UTF-8 text, hold back
//! possible stop-string prefixes, and end on a stop string.

use crate::GenerateRequest;
use sampler::{Sampler, StopMatcher};
use tokenizer::{StreamDecoder, Tokenizer};

/// Why a step ended generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// An end-of-generation token (its text is not output).
    Eog,
    /// A stop string (the text before it was output, the rest is dropped).
    StopString,
}

/// One step's result.
pub(crate) struct Sampled<'a> {
    pub token: u32,
    /// Text that is now safe to output (may be empty).
    pub text: &'a str,
    pub end: Option<End>,
}

/// The per-token step allocates nothing once its buffers have grown to the
/// text of a token or two (tested: `tests::a_step_allocates_nothing`); only
/// `out` grows, by doubling.
pub(crate) struct Stepper {
    sampler: Sampler,
    decoder: StreamDecoder,
    stops: StopMatcher,
    /// The decoded text of the last token (reused).
    piece: String,
    /// The text of the last step that is safe to output (reused).
    text: String,
    /// Generated ids, including a final end-of-generation token.
    pub out: Vec<u32>,
    stopped_by_string: bool,
}

impl Stepper {
    /// A stepper for `req`, its penalties primed with the prompt.
    pub fn new(req: &GenerateRequest, n_vocab: usize, prompt: &[u32]) -> Stepper {
        let mut sampler = Sampler::new(req.sampling.clone(), n_vocab);
        for &t in prompt {
            sampler.accept(t);
        }
        Stepper {
            sampler,
            decoder: StreamDecoder::new(),
            stops: StopMatcher::new(req.stop.clone()),
            piece: String::with_capacity(64),
            text: String::with_capacity(64),
            out: Vec::with_capacity(req.max_tokens.unwrap_or(256).min(4096)),
            stopped_by_string: false,
        }
    }

    /// Sample the next token from `logits` and say what to output.
    pub fn next(&mut self, tok: &Tokenizer, logits: &[f32]) -> Sampled<'_> {
        let token = self.sampler.sample(logits);
        self.sampler.accept(token);
        self.out.push(token);
        self.text.clear();
        if tok.is_eog(token) {
            return Sampled {
                token,
                text: &self.text,
                end: Some(End::Eog),
            };
        }
        self.piece.clear();
        self.decoder.push_into(tok, token, &mut self.piece);
        let hit = self.stops.push_into(&self.piece, &mut self.text);
        self.stopped_by_string = hit;
        Sampled {
            token,
            text: &self.text,
            end: hit.then_some(End::StopString),
        }
    }

    /// Text still held back when generation ends (an incomplete character, a
    /// possible stop-string prefix); nothing after a stop string.
    pub fn finish(&mut self) -> String {
        if self.stopped_by_string {
            return String::new();
        }
        let rest = self.decoder.flush();
        let (emit, _) = self.stops.push(&rest);
        emit + &self.stops.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Prompt, SamplingParams};
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static ALLOCS: Cell<usize> = const { Cell::new(0) };
    }

    /// Counts this thread's allocations (other tests' threads cannot disturb
    /// the count).
    struct Counting;

    // SAFETY: forwards every call to the system allocator unchanged; only counts.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
            // SAFETY: same contract as the caller's.
            unsafe { System.alloc(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            // SAFETY: same contract as the caller's.
            unsafe { System.dealloc(p, l) }
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
            let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
            // SAFETY: same contract as the caller's.
            unsafe { System.realloc(p, l, n) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    fn allocs() -> usize {
        ALLOCS.with(|c| c.get())
    }

    /// A SentencePiece vocabulary: <unk> <s> </s>, the 256 byte tokens, words.
    fn tokenizer() -> Tokenizer {
        let words = ["▁Hello", "▁world", "E", "N", "D", "X"];
        let mut toks: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
        let mut types = vec![2, 3, 3];
        for b in 0..256 {
            toks.push(format!("<0x{b:02X}>"));
            types.push(6);
        }
        for w in words {
            toks.push(w.into());
            types.push(1);
        }
        let mut w = gguf::GgufWriter::new();
        w.set_str("general.architecture", "llama");
        w.set_str("tokenizer.ggml.model", "llama");
        w.set("tokenizer.ggml.tokens", gguf::str_array(&toks));
        w.set(
            "tokenizer.ggml.scores",
            gguf::f32_array(&vec![0.0; toks.len()]),
        );
        w.set("tokenizer.ggml.token_type", gguf::i32_array(&types));
        let f = gguf::GgufFile::from_bytes("test.gguf", w.to_bytes()).unwrap();
        Tokenizer::from_gguf(&f).unwrap()
    }

    /// Sampling, detokenizing (whole words, a character split over two byte
    /// tokens, an invalid byte) and holding back a stop string's prefix
    /// allocate nothing per token once the first round has sized the buffers.
    #[test]
    fn a_step_allocates_nothing() {
        let tok = tokenizer();
        let id = |t: &str| tok.token_id(t).unwrap();
        let byte = |b: u8| 3 + b as u32;
        // " Hello" "é" (0xC3 0xA9) " world" "EN" (held: a prefix of "END")
        // "X" (released) 0xFF (invalid: U+FFFD)
        let round = [
            id("▁Hello"),
            byte(0xC3),
            byte(0xA9),
            id("▁world"),
            id("E"),
            id("N"),
            id("X"),
            byte(0xFF),
        ];
        let req = GenerateRequest {
            prompt: Prompt::Raw(String::new()),
            max_tokens: None,
            sampling: SamplingParams::greedy(),
            stop: vec!["END".into()],
        };
        let n = tok.n_vocab();
        let mut step = Stepper::new(&req, n, &[]);
        step.out.reserve(1000);
        let mut logits = vec![0f32; n];
        let mut text = String::with_capacity(1 << 16);
        let mut run = |step: &mut Stepper, rounds: usize, text: &mut String| {
            for _ in 0..rounds {
                for &t in &round {
                    logits.iter_mut().for_each(|x| *x = 0.0);
                    logits[t as usize] = 10.0;
                    let s = step.next(&tok, &logits);
                    assert_eq!((s.token, s.end), (t, None));
                    text.push_str(s.text);
                }
            }
        };
        run(&mut step, 1, &mut text);
        assert_eq!(text, " Helloé worldENX\u{FFFD}");
        let before = allocs();
        run(&mut step, 50, &mut text);
        assert_eq!(allocs() - before, 0, "allocations in 400 steps");
        assert_eq!(text, " Helloé worldENX\u{FFFD}".repeat(51));
        // and a stop string still ends the stream, the text before it kept
        for t in [id("E"), id("N")] {
            logits.iter_mut().for_each(|x| *x = 0.0);
            logits[t as usize] = 10.0;
            assert_eq!(step.next(&tok, &logits).text, "");
        }
        logits.iter_mut().for_each(|x| *x = 0.0);
        logits[id("D") as usize] = 10.0;
        let s = step.next(&tok, &logits);
        assert_eq!((s.text, s.end), ("", Some(End::StopString)));
    }
}
