//! Thinking models: the reasoning a model writes before its answer, kept
//! apart from the answer as it streams.
//!
//! Two ways models mark it:
//! - tags around the reasoning: `<think>…</think>` (Qwen3, Qwen3.5, QwQ,
//!   DeepSeek R1 distills, SmolLM3) or `[THINK]…[/THINK]` (Magistral /
//!   Ministral reasoning). The generation prompt may already open the block
//!   (DeepSeek R1 distills end it with `<think>\n`) or close an empty one
//!   (Qwen3 with thinking off): the prompt's last tag decides where the
//!   output starts ([`Reasoning::starts_inside`]).
//! - Gemma 4's thought channel: `<|channel>thought\n…<channel|>` then the
//!   answer; with thinking off its template writes an empty one into the
//!   prompt (`<|channel>thought\n<channel|>`), so the output is the answer.
//! - gpt-oss's harmony channels: `<|channel|>analysis<|message|>…<|end|>`
//!   is reasoning, `<|channel|>final<|message|>…` the answer; any other
//!   message (a `commentary` tool call) is passed on whole, special tokens
//!   and all, for the tool-call reader.
//!
//! [`Splitter`] turns the answer's text pieces into (reasoning, answer)
//! pieces, holding back only what could still be the start of a marker.

use crate::LoadedModel;

/// How a model marks its reasoning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReasoningFormat {
    /// Reasoning between an opening and a closing tag.
    Tags { open: String, close: String },
    /// gpt-oss harmony channels (`analysis` is reasoning, `final` the answer).
    Harmony,
}

impl ReasoningFormat {
    pub fn think() -> ReasoningFormat {
        ReasoningFormat::Tags {
            open: "<think>".into(),
            close: "</think>".into(),
        }
    }

    /// The format a chat template's source declares, if any.
    pub fn from_template(src: &str) -> Option<ReasoningFormat> {
        if src.contains("<|channel|>") && src.contains("analysis") {
            return Some(ReasoningFormat::Harmony);
        }
        // Gemma 4 (google-gemma-4-31B-it.jinja): `<|channel>thought\n…<channel|>`
        if src.contains("<|channel>") && src.contains("<channel|>") {
            return Some(ReasoningFormat::Tags {
                open: "<|channel>thought".into(),
                close: "<channel|>".into(),
            });
        }
        if src.contains("[THINK]") {
            return Some(ReasoningFormat::Tags {
                open: "[THINK]".into(),
                close: "[/THINK]".into(),
            });
        }
        if src.contains("<think>") || src.contains("</think>") {
            return Some(ReasoningFormat::think());
        }
        None
    }

    /// What opens the reasoning (a generation prompt may end with it).
    pub fn opening_text(&self) -> String {
        match self {
            ReasoningFormat::Tags { open, .. } => open.clone(),
            ReasoningFormat::Harmony => "<|channel|>analysis<|message|>".into(),
        }
    }

    /// What ends the reasoning and asks for the answer (the thinking budget
    /// writes it into the output when the budget is spent).
    pub fn closing_text(&self) -> String {
        match self {
            ReasoningFormat::Tags { close, .. } => format!("\n{close}\n\n"),
            ReasoningFormat::Harmony => {
                "<|end|><|start|>assistant<|channel|>final<|message|>".into()
            }
        }
    }
}

/// A request's reasoning settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reasoning {
    pub format: ReasoningFormat,
    /// Most reasoning tokens; when spent, the closing text is written for the
    /// model ([`ReasoningFormat::closing_text`]) and it answers. `None`: no
    /// limit.
    pub budget: Option<usize>,
}

impl Reasoning {
    /// Whether the output starts inside the reasoning, judged from the end of
    /// the prompt (special tokens as text): the last opening tag comes after
    /// the last closing one.
    pub fn starts_inside(&self, prompt_tail: &str) -> bool {
        match &self.format {
            ReasoningFormat::Tags { open, close } => match prompt_tail.rfind(open.as_str()) {
                Some(o) => prompt_tail.rfind(close.as_str()).is_none_or(|c| c < o),
                None => false,
            },
            ReasoningFormat::Harmony => prompt_tail
                .rsplit("<|start|>")
                .next()
                .is_some_and(|last| last.contains("<|channel|>analysis<|message|>")),
        }
    }
}

impl LoadedModel {
    /// The reasoning format this model's chat template declares.
    pub fn reasoning_format(&self) -> Option<ReasoningFormat> {
        self.template
            .as_ref()
            .ok()
            .and_then(|t| ReasoningFormat::from_template(t.source()))
    }
}

/// Which part of the output the splitter is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Nothing decided yet: an opening tag may come (after whitespace).
    Start,
    Reasoning,
    /// Past the closing tag: leading whitespace of the answer is dropped.
    AfterClose,
    Answer,
    /// Harmony: inside a message header (`<|channel|>…<|message|>`).
    Header,
    /// Harmony: inside a message body that is passed on as is.
    Other,
}

/// Where the output stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Tags format, nothing written yet: the opening tag or the answer may come.
    Undecided,
    Reasoning,
    Answer,
    /// Harmony: between messages, in a header, or in a message that is
    /// neither reasoning nor the final answer (a tool call).
    Between,
}

/// One piece of split output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub reasoning: String,
    pub answer: String,
}

/// Splits streamed output text into reasoning and answer.
#[derive(Clone, Debug)]
pub struct Splitter {
    format: ReasoningFormat,
    state: State,
    /// Text not yet classified (a possible marker prefix, or a header).
    held: String,
    /// Reasoning text has been passed on (before it, leading newlines are
    /// the tag's, not the reasoning's).
    begun: bool,
}

const START: &str = "<|start|>";
const CHANNEL: &str = "<|channel|>";
const MESSAGE: &str = "<|message|>";
const END: &str = "<|end|>";

impl Splitter {
    pub fn new(format: ReasoningFormat, inside: bool) -> Splitter {
        let state = match (&format, inside) {
            (_, true) => State::Reasoning,
            (ReasoningFormat::Tags { .. }, false) => State::Start,
            (ReasoningFormat::Harmony, false) => State::Start,
        };
        Splitter {
            format,
            state,
            held: String::new(),
            begun: false,
        }
    }

    /// Where the output stands now.
    pub fn phase(&self) -> Phase {
        match self.state {
            State::Reasoning => Phase::Reasoning,
            State::AfterClose | State::Answer => Phase::Answer,
            State::Start if matches!(self.format, ReasoningFormat::Tags { .. }) => Phase::Undecided,
            State::Start | State::Header | State::Other => Phase::Between,
        }
    }

    /// Feed text; returns what is now known to be reasoning or answer.
    pub fn push(&mut self, text: &str) -> Split {
        self.held.push_str(text);
        let mut out = Split::default();
        loop {
            let before = (self.state, self.held.len());
            match self.format.clone() {
                ReasoningFormat::Tags { open, close } => self.step_tags(&open, &close, &mut out),
                ReasoningFormat::Harmony => self.step_harmony(&mut out),
            }
            if (self.state, self.held.len()) == before {
                break;
            }
        }
        out
    }

    /// The end of the output: whatever is held goes where it stands.
    pub fn finish(&mut self) -> Split {
        let rest = std::mem::take(&mut self.held);
        let mut out = Split::default();
        match self.state {
            State::Reasoning => out.reasoning = rest,
            State::AfterClose => out.answer = rest.trim_start().to_string(),
            _ => out.answer = rest,
        }
        out
    }

    fn step_tags(&mut self, open: &str, close: &str, out: &mut Split) {
        match self.state {
            State::Start => {
                let t = self.held.trim_start();
                if t.starts_with(open) {
                    let cut = self.held.len() - t.len() + open.len();
                    self.held.drain(..cut);
                    self.state = State::Reasoning;
                } else if !t.is_empty() && !open.starts_with(t) {
                    self.state = State::Answer;
                }
            }
            State::Reasoning => {
                if !self.begun {
                    // the newline after the opening tag is the tag's
                    let t = self.held.trim_start_matches(['\n', '\r']);
                    if t.is_empty() {
                        self.held.clear();
                        return;
                    }
                    self.held = t.to_string();
                    self.begun = true;
                }
                if let Some(i) = self.held.find(close) {
                    out.reasoning.push_str(self.held[..i].trim_end());
                    self.held.drain(..i + close.len());
                    self.state = State::AfterClose;
                } else {
                    let keep = partial_suffix(&self.held, close);
                    // trailing whitespace before the close tag is held too
                    let body = &self.held[..self.held.len() - keep];
                    let ws = body.len() - body.trim_end().len();
                    let emit = self.held.len() - keep - ws;
                    out.reasoning.push_str(&self.held[..emit]);
                    self.held.drain(..emit);
                }
            }
            State::AfterClose => {
                let t = self.held.trim_start();
                if !t.is_empty() {
                    self.held = t.to_string();
                    self.state = State::Answer;
                }
            }
            State::Answer => {
                out.answer.push_str(&self.held);
                self.held.clear();
            }
            State::Header | State::Other => self.state = State::Answer,
        }
    }

    fn step_harmony(&mut self, out: &mut Split) {
        match self.state {
            State::Start => {
                // `<|start|>assistant` between messages; a header next
                let t0 = self.held.trim_start();
                let t = match t0.strip_prefix(START) {
                    // `<|start|>assistant` still being written
                    Some(r) if "assistant".starts_with(r) => return,
                    Some(r) => r.strip_prefix("assistant").unwrap_or(r),
                    None => t0,
                };
                if t.starts_with(CHANNEL) {
                    self.held = t.to_string();
                    self.state = State::Header;
                } else if !t.is_empty() && !CHANNEL.starts_with(t) && !START.starts_with(t) {
                    // no channel header (a recipient first, ` to=functions.…`,
                    // or plain text): the answer, as written
                    self.held = t.to_string();
                    self.state = State::Answer;
                }
            }
            State::Header => {
                let Some(i) = self.held.find(MESSAGE) else {
                    return;
                };
                let header = &self.held[CHANNEL.len().min(i)..i];
                let channel = header.split_whitespace().next().unwrap_or("");
                let recipient = header.contains("to=");
                if channel == "analysis" && !recipient {
                    self.held.drain(..i + MESSAGE.len());
                    self.state = State::Reasoning;
                } else if channel == "final" && !recipient {
                    self.held.drain(..i + MESSAGE.len());
                    self.state = State::Answer;
                } else {
                    // a tool call or other message: passed on whole
                    out.answer.push_str(&self.held[..i + MESSAGE.len()]);
                    self.held.drain(..i + MESSAGE.len());
                    self.state = State::Other;
                }
            }
            State::Reasoning => {
                if let Some(i) = self.held.find(END) {
                    out.reasoning.push_str(&self.held[..i]);
                    self.held.drain(..i + END.len());
                    self.state = State::Start;
                } else {
                    let keep = partial_suffix(&self.held, END);
                    let emit = self.held.len() - keep;
                    out.reasoning.push_str(&self.held[..emit]);
                    self.held.drain(..emit);
                }
            }
            State::Other => {
                if let Some(i) = self.held.find(END) {
                    out.answer.push_str(&self.held[..i + END.len()]);
                    self.held.drain(..i + END.len());
                    self.state = State::Start;
                } else {
                    let keep = partial_suffix(&self.held, END);
                    let emit = self.held.len() - keep;
                    out.answer.push_str(&self.held[..emit]);
                    self.held.drain(..emit);
                }
            }
            State::Answer | State::AfterClose => {
                // the final message runs to the end (`<|return|>` ends generation)
                out.answer.push_str(&self.held);
                self.held.clear();
                self.state = State::Answer;
            }
        }
    }
}

/// Length of the longest suffix of `s` that is a proper prefix of `marker`
/// (at a char boundary).
fn partial_suffix(s: &str, marker: &str) -> usize {
    let max = (marker.len() - 1).min(s.len());
    for n in (1..=max).rev() {
        if s.is_char_boundary(s.len() - n) && marker.starts_with(&s[s.len() - n..]) {
            return n;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `pieces` one by one; the joined reasoning and answer.
    fn split(f: ReasoningFormat, inside: bool, pieces: &[&str]) -> (String, String) {
        let mut s = Splitter::new(f, inside);
        let (mut r, mut a) = (String::new(), String::new());
        for p in pieces {
            let o = s.push(p);
            r += &o.reasoning;
            a += &o.answer;
        }
        let o = s.finish();
        (r + &o.reasoning, a + &o.answer)
    }

    /// Every split of `text` into two pieces gives the same result.
    fn all_cuts(f: &ReasoningFormat, inside: bool, text: &str) -> (String, String) {
        let whole = split(f.clone(), inside, &[text]);
        for (i, _) in text.char_indices() {
            assert_eq!(
                split(f.clone(), inside, &[&text[..i], &text[i..]]),
                whole,
                "cut at {i} of {text:?}"
            );
        }
        whole
    }

    #[test]
    fn think_tags_split_wherever_the_pieces_break() {
        let f = ReasoningFormat::think();
        assert_eq!(
            all_cuts(&f, false, "<think>\nLet me see.\n</think>\n\nParis."),
            ("Let me see.".into(), "Paris.".into())
        );
        // the prompt opened the block
        assert_eq!(
            all_cuts(&f, true, "Hmm, 2+2.\n</think>\n\n4"),
            ("Hmm, 2+2.".into(), "4".into())
        );
        // no thinking at all: everything is the answer, tags in it stay
        assert_eq!(
            all_cuts(&f, false, "Hello <think> there"),
            (String::new(), "Hello <think> there".into())
        );
        // cut off while thinking
        assert_eq!(
            all_cuts(&f, false, "<think>still going"),
            ("still going".into(), String::new())
        );
        let m = ReasoningFormat::from_template("{{ '[THINK]' }}").unwrap();
        assert_eq!(
            all_cuts(&m, false, "[THINK]a[/THINK]b"),
            ("a".into(), "b".into())
        );
    }

    #[test]
    fn harmony_channels_split() {
        let f = ReasoningFormat::Harmony;
        let text = "<|channel|>analysis<|message|>User wants weather.<|end|><|start|>assistant<|channel|>final<|message|>It is sunny.";
        assert_eq!(
            all_cuts(&f, false, text),
            ("User wants weather.".into(), "It is sunny.".into())
        );
        // a tool call passes through whole for the tool reader
        let call = "<|channel|>analysis<|message|>Need tool.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\":\"Paris\"}";
        let (r, a) = all_cuts(&f, false, call);
        assert_eq!(r, "Need tool.");
        assert_eq!(
            a,
            "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\":\"Paris\"}"
        );
    }

    /// Gemma 4: the thought channel is the reasoning; its template's
    /// thinking-off prompt closes an empty one.
    #[test]
    fn gemma4_thought_channel_splits() {
        let src = "{{- '<|channel>thought\\n' + thinking_text + '\\n<channel|>' -}}";
        let f = ReasoningFormat::from_template(src).unwrap();
        assert_eq!(
            all_cuts(
                &f,
                false,
                "<|channel>thought\nThe user asks about Paris.\n<channel|>It is sunny."
            ),
            ("The user asks about Paris.".into(), "It is sunny.".into())
        );
        assert_eq!(
            all_cuts(&f, false, "It is sunny."),
            (String::new(), "It is sunny.".into())
        );
        let r = Reasoning {
            format: f,
            budget: None,
        };
        assert!(!r.starts_inside("<|turn>model\n<|channel>thought\n<channel|>"));
        assert!(!r.starts_inside("<|turn>model\n"));
        // not harmony, not <think>
        assert_ne!(
            ReasoningFormat::from_template(src),
            Some(ReasoningFormat::Harmony)
        );
    }

    #[test]
    fn where_the_prompt_leaves_off() {
        let r = Reasoning {
            format: ReasoningFormat::think(),
            budget: None,
        };
        assert!(r.starts_inside("<|im_start|>assistant\n<think>\n"));
        assert!(!r.starts_inside("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
        assert!(!r.starts_inside("<|im_start|>assistant\n"));
    }
}
