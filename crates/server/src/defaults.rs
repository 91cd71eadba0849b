//! A created model's settings (`hearth create`, `/api/create`; kept in its
//! store manifest) applied to every request for it, whatever the API: its
//! sampling parameters, answer length and stop texts where the request
//! leaves them out, its system message where the request has none, its
//! `MESSAGE` conversation before the request's, its template and `num_ctx`
//! when it loads (`models.rs`). Also the checks of a Modelfile that need
//! the engine (`check_modelfile`: the sampler's ranges, the template
//! rendered with the model's tokens), which the store, depending on neither,
//! is handed by `hearth create` and `/api/create`.

use crate::AppState;
use engine::{ChatTemplate, LoadedModel, Message, SamplerError, SamplingParams};
use std::path::Path;
use store::modelfile::{ModelDefaults, Params};
use store::StoreError;

/// `base` with the sampling dials a Modelfile's parameters set.
pub fn sampling_of(p: &Params, base: SamplingParams) -> SamplingParams {
    let mut s = base;
    if let Some(v) = p.temperature {
        s.temperature = v;
    }
    if let Some(v) = p.top_k {
        s.top_k = v;
    }
    if let Some(v) = p.top_p {
        s.top_p = v;
    }
    if let Some(v) = p.min_p {
        s.min_p = v;
    }
    if let Some(v) = p.repeat_penalty {
        s.repeat_penalty = v;
    }
    if let Some(v) = p.repeat_last_n {
        s.penalty_last_n = v;
    }
    if let Some(v) = p.presence_penalty {
        s.presence_penalty = v;
    }
    if let Some(v) = p.frequency_penalty {
        s.frequency_penalty = v;
    }
    if let Some(v) = p.seed {
        s.seed = v;
    }
    s
}

/// A Modelfile's parameters against hearth's ranges (the sampler's own
/// checks), the message naming the `PARAMETER`.
pub fn check_parameters(p: &Params) -> Result<(), String> {
    let s = sampling_of(p, SamplingParams::default());
    if let Err(SamplerError::InvalidParam {
        field,
        value,
        allowed,
    }) = s.validate()
    {
        let name = if field == "penalty_last_n" {
            "repeat_last_n"
        } else {
            field
        };
        return Err(format!("PARAMETER {name} is {value}; allowed: {allowed}"));
    }
    Ok(())
}

/// What the store cannot check of a Modelfile's settings itself (it checks
/// `num_ctx` and refuses Go templates): the parameters' ranges, and a
/// `TEMPLATE` compiled and rendered on a conversation with the model's own
/// tokens. The `check` `store::create` is given.
pub fn check_modelfile(gguf: &Path, d: &ModelDefaults) -> Result<(), StoreError> {
    let bad = |msg: String| StoreError::Modelfile { line: None, msg };
    check_parameters(&d.parameters).map_err(bad)?;
    let Some(src) = &d.template else {
        return Ok(());
    };
    let tok = engine::load_tokenizer(gguf).map_err(|e| StoreError::BadFile {
        path: gguf.into(),
        msg: e.to_string(),
    })?;
    let t = ChatTemplate::new("TEMPLATE", src, false, &tok)
        .map_err(|e| bad(format!("TEMPLATE is not a usable Jinja template: {e}")))?;
    let sample = [
        Message::system("You are helpful."),
        Message::user("Hello"),
        Message::assistant("Hi!"),
        Message::user("How are you?"),
    ];
    let r = t
        .render(&sample, true)
        .map_err(|e| bad(format!("TEMPLATE fails on a conversation: {e}")))?;
    if !r.text.contains("How are you?") {
        return Err(bad(
            "TEMPLATE leaves out the messages: rendering a conversation does not contain its last message (loop over `messages` and print each one's content)".into(),
        ));
    }
    Ok(())
}

/// What a model sets (nothing, for a model that was not created).
#[derive(Clone, Debug, Default)]
pub struct Defaults(pub Option<ModelDefaults>);

impl Defaults {
    /// The settings of the model a request names (none when it is unknown:
    /// the request then fails with a 404 when the model is loaded).
    pub fn of(st: &AppState, model: &str) -> Defaults {
        Defaults(
            st.mgr
                .catalog
                .resolve(model)
                .ok()
                .and_then(|e| store::defaults_of(&e.path)),
        )
    }

    /// hearth's sampling defaults with the model's parameters set.
    pub fn sampling(&self) -> SamplingParams {
        match &self.0 {
            Some(d) => sampling_of(&d.parameters, SamplingParams::default()),
            None => SamplingParams::default(),
        }
    }

    /// The answer length the model sets (`Some(None)`: no limit), if any.
    pub fn max_tokens(&self) -> Option<Option<usize>> {
        self.0.as_ref().and_then(|d| d.parameters.max_tokens())
    }

    /// `asked` when the request sets any stop texts, else the model's.
    pub fn stop(&self, asked: Vec<String>) -> Vec<String> {
        match &self.0 {
            Some(d) if asked.is_empty() => d.parameters.stop.clone(),
            _ => asked,
        }
    }

    /// The model's system message when the conversation has none, and its
    /// `MESSAGE` turns after the system message.
    pub fn apply_chat(&self, msgs: &mut Vec<Message>) {
        let Some(d) = &self.0 else { return };
        let has_system = msgs.first().is_some_and(|m| m.role == "system");
        let mut at = usize::from(has_system);
        if let (false, Some(s)) = (has_system, &d.system) {
            msgs.insert(0, Message::system(s.clone()));
            at = 1;
        }
        msgs.splice(at..at, self.preset_messages());
    }

    /// The model's `MESSAGE` turns.
    pub fn preset_messages(&self) -> Vec<Message> {
        let Some(d) = &self.0 else { return Vec::new() };
        d.messages
            .iter()
            .map(|m| Message::new(m.role.clone(), m.content.clone()))
            .collect()
    }

    /// The model's system message, if it sets one.
    pub fn system(&self) -> Option<&str> {
        self.0.as_ref().and_then(|d| d.system.as_deref())
    }
}

/// Put a created model's `TEMPLATE` (checked when it was created) in place
/// of the file's chat template.
pub fn set_template(lm: &mut LoadedModel, src: Option<&str>) {
    if let Some(src) = src {
        lm.template = ChatTemplate::new("the Modelfile's TEMPLATE", src, false, &lm.tokenizer)
            .map_err(|e| e.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::Defaults;
    use engine::Message;
    use store::modelfile::{ModelDefaults, PresetMessage};

    #[test]
    fn model_settings_fill_what_requests_leave_out() {
        let mut d = ModelDefaults {
            system: Some("Be brief.".into()),
            messages: vec![
                PresetMessage {
                    role: "user".into(),
                    content: "Hi".into(),
                },
                PresetMessage {
                    role: "assistant".into(),
                    content: "Hello!".into(),
                },
            ],
            ..Default::default()
        };
        d.parameters.set("temperature", "0.1").unwrap();
        d.parameters.set("stop", "END").unwrap();
        d.parameters.set("num_predict", "7").unwrap();
        let d = Defaults(Some(d));
        let mut m = vec![Message::user("Q")];
        d.apply_chat(&mut m);
        let roles: Vec<_> = m.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(
            (m[0].content.as_str(), m[3].content.as_str()),
            ("Be brief.", "Q")
        );
        // a request's own system message wins
        let mut m = vec![Message::system("Mine"), Message::user("Q")];
        d.apply_chat(&mut m);
        assert_eq!(m[0].content, "Mine");
        assert_eq!(m.len(), 4);
        assert_eq!(d.sampling().temperature, 0.1);
        assert_eq!(d.max_tokens(), Some(Some(7)));
        assert_eq!(d.stop(vec![]), ["END"]);
        assert_eq!(d.stop(vec!["x".into()]), ["x"]);
        // a model that was not created changes nothing
        let none = Defaults::default();
        let mut m = vec![Message::user("Q")];
        none.apply_chat(&mut m);
        assert_eq!(m.len(), 1);
        assert_eq!(none.sampling(), engine::SamplingParams::default());
    }

    #[test]
    fn modelfile_parameters_are_the_samplers() {
        let mut p = store::modelfile::Params::default();
        p.set("top_k", "5").unwrap();
        p.set("repeat_last_n", "3").unwrap();
        let s = super::sampling_of(&p, engine::SamplingParams::default());
        assert_eq!((s.top_k, s.penalty_last_n), (5, 3));
        assert_eq!(s.temperature, engine::SamplingParams::default().temperature);
        assert!(super::check_parameters(&p).is_ok());
        p.set("top_p", "1.5").unwrap();
        let e = super::check_parameters(&p).unwrap_err();
        assert!(e.starts_with("PARAMETER top_p is 1.5"), "{e}");
    }
}
