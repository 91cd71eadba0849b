//! The final report: what was done, how fast, and what the same tokens
//! would have cost at a cloud price — the meter that did not run.

use serde::Serialize;

/// A cloud price, US dollars per million tokens.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Price {
    pub name: String,
    pub input_per_million: f64,
    pub output_per_million: f64,
    /// Where the figures come from, and when.
    pub source: String,
}

/// The default comparison: OpenAI's published API prices
/// (https://openai.com/api/pricing/, list as of 2024-10: GPT-4o mini
/// $0.150 input / $0.600 output per million tokens, GPT-4o $2.50 / $10.00).
/// Set your own with `--price-in/--price-out`.
pub fn default_prices() -> Vec<Price> {
    let src = "OpenAI API price list, https://openai.com/api/pricing/ (as of 2024-10)";
    vec![
        Price {
            name: "OpenAI GPT-4o mini".into(),
            input_per_million: 0.15,
            output_per_million: 0.60,
            source: src.into(),
        },
        Price {
            name: "OpenAI GPT-4o".into(),
            input_per_million: 2.50,
            output_per_million: 10.00,
            source: src.into(),
        },
    ]
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Inputs found (files of a supported type, or JSONL records), times
    /// `drafts`: the records a complete run writes.
    pub documents: usize,
    /// `--drafts N`: outputs per input (1 unless asked).
    pub drafts: u32,
    /// Processed in this run (successfully).
    pub done: usize,
    /// Already in the output from an earlier run (skipped).
    pub already_done: usize,
    /// Failed in this run (recorded with `error`; retried on a rerun).
    pub failed: usize,
    /// Files not processed (unsupported type, unreadable).
    pub skipped_files: usize,
    /// Inputs split because they were longer than the context.
    pub split: usize,
    pub truncated: usize,
    /// `--json`: outputs that did not parse or validate.
    pub json_invalid: usize,
    pub prompt_tokens: usize,
    /// Of `prompt_tokens` (this run's), those not computed: the prompts start
    /// the same way (template text before `{{content}}`, system message), so
    /// that part of the cache is computed once and shared.
    pub cached_tokens: usize,
    pub output_tokens: usize,
    pub wall_seconds: f64,
    /// Output tokens per second of wall time.
    pub output_tokens_per_second: f64,
    /// Stopped early (a fatal error or an interrupt).
    pub stopped: Option<String>,
    pub costs: Vec<Cost>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Cost {
    #[serde(flatten)]
    pub price: Price,
    pub usd: f64,
}

impl Report {
    pub fn price(&mut self, prices: &[Price]) {
        self.costs = prices
            .iter()
            .map(|p| Cost {
                price: p.clone(),
                usd: self.prompt_tokens as f64 / 1e6 * p.input_per_million
                    + self.output_tokens as f64 / 1e6 * p.output_per_million,
            })
            .collect();
    }

    /// The human-readable report.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let mut line = |l: String| {
            s.push_str(&l);
            s.push('\n');
        };
        let drafts = if self.drafts > 1 {
            format!(
                " ({} inputs x {} drafts)",
                self.documents / self.drafts as usize,
                self.drafts
            )
        } else {
            String::new()
        };
        line(format!(
            "documents: {}{drafts} | done now: {} | already done: {} | failed: {} | files skipped: {}",
            self.documents, self.done, self.already_done, self.failed, self.skipped_files
        ));
        if self.split + self.truncated > 0 {
            line(format!(
                "longer than the context: {} split, {} truncated",
                self.split, self.truncated
            ));
        }
        if self.json_invalid > 0 {
            line(format!(
                "JSON outputs that did not parse or validate: {}",
                self.json_invalid
            ));
        }
        let shared = if self.cached_tokens > 0 {
            format!(
                " ({} of them shared by prompts that start alike: computed once)",
                self.cached_tokens
            )
        } else {
            String::new()
        };
        line(format!(
            "tokens: {} in{shared}, {} out | wall time {} | {:.1} output tokens/s",
            self.prompt_tokens,
            self.output_tokens,
            duration(self.wall_seconds),
            self.output_tokens_per_second
        ));
        for c in &self.costs {
            line(format!(
                "at {} prices (${}/M in, ${}/M out) these tokens would have cost ${:.4}; here: $0",
                c.price.name, c.price.input_per_million, c.price.output_per_million, c.usd
            ));
        }
        if let Some(src) = self.costs.first().map(|c| c.price.source.clone()) {
            line(format!(
                "prices: {src}; set yours with --price-in/--price-out"
            ));
        }
        if let Some(why) = &self.stopped {
            line(format!("stopped early: {why}"));
        }
        s
    }
}

pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0);
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_tokens_times_price() {
        let mut r = Report {
            prompt_tokens: 2_000_000,
            output_tokens: 500_000,
            ..Report::default()
        };
        r.price(&default_prices());
        assert!((r.costs[0].usd - (2.0 * 0.15 + 0.5 * 0.60)).abs() < 1e-9);
        assert!((r.costs[1].usd - (2.0 * 2.5 + 0.5 * 10.0)).abs() < 1e-9);
        let t = r.text();
        assert!(
            t.contains("GPT-4o mini") && t.contains("$0.6000") && t.contains("openai.com"),
            "{t}"
        );
        assert_eq!(duration(75.0), "1m15s");
    }
}
