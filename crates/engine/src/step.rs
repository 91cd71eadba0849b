//! The per-token step shared by every generation loop (one request in
//! `conversation.rs`, many in `scheduler.rs`): pick a token (sampled, under
//! the request's grammar where it applies, or written for the model when a
//! thinking budget is spent), end on an end-of-generation token or a
//! finished grammar, turn ids into complete UTF-8 text, split reasoning from
//! the answer, hold back possible stop-string prefixes, and end on a stop
//! string.

use crate::reasoning::{Phase, Reasoning, ReasoningFormat, Splitter};
use crate::{EngineError, GenerateRequest};
use sampler::{Constraint, Mask, Sampler, StopMatcher};
use std::collections::VecDeque;
use tokenizer::{StreamDecoder, Tokenizer};

/// Why a step ended generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// An end-of-generation token (its text is not output).
    Eog,
    /// A stop string (the text before it was output, the rest is dropped).
    StopString,
    /// The request's grammar is complete: nothing more may follow.
    Complete,
}

/// One step's result.
pub(crate) struct Sampled<'a> {
    pub token: u32,
    /// Answer text that is now safe to output (may be empty).
    pub text: &'a str,
    /// Reasoning text now complete (empty unless the request splits it).
    pub reasoning: &'a str,
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
    /// The answer text of the last step that is safe to output (reused).
    text: String,
    /// The reasoning text of the last step (reused).
    reasoning: String,
    /// Generated ids, including a final end-of-generation token.
    pub out: Vec<u32>,
    stopped_by_string: bool,
    /// The request's grammar, applied to the answer only.
    constraint: Option<Constraint>,
    splitter: Option<Splitter>,
    budget: Option<usize>,
    /// Tokens generated while inside the reasoning.
    pub reasoning_tokens: usize,
    /// Tokens to write for the model before sampling again (the closing of a
    /// reasoning whose budget is spent).
    forced: VecDeque<u32>,
    closing: Vec<u32>,
    /// The opening tag as one token, offered besides the grammar's tokens
    /// while a thinking model has not yet decided to think or answer.
    open_token: Option<u32>,
    /// Scratch for that union of masks (sized once).
    union: Vec<u32>,
}

impl Stepper {
    /// A stepper for `req`, its penalties primed with the prompt.
    pub fn new(req: &GenerateRequest, tok: &Tokenizer, prompt: &[u32]) -> Stepper {
        let mut sampler = Sampler::new(req.sampling.clone(), tok.n_vocab());
        for &t in prompt {
            sampler.accept(t);
        }
        let (mut splitter, mut closing, mut open_token, mut special) =
            (None, Vec::new(), None, false);
        let mut constraint = req.constraint.clone();
        if let Some(r) = &req.reasoning {
            // the prompt's end, special tokens as text, says where we start
            let tail = &prompt[prompt.len().saturating_sub(64)..];
            let tail = String::from_utf8_lossy(&tok.decode_bytes(tail, true)).into_owned();
            let inside = r.starts_inside(&tail);
            splitter = Some(Splitter::new(r.format.clone(), inside));
            if let Some(c) = constraint
                .as_mut()
                .filter(|c| c.is_whole_output() && inside)
            {
                // the prompt opened the reasoning: a grammar of the whole
                // output starts past that opening (where it has one)
                let mut past = c.clone();
                let open = tok.encode(&r.format.opening_text(), false, true);
                if open.iter().all(|&t| past.accept(t).is_ok()) {
                    *c = past;
                }
            }
            closing = tok.encode(&r.format.closing_text(), false, true);
            if let ReasoningFormat::Tags { open, .. } = &r.format {
                open_token = tok.token_id(open);
            }
            special = r.format == ReasoningFormat::Harmony;
        }
        let mut st = Stepper {
            sampler,
            decoder: StreamDecoder::with_special(special || req.special_text),
            stops: StopMatcher::new(req.stop.clone()),
            piece: String::with_capacity(64),
            text: String::with_capacity(64),
            reasoning: String::new(),
            out: Vec::with_capacity(req.max_tokens.unwrap_or(256).min(4096)),
            stopped_by_string: false,
            constraint,
            splitter,
            budget: req.reasoning.as_ref().and_then(|r: &Reasoning| r.budget),
            reasoning_tokens: 0,
            forced: VecDeque::new(),
            closing,
            open_token,
            union: Vec::new(),
        };
        if st.budget == Some(0) && st.phase() == Phase::Reasoning {
            st.forced.extend(st.closing.iter().copied());
        }
        st
    }

    fn phase(&self) -> Phase {
        self.splitter
            .as_ref()
            .map_or(Phase::Answer, Splitter::phase)
    }

    /// Pick the next token from `logits` and say what to output.
    pub fn next(&mut self, tok: &Tokenizer, logits: &[f32]) -> Result<Sampled<'_>, EngineError> {
        let phase = self.phase();
        let mut constrained = false;
        let forced = self.forced.pop_front();
        // a grammar of the whole output sees every token; others the answer's
        let whole = self
            .constraint
            .as_ref()
            .is_some_and(Constraint::is_whole_output);
        let token = if let Some(t) = forced {
            if let (Some(c), true) = (&mut self.constraint, whole) {
                c.accept(t).map_err(EngineError::Constraint)?;
            }
            t
        } else if let (Some(c), true) = (
            &mut self.constraint,
            whole || matches!(phase, Phase::Answer | Phase::Undecided),
        ) {
            constrained = true;
            let mask = c.mask().map_err(EngineError::Constraint)?;
            let mask = match self.open_token {
                Some(open) if phase == Phase::Undecided => {
                    self.union.clear();
                    self.union.extend_from_slice(mask.words);
                    let w = open as usize / 32;
                    if self.union.len() <= w {
                        self.union.resize(w + 1, 0);
                    }
                    self.union[w] |= 1 << (open % 32);
                    Mask { words: &self.union }
                }
                _ => mask,
            };
            match self.sampler.sample_masked(logits, mask) {
                Some(t) => t,
                None => {
                    return Err(EngineError::Constraint(sampler::ConstraintError::Failed(
                        "the grammar allows no token of this model here".into(),
                    )))
                }
            }
        } else {
            self.sampler.sample(logits)
        };
        self.sampler.accept(token);
        self.out.push(token);
        let mut complete = false;
        if constrained && Some(token) != self.open_token.filter(|_| phase == Phase::Undecided) {
            if let Some(c) = &mut self.constraint {
                c.accept(token).map_err(EngineError::Constraint)?;
                complete = c.is_finished() && !tok.is_eog(token);
            }
        }
        self.text.clear();
        self.reasoning.clear();
        if tok.is_eog(token) {
            return Ok(Sampled {
                token,
                text: &self.text,
                reasoning: &self.reasoning,
                end: Some(End::Eog),
            });
        }
        self.piece.clear();
        self.decoder.push_into(tok, token, &mut self.piece);
        let hit = match &mut self.splitter {
            Some(s) => {
                let split = s.push(&self.piece);
                if s.phase() == Phase::Reasoning && forced.is_none() {
                    self.reasoning_tokens += 1;
                    if self.budget.is_some_and(|b| self.reasoning_tokens >= b)
                        && self.forced.is_empty()
                    {
                        self.forced.extend(self.closing.iter().copied());
                        self.budget = None;
                    }
                }
                self.reasoning.push_str(&split.reasoning);
                self.stops.push_into(&split.answer, &mut self.text)
            }
            None => self.stops.push_into(&self.piece, &mut self.text),
        };
        self.stopped_by_string = hit;
        let end = if hit {
            Some(End::StopString)
        } else if complete {
            Some(End::Complete)
        } else {
            None
        };
        Ok(Sampled {
            token,
            text: &self.text,
            reasoning: &self.reasoning,
            end,
        })
    }

    /// Text still held back when generation ends (an incomplete character, a
    /// possible stop-string or marker prefix): (answer, reasoning). Nothing
    /// after a stop string.
    pub fn finish(&mut self) -> (String, String) {
        if self.stopped_by_string {
            return (String::new(), String::new());
        }
        let rest = self.decoder.flush();
        let (answer, reasoning) = match &mut self.splitter {
            Some(s) => {
                let mut a = s.push(&rest);
                let b = s.finish();
                a.answer.push_str(&b.answer);
                a.reasoning.push_str(&b.reasoning);
                (a.answer, a.reasoning)
            }
            None => (rest, String::new()),
        };
        let (emit, _) = self.stops.push(&answer);
        (emit + &self.stops.flush(), reasoning)
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
            ..Default::default()
        };
        let n = tok.n_vocab();
        let mut step = Stepper::new(&req, &tok, &[]);
        step.out.reserve(1000);
        let mut logits = vec![0f32; n];
        let mut text = String::with_capacity(1 << 16);
        let mut run = |step: &mut Stepper, rounds: usize, text: &mut String| {
            for _ in 0..rounds {
                for &t in &round {
                    logits.iter_mut().for_each(|x| *x = 0.0);
                    logits[t as usize] = 10.0;
                    let s = step.next(&tok, &logits).unwrap();
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
            assert_eq!(step.next(&tok, &logits).unwrap().text, "");
        }
        logits.iter_mut().for_each(|x| *x = 0.0);
        logits[id("D") as usize] = 10.0;
        let s = step.next(&tok, &logits).unwrap();
        assert_eq!((s.text, s.end), ("", Some(End::StopString)));
    }
}
