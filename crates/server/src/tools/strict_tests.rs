//! Strict tool calls at grammar level, each family on a real vocabulary:
//! what the constraint lets the model write, and that a call forced through
//! the grammar reads back through that family's own reader
//! (`formats::parse`) as a call whose arguments validate against the schema.
use super::super::{formats, tools, ToolFormat, ToolSet};
use serde_json::{json, Value};

/// Whether `lm`'s constraint for `g` lets the model write `text` (its
/// tokens in turn, special tokens as such) and end there.
fn writes(lm: &engine::LoadedModel, g: &engine::Grammar, text: &str) -> bool {
    let ids = lm.tokenizer.encode(text, false, true);
    let mut c = lm.constraint(g).unwrap();
    for t in ids {
        if !c.mask().unwrap().allows(t) {
            return false;
        }
        c.accept(t).unwrap_or_else(|e| {
            panic!(
                "{e} at {:?} of {text:?}",
                lm.tokenizer.token_to_piece_special(t)
            )
        });
    }
    let eog = lm.tokenizer.eog_ids()[0];
    c.is_finished() || c.mask().unwrap().allows(eog)
}

/// What the model writes when it tries to write `target` under `g`: at each
/// step the longest allowed token that continues the target (special tokens
/// by their text); where none does, the target's next character is dropped
/// (the grammar refused it). None when the grammar cannot end where the
/// target does.
fn walk(lm: &engine::LoadedModel, g: &engine::Grammar, target: &str) -> Option<String> {
    let tok = &lm.tokenizer;
    let mut c = lm.constraint(g).unwrap();
    let (mut out, mut rest) = (Vec::new(), target.as_bytes().to_vec());
    for _ in 0..400 {
        if c.is_finished() {
            break;
        }
        let mut best: Option<(u32, usize)> = None;
        c.mask().unwrap().for_each(|id| {
            let piece = tok.token_to_piece_special(id);
            if !piece.is_empty()
                && rest.starts_with(piece)
                && best.is_none_or(|(_, n)| piece.len() > n)
            {
                best = Some((id, piece.len()));
            }
        });
        match best {
            Some((id, n)) => {
                c.accept(id).unwrap();
                out.extend(rest.drain(..n));
            }
            None if rest.is_empty() => break,
            None => {
                // (a whole character)
                let n = match rest[0] {
                    b if b < 0x80 => 1,
                    b if b >= 0xf0 => 4,
                    b if b >= 0xe0 => 3,
                    _ => 2,
                };
                rest.drain(..n.min(rest.len()));
            }
        }
    }
    let eog = tok.eog_ids()[0];
    (c.is_finished() || c.mask().unwrap().allows(eog)).then(|| String::from_utf8(out).unwrap())
}

/// The alarm's arguments schema: an hour in range, a label from a list, an
/// optional note.
fn alarm_schema() -> Value {
    json!({"type": "object", "properties": {
        "hour": {"type": "integer", "minimum": 0, "maximum": 23},
        "label": {"type": "string", "enum": ["wake", "nap"]},
        "note": {"type": "string"}},
        "required": ["hour", "label"], "additionalProperties": false})
}

fn set(strict: Option<bool>, choice: Value) -> ToolSet {
    let mut f = json!({"name": "set_alarm", "parameters": alarm_schema()});
    if let Some(s) = strict {
        f["strict"] = json!(s);
    }
    let other = json!({"type": "function", "function": {"name": "get_time",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}});
    tools(
        Some(vec![json!({"type": "function", "function": f}), other]),
        Some(&choice),
    )
    .unwrap()
    .unwrap()
}

/// The calls `text` reads back as in `format` (harmony: after its
/// reasoning is split off, as the engine does).
fn read_back(format: ToolFormat, text: &str) -> Vec<(String, Value)> {
    let text = if format == ToolFormat::Harmony {
        let mut sp = engine::reasoning::Splitter::new(engine::ReasoningFormat::Harmony, false);
        let mut a = sp.push(text).answer;
        a.push_str(&sp.finish().answer);
        a
    } else {
        text.to_string()
    };
    formats::parse(format, &text, true)
        .calls
        .iter()
        .map(|c| {
            let args = serde_json::from_str(&c.args)
                .unwrap_or_else(|e| panic!("{format:?}: args {:?}: {e}", c.args));
            (c.name.clone(), args)
        })
        .collect()
}

/// One family's strict calls on `lm`'s vocabulary. `call(hour, label)`:
/// the call of set_alarm as the family writes it; `lead`: whether free
/// text may come before a call under `auto`.
fn family(
    lm: &engine::LoadedModel,
    format: ToolFormat,
    call: &dyn Fn(&str, &str) -> String,
    lead: bool,
) {
    // not strict (and not by default): nothing to constrain
    assert!(set(Some(false), json!("auto"))
        .strict_grammar(format, lm)
        .unwrap()
        .is_none());
    assert!(set(None, json!("auto"))
        .strict_grammar(format, lm)
        .unwrap()
        .is_none());
    let good = call("7", "wake");
    let auto = set(Some(true), json!("auto"))
        .strict_grammar(format, lm)
        .unwrap()
        .unwrap();
    let plain = if format == ToolFormat::Harmony {
        "<|channel|>analysis<|message|>No alarm.<|end|><|start|>assistant<|channel|>final<|message|>It is 7 o'clock; no alarm needed."
    } else {
        "It is 7 o'clock; no alarm needed."
    };
    let mut cases = vec![
        (plain.to_string(), true),
        (good.clone(), true),
        (call("24", "wake"), false),
        (call("\"7\"", "wake"), false),
        (call("7", "lunch"), false),
    ];
    if lead {
        cases.push((format!("Setting it.\n{good}"), true));
    }
    for (text, ok) in cases {
        assert_eq!(writes(lm, &auto, &text), ok, "{format:?} auto: {text:?}");
    }
    let forced = set(Some(true), json!("required"))
        .strict_grammar(format, lm)
        .unwrap()
        .unwrap();
    assert!(writes(lm, &forced, &good), "{format:?}: {good:?}");
    assert!(!writes(lm, &forced, plain), "{format:?} forced");
    // forced through the grammar: a good call as it is, a bad one bent
    // into the schema; both read back as calls that validate
    let schema = jsonschema::validator_for(&alarm_schema()).unwrap();
    for (target, exact) in [(good.clone(), true), (call("24", "nap"), false)] {
        let out = walk(lm, &forced, &target)
            .unwrap_or_else(|| panic!("{format:?}: the walk to {target:?} did not end"));
        if exact {
            assert_eq!(out, target, "{format:?}");
        }
        let calls = read_back(format, &out);
        assert_eq!(calls.len(), 1, "{format:?}: {out:?}");
        assert_eq!(calls[0].0, "set_alarm");
        assert!(
            schema.is_valid(&calls[0].1),
            "{format:?}: {out:?} -> {}",
            calls[0].1
        );
        if exact {
            assert_eq!(calls[0].1, json!({"hour": 7, "label": "wake"}));
        }
    }
    // OpenAI Responses' default: no `strict` key is strict when usable
    let mut d = set(None, json!("required"));
    d.list[1]["function"]["strict"] = json!(false);
    d.strict_by_default = true;
    assert_eq!(d.strict_grammar(format, lm).unwrap(), Some(forced));
}

fn synthetic(file: &str) -> Option<engine::LoadedModel> {
    let p = test_models::synthetic(file)?;
    Some(engine::LoadedModel::load(p).unwrap())
}

fn format_of(lm: &engine::LoadedModel) -> ToolFormat {
    ToolFormat::from_template(lm.template.as_ref().unwrap().source())
}

fn json_args(hour: &str, label: &str) -> String {
    format!("{{\"hour\": {hour}, \"label\": \"{label}\"}}")
}

#[test]
fn llama3_strict_calls() {
    let Some(lm) = synthetic("llama3-f32.gguf") else {
        return;
    };
    assert_eq!(format_of(&lm), ToolFormat::Llama3);
    let call = |h: &str, l: &str| {
        format!(
            "{{\"name\": \"set_alarm\", \"parameters\": {}}}",
            json_args(h, l)
        )
    };
    family(&lm, ToolFormat::Llama3, &call, false);
    // under auto the first character decides: an answer that opens as an
    // object is a call (the reader's rule), so a bad one cannot slip through
    // as text; `<|python_tag|>` opens calls too
    let auto = set(Some(true), json!("auto"))
        .strict_grammar(ToolFormat::Llama3, &lm)
        .unwrap()
        .unwrap();
    assert!(!writes(&lm, &auto, "{\"a\": 1}"));
    assert!(writes(
        &lm,
        &auto,
        &format!("<|python_tag|>{}", call("7", "wake"))
    ));
    assert!(writes(
        &lm,
        &auto,
        &format!("{}; {}", call("7", "wake"), call("8", "nap"))
    ));
    assert!(writes(&lm, &auto, "Sure: {\"a\": 1} is JSON."));
}

#[test]
fn mistral_strict_calls() {
    let Some(lm) = synthetic("mistral3-f32.gguf") else {
        return;
    };
    assert_eq!(format_of(&lm), ToolFormat::MistralArgs);
    let args = |h: &str, l: &str| format!("[TOOL_CALLS]set_alarm[ARGS]{}", json_args(h, l));
    family(&lm, ToolFormat::MistralArgs, &args, true);
    let with_id = set(Some(true), json!("required"))
        .strict_grammar(ToolFormat::MistralArgs, &lm)
        .unwrap()
        .unwrap();
    assert!(writes(
        &lm,
        &with_id,
        &format!(
            "[TOOL_CALLS]set_alarm[CALL_ID]call0abcd[ARGS]{}",
            json_args("7", "wake")
        )
    ));
    // Mistral Nemo's list (on the same Tekken-sized vocabulary)
    let list = |h: &str, l: &str| {
        format!(
            "[TOOL_CALLS][{{\"name\": \"set_alarm\", \"arguments\": {}, \"id\": \"call0abcd\"}}]",
            json_args(h, l)
        )
    };
    family(&lm, ToolFormat::MistralList, &list, true);
}

#[test]
fn granite_strict_calls() {
    let Some(lm) = synthetic("granite-f32.gguf") else {
        return;
    };
    assert_eq!(format_of(&lm), ToolFormat::GraniteList);
    let call = |h: &str, l: &str| {
        format!(
            "<|tool_call|>[{{\"name\": \"set_alarm\", \"arguments\": {}}}]",
            json_args(h, l)
        )
    };
    family(&lm, ToolFormat::GraniteList, &call, true);
}

#[test]
fn deepseek_strict_calls() {
    // DeepSeek R1's distills run on the Qwen 2 vocabulary
    let Some(lm) = synthetic("qwen3-f32.gguf") else {
        return;
    };
    let call = |h: &str, l: &str| {
        format!(
            "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>set_alarm\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
            json_args(h, l)
        )
    };
    family(&lm, ToolFormat::DeepSeek, &call, true);
}

#[test]
fn qwen3_coder_strict_calls() {
    let Some(lm) = synthetic("qwen35-f32.gguf") else {
        return;
    };
    assert_eq!(format_of(&lm), ToolFormat::QwenXml);
    let xml = |h: &str, l: &str, note: Option<&str>| {
        let mut s = format!("<tool_call>\n<function=set_alarm>\n<parameter=hour>\n{h}\n</parameter>\n<parameter=label>\n{l}\n</parameter>\n");
        if let Some(n) = note {
            s.push_str(&format!("<parameter=note>\n{n}\n</parameter>\n"));
        }
        s + "</function>\n</tool_call>"
    };
    family(&lm, ToolFormat::QwenXml, &|h, l| xml(h, l, None), true);
    let forced = set(Some(true), json!("required"))
        .strict_grammar(ToolFormat::QwenXml, &lm)
        .unwrap()
        .unwrap();
    // a string value is the raw text, and may not read as other JSON
    for (note, ok) in [
        ("Pack the bag.\nThen sleep.", true),
        ("{\"a\": 1}", false),
        ("42", false),
        ("true", false),
        ("42 is the answer", true),
    ] {
        let text = xml("7", "wake", Some(note));
        assert_eq!(writes(&lm, &forced, &text), ok, "{note:?}");
        if ok {
            let calls = read_back(ToolFormat::QwenXml, &text);
            assert_eq!(calls[0].1["note"], note);
        }
    }
    // the parameters in the schema's order, the required ones present
    assert!(!writes(
        &lm,
        &forced,
        "<tool_call>\n<function=set_alarm>\n<parameter=hour>\n7\n</parameter>\n</function>\n</tool_call>"
    ));
    // a string schema the XML cannot hold: a 400 naming it, unless strict
    // is only the default (then the function is not strict)
    let mut t = set(Some(true), json!("required"));
    t.list[0]["function"]["parameters"]["properties"]["note"]["pattern"] = json!("^[a-z]+$");
    let e = t.strict_grammar(ToolFormat::QwenXml, &lm).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("tools"));
    assert!(e.message.contains("pattern"), "{}", e.message);
    t.list[0]["function"]
        .as_object_mut()
        .unwrap()
        .remove("strict");
    t.list[1]["function"]["strict"] = json!(false);
    t.strict_by_default = true;
    assert!(t
        .strict_grammar(ToolFormat::QwenXml, &lm)
        .unwrap()
        .is_none());
}

#[test]
fn harmony_strict_calls() {
    let Some(lm) = synthetic("gpt-oss-mxfp4.gguf") else {
        return;
    };
    assert_eq!(format_of(&lm), ToolFormat::Harmony);
    let call = |h: &str, l: &str| {
        format!(
            "<|channel|>commentary to=functions.set_alarm <|constrain|>json<|message|>{}",
            json_args(h, l)
        )
    };
    family(&lm, ToolFormat::Harmony, &call, false);
    let auto = set(Some(true), json!("auto"))
        .strict_grammar(ToolFormat::Harmony, &lm)
        .unwrap()
        .unwrap();
    // reasoning first, then the call (or the final answer)
    let think = "<|channel|>analysis<|message|>The user wants 7.<|end|><|start|>assistant";
    assert!(writes(&lm, &auto, &format!("{think}{}", call("7", "wake"))));
    assert!(!writes(
        &lm,
        &auto,
        &format!("{think}{}", call("30", "wake"))
    ));
}

#[test]
fn phi4_and_hermes_markers_are_text_on_qwen() {
    // Phi-4-mini's `functools[…]` (its vocabulary has no such token: text)
    let Some(lm) = synthetic("qwen3-f32.gguf") else {
        return;
    };
    let call = |h: &str, l: &str| {
        format!(
            "functools[{{\"name\": \"set_alarm\", \"arguments\": {}}}]",
            json_args(h, l)
        )
    };
    family(&lm, ToolFormat::Phi4, &call, true);
    let hermes = |h: &str, l: &str| {
        format!(
            "<tool_call>\n{{\"name\": \"set_alarm\", \"arguments\": {}}}\n</tool_call>",
            json_args(h, l)
        )
    };
    family(&lm, ToolFormat::Hermes, &hermes, true);
}

#[test]
fn strict_calls_follow_the_schema_and_free_text_stays_free() {
    let Some(p) = test_models::model("qwen2.5-coder-0.5b") else {
        return;
    };
    let lm = engine::LoadedModel::load(p).unwrap();
    let format = ToolFormat::from_template(lm.template.as_ref().unwrap().source());
    assert_eq!(format, ToolFormat::Hermes);
    // as the model writes it: `<tool_call>` is one (added, not control) token
    assert_eq!(lm.tokenizer.encode("<tool_call>", false, true), [151657]);
    let alarm = |strict: bool| {
        json!({"type": "function", "function": {"name": "set_alarm", "strict": strict,
            "parameters": {"type": "object", "properties": {"hour": {"type": "integer", "minimum": 0, "maximum": 23}},
                "required": ["hour"], "additionalProperties": false}}})
    };
    let set = |strict: bool, choice: Value| {
        tools(Some(vec![alarm(strict)]), Some(&choice))
            .unwrap()
            .unwrap()
    };
    // not strict: nothing to constrain
    assert!(set(false, json!("auto"))
        .strict_grammar(format, &lm)
        .unwrap()
        .is_none());
    let call = |args: &str| {
        format!("<tool_call>\n{{\"name\": \"set_alarm\", \"arguments\": {args}}}\n</tool_call>")
    };
    let auto = set(true, json!("auto"))
        .strict_grammar(format, &lm)
        .unwrap()
        .unwrap();
    for (text, ok) in [
        // the model decides: free text, no call
        ("It is 7 o'clock; no alarm needed.".to_string(), true),
        ("2 + 2 equals 4.".to_string(), true),
        (String::new(), true),
        // a call after text, text after it, two calls
        (format!("Setting it.\n{}", call("{\"hour\": 7}")), true),
        (format!("{}\nDone.", call("{\"hour\": 7}")), true),
        (
            format!("{}\n{}", call("{\"hour\": 7}"), call("{\"hour\": 8}")),
            true,
        ),
        // once the call opens, its schema binds it
        (call("{\"hour\": \"7\"}"), false),
        (call("{\"hour\": 24}"), false),
        (call("{\"hour\": 7, \"label\": \"x\"}"), false),
        (call("{}"), false),
        (
            "<tool_call>\n{\"name\": \"rm\", \"arguments\": {}}\n</tool_call>".into(),
            false,
        ),
        // an opened call must be finished
        ("Sure <tool_call>\n{\"name\": \"set_alarm\"".into(), false),
        // calls without the tags (read as calls too): bound as well
        (
            "{\"name\": \"set_alarm\", \"arguments\": {\"hour\": 7}}".into(),
            true,
        ),
        (
            "```json\n{\"name\": \"set_alarm\", \"arguments\": {\"hour\": 7}}\n```".into(),
            true,
        ),
        (
            "{\"name\": \"set_alarm\", \"arguments\": {\"hour\": 30}}".into(),
            false,
        ),
        (
            "{\"name\": \"set_alarm\", \"parameters\": {\"hour\": 7}}".into(),
            false,
        ),
        (
            "```json\n{\"name\": \"set_alarm\", \"arguments\": {\"hour\": 30}}\n```".into(),
            false,
        ),
        // a code block is still free text
        ("```python\nprint(1)\n```".into(), true),
    ] {
        assert_eq!(writes(&lm, &auto, &text), ok, "{text:?}");
    }
    // forced: the answer is the call, nothing else
    let forced = set(true, json!("required"))
        .strict_grammar(format, &lm)
        .unwrap()
        .unwrap();
    assert!(writes(&lm, &forced, &call("{\"hour\": 7}")));
    assert!(!writes(&lm, &forced, "No call."));
    assert!(!writes(&lm, &forced, &call("{\"hour\": 99}")));
}

/// Where the vocabulary has a format's opening marker as a special
/// (control) token — Mistral's `[TOOL_CALLS]` in Mistral's own files — the
/// grammar names it by id (free text can never hold it, so under `auto` the
/// text runs until the model writes it). No synthetic file has Mistral's
/// vocabulary: a control token of gpt-oss's stands in for the marker.
#[test]
fn a_special_token_marker_opens_calls_by_id() {
    let Some(lm) = synthetic("gpt-oss-mxfp4.gguf") else {
        return;
    };
    let tok = &lm.tokenizer;
    let id = (0..tok.n_vocab() as u32)
        .find(|&i| {
            tok.token_to_piece(i).is_empty()
                && !tok.is_eog(i)
                && tok.token_to_piece_special(i).starts_with(b"<|reserved")
        })
        .expect("a reserved control token");
    let marker = String::from_utf8(tok.token_to_piece_special(id).to_vec()).unwrap();
    assert_eq!(super::parts(tok, &marker), [super::Part::Special(id)]);
    let t = set(Some(true), json!("auto"));
    let cands = t.candidates(|_| false);
    let shape = super::Shape {
        open: marker.clone(),
        close: String::new(),
        rules: format!(
            "calls: call\n{}",
            super::json_call(&cands, "arguments", false)
        ),
    };
    let g = t.assemble(ToolFormat::MistralList, &shape, tok, false);
    assert!(g.contains(&format!("<[{id}]>")), "{g}");
    let g = engine::Grammar::Lark(g);
    let call = |args: &str| format!("{marker}{{\"name\": \"set_alarm\", \"arguments\": {args}}}");
    for (text, ok) in [
        ("No alarm.".to_string(), true),
        (call(&json_args("7", "wake")), true),
        (
            format!("Setting it. {}", call(&json_args("7", "wake"))),
            true,
        ),
        (format!("{} Done.", call(&json_args("7", "wake"))), true),
        (call(&json_args("24", "wake")), false),
        (call("{}"), false),
    ] {
        assert_eq!(writes(&lm, &g, &text), ok, "{text:?}");
    }
}
