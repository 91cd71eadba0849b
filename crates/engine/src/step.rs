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
pub(crate) struct Sampled {
    pub token: u32,
    /// Text that is now safe to output (may be empty).
    pub text: String,
    pub end: Option<End>,
}

pub(crate) struct Stepper {
    sampler: Sampler,
    decoder: StreamDecoder,
    stops: StopMatcher,
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
            out: Vec::new(),
            stopped_by_string: false,
        }
    }

    /// Sample the next token from `logits` and say what to output.
    pub fn next(&mut self, tok: &Tokenizer, logits: &[f32]) -> Sampled {
        let token = self.sampler.sample(logits);
        self.sampler.accept(token);
        self.out.push(token);
        if tok.is_eog(token) {
            return Sampled {
                token,
                text: String::new(),
                end: Some(End::Eog),
            };
        }
        let piece = self.decoder.push(tok, token);
        let (text, hit) = self.stops.push(&piece);
        self.stopped_by_string = hit;
        Sampled {
            token,
            text,
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
