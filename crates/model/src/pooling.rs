//! How one embedding is made of a text's hidden states: the file's
//! `{arch}.pooling_type` (llama.cpp `enum llama_pooling_type`: 0 none,
//! 1 mean, 2 cls, 3 last, 4 rank), applied as llama.cpp's `build_pooling`
//! does — mean: the average of every token's state; cls: the first token's
//! (BERT's `[CLS]`); last: the last token's.
//!
//! hearth always answers one vector per text, so a file that says "none", or
//! says nothing (every decoder), is mean-pooled, as hearth has always pooled
//! decoders. "rank" is a reranker's classification head, not an embedding:
//! such a file is refused at load.

use crate::config::Meta;
use crate::ModelError;

/// The pooling of a model's embeddings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pooling {
    /// The mean of every token's hidden state.
    #[default]
    Mean,
    /// The first token's (`[CLS]`).
    Cls,
    /// The last token's.
    Last,
}

impl Pooling {
    /// The pooling `{arch}.pooling_type` says (mean when it is absent or
    /// "none").
    pub(crate) fn from_meta(m: &Meta) -> Result<Pooling, ModelError> {
        Ok(match m.u("pooling_type")? {
            None | Some(0) | Some(1) => Pooling::Mean,
            Some(2) => Pooling::Cls,
            Some(3) => Pooling::Last,
            Some(4) => {
                return Err(m.bad(
                    &m.key("pooling_type"),
                    "is 4 (rank): a reranker, which hearth does not run; use an embedding model",
                ))
            }
            Some(n) => {
                return Err(m.bad(
                    &m.key("pooling_type"),
                    &format!("is {n}, not a pooling type llama.cpp defines (0 none, 1 mean, 2 cls, 3 last, 4 rank)"),
                ))
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::Last => "last",
        }
    }

    /// One vector of `d` floats from `states` (`[n][d]`, `n >= 1`). The mean
    /// sums each dimension over the tokens in order and divides once.
    pub fn pool(self, states: &[f32], d: usize) -> Vec<f32> {
        let n = states.len() / d;
        assert!(n >= 1 && states.len() == n * d, "pooling needs whole rows");
        match self {
            Pooling::Cls => states[..d].to_vec(),
            Pooling::Last => states[(n - 1) * d..].to_vec(),
            Pooling::Mean => {
                let mut v = vec![0f32; d];
                for row in states.chunks_exact(d) {
                    v.iter_mut().zip(row).for_each(|(a, b)| *a += b);
                }
                v.iter_mut().for_each(|a| *a /= n as f32);
                v
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pooling;

    #[test]
    fn pooling_picks_the_rows_it_says() {
        let s = [1.0, 2.0, 3.0, 4.0, 5.0, 9.0];
        assert_eq!(Pooling::Mean.pool(&s, 2), vec![3.0, 5.0]);
        assert_eq!(Pooling::Cls.pool(&s, 2), vec![1.0, 2.0]);
        assert_eq!(Pooling::Last.pool(&s, 2), vec![5.0, 9.0]);
    }
}
