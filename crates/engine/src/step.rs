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
pub(crate) struct Sampled {
    pub token: u32,
    /// Answer text that is now safe to output (may be empty).
    pub text: String,
    /// Reasoning text now complete (empty unless the request splits it).
    pub reasoning: String,
    pub end: Option<End>,
}

pub(crate) struct Stepper {
    sampler: Sampler,
    decoder: StreamDecoder,
    stops: StopMatcher,
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
        if let Some(r) = &req.reasoning {
            // the prompt's end, special tokens as text, says where we start
            let tail = &prompt[prompt.len().saturating_sub(64)..];
            let tail = String::from_utf8_lossy(&tok.decode_bytes(tail, true)).into_owned();
            splitter = Some(Splitter::new(r.format.clone(), r.starts_inside(&tail)));
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
            out: Vec::new(),
            stopped_by_string: false,
            constraint: req.constraint.clone(),
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
    pub fn next(&mut self, tok: &Tokenizer, logits: &[f32]) -> Result<Sampled, EngineError> {
        let phase = self.phase();
        let mut constrained = false;
        let forced = self.forced.pop_front();
        let token = if let Some(t) = forced {
            t
        } else if let (Some(c), Phase::Answer | Phase::Undecided) = (&mut self.constraint, phase) {
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
        if tok.is_eog(token) {
            return Ok(Sampled {
                token,
                text: String::new(),
                reasoning: String::new(),
                end: Some(End::Eog),
            });
        }
        let piece = self.decoder.push(tok, token);
        let (answer, reasoning) = match &mut self.splitter {
            Some(s) => {
                let split = s.push(&piece);
                if s.phase() == Phase::Reasoning && forced.is_none() {
                    self.reasoning_tokens += 1;
                    if self.budget.is_some_and(|b| self.reasoning_tokens >= b)
                        && self.forced.is_empty()
                    {
                        self.forced.extend(self.closing.iter().copied());
                        self.budget = None;
                    }
                }
                (split.answer, split.reasoning)
            }
            None => (piece, String::new()),
        };
        let (text, hit) = self.stops.push(&answer);
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
            text,
            reasoning,
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
