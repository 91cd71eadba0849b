//! An answer grammar on a harmony (gpt-oss) model through the `hearth`
//! binary: `run --json-schema` and `batch --json-schema` hold the whole
//! output (`engine::LoadedModel::answer_constraint`), so the answer printed
//! is the final message's JSON — never a header the model wrote itself —
//! on the synthetic gpt-oss file, greedy and sampled, the reasoning capped
//! by `--thinking-budget` (this random model's analysis would otherwise run
//! to the token limit).

use common::{ok, validate};
use serde_json::Value;
use std::process::{Command, Output};

mod common;

fn hearth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .env("HEARTH_OFFLINE", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// Required keys and an enum, strings bounded (a random model's string may
/// otherwise run to the limit).
fn schema() -> Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "city": {"type": "string", "maxLength": 10},
            "unit": {"enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city", "unit"],
        "additionalProperties": false,
    })
}

#[test]
fn run_and_batch_hold_the_final_message_on_gpt_oss() {
    let Some(model) = test_models::synthetic("gpt-oss-f32.gguf") else {
        return;
    };
    let m = model.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sf = dir.path().join("schema.json");
    std::fs::write(&sf, schema().to_string()).unwrap();
    let sfs = sf.to_str().unwrap();
    let prompt = "What is the weather in Paris? Answer in JSON.";
    let samplings: [&[&str]; 4] = [
        &["--temperature", "0"],
        &["--temperature", "1", "--seed", "1"],
        &["--temperature", "1", "--seed", "2"],
        &["--temperature", "0.8", "--top-p", "0.95", "--seed", "3"],
    ];
    for s in samplings {
        // the reasoning capped: room for the answer (a random model's
        // analysis may run on)
        let mut args = vec![
            "run",
            "--json-schema",
            sfs,
            "--thinking-budget",
            "3",
            "-n",
            "200",
        ];
        args.extend_from_slice(s);
        args.extend([m, prompt]);
        let out = ok(&hearth(&args));
        validate(&schema(), out.trim_end(), &format!("run {s:?}"));
    }

    // batch: a couple of inputs, the reasoning capped as run's: each
    // record's output is the answer's JSON, finished and valid (without the
    // budget this random model's analysis runs to the limit, so an answer
    // grammar that let the model write a header itself would go unseen)
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"id\": \"a\", \"q\": \"Weather in Paris?\"}\n{\"id\": \"b\", \"q\": \"Weather in Oslo, in JSON.\"}\n",
    )
    .unwrap();
    for s in [&samplings[0], &samplings[1]] {
        let o = dir.path().join(format!("out-{}.jsonl", s[1]));
        let mut args = vec![
            "batch",
            input.to_str().unwrap(),
            "--prompt",
            "{{q}}",
            "--json-schema",
            sfs,
            "--thinking-budget",
            "3",
            "-n",
            "200",
            "-q",
            "-o",
            o.to_str().unwrap(),
            "-m",
            m,
        ];
        args.extend_from_slice(s);
        ok(&hearth(&args));
        let text = std::fs::read_to_string(&o).unwrap();
        let recs: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(recs.len(), 2, "{text}");
        for r in &recs {
            // free to think, strict to answer: the analysis this model
            // starts with is kept (cut at the budget), then the final
            // message; a grammar not held over the whole output would
            // force the JSON from the first token, outside any channel
            // (no reasoning, no header)
            assert!(
                r["reasoning"].as_str().is_some_and(|t| !t.is_empty()),
                "{r}"
            );
            assert_eq!(r["finish_reason"], "stop", "{r}");
            assert_eq!(r["json_valid"], true, "{r}");
            let out = r["output"].as_str().unwrap_or("");
            validate(&schema(), out, &format!("batch {s:?} {}", r["id"]));
        }
    }
}
