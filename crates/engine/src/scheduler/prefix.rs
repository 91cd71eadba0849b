//! Prompt prefixes shared between the scheduler's sequences: a sequence
//! still reading its prompt copies what another already holds of it, and a
//! hybrid model's state is pinned at its reuse point (`conversation.rs`).

use super::Runner;

/// Fewest prompt positions worth copying from another sequence's cache (or
/// waiting a pass for): below this, computing them is as cheap.
pub(super) const MIN_SHARE: usize = 8;

/// Length of the common prefix of `a ++ a_more` and `b ++ b_more`.
pub(super) fn shared_prefix(a: &[u32], a_more: &[u32], b: &[u32], b_more: &[u32]) -> usize {
    a.iter()
        .chain(a_more)
        .zip(b.iter().chain(b_more))
        .take_while(|(x, y)| x == y)
        .count()
}

impl Runner {
    /// Pin the recurrent state of the sequences whose prompt chunk just
    /// ended at their reuse point (a hybrid model's system prompt end).
    pub(super) fn pin_reuse_points(&mut self) {
        for a in &mut self.active {
            if a.pin.is_some() && a.pin == Some(a.sess.n_past()) {
                a.sess.pin_snapshot();
            }
        }
    }

    /// Sequences still reading their prompt take what another sequence
    /// already holds of it in its cache (copied, see
    /// `Session::copy_prefix_from`), when that saves at least `MIN_SHARE`
    /// positions.
    pub(super) fn share_prefixes(&mut self) {
        for i in 0..self.active.len() {
            let a = &self.active[i];
            if a.pending.len() <= 1 {
                continue;
            }
            let n_past = a.sess.n_past();
            // keep one prompt token to compute, so logits exist
            let cap = n_past + a.pending.len() - 1;
            let best = (0..self.active.len())
                .filter(|&j| j != i)
                .map(|j| {
                    (
                        j,
                        // (a hybrid model's state exists only at some positions)
                        self.active[j].sess.shareable_prefix(
                            shared_prefix(
                                self.active[j].sess.tokens(),
                                &[],
                                a.sess.tokens(),
                                &a.pending,
                            )
                            .min(cap),
                        ),
                    )
                })
                .filter(|&(_, n)| n >= n_past + MIN_SHARE)
                .max_by_key(|&(_, n)| n);
            let Some((j, n)) = best else { continue };
            let (src, dst) = if j < i {
                let (l, r) = self.active.split_at_mut(i);
                (&l[j], &mut r[0])
            } else {
                let (l, r) = self.active.split_at_mut(j);
                (&r[0], &mut l[i])
            };
            let n = dst.sess.copy_prefix_from(&src.sess, n);
            dst.pending.drain(..n - n_past);
            dst.cached_tokens += n - n_past;
            if dst.pin == Some(n) {
                dst.sess.pin_snapshot();
            }
        }
    }
}
