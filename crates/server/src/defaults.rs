//! A created model's settings (`hearth create`, `/api/create`; kept in its
//! store manifest) applied to every request for it, whatever the API: its
//! sampling parameters, answer length and stop texts where the request
//! leaves them out, its system message where the request has none, its
//! `MESSAGE` conversation before the request's, its template and `num_ctx`
//! when it loads (`models.rs`).

use crate::AppState;
use engine::{ChatTemplate, LoadedModel, Message, SamplingParams};
use store::modelfile::ModelDefaults;

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
            Some(d) => d.parameters.sampling(SamplingParams::default()),
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
}
