//! A hybrid model's per-sequence recurrent state ([`Recurrent`]): each
//! recurrent layer's convolution inputs, delta-rule matrices and unfinished
//! block, with the snapshots prefix reuse restores (a recurrent state cannot
//! be cut back like a KV cache).

use crate::config::{Config, SsmSpec};
use crate::delta::CHUNK;

/// One recurrent layer's state for one sequence.
#[derive(Clone, Default)]
pub(crate) struct RecLayer {
    /// [d_conv-1][conv_dim]: the convolution's last inputs, oldest first.
    pub(super) conv: Vec<f32>,
    /// [n_v_heads][head_dim (v)][head_dim (k)]: the delta rule's matrices
    /// at the start of the current block (`delta::CHUNK` positions; with
    /// `DeltaRule::PerToken`, after the last position).
    pub(super) state: Vec<f32>,
    /// The current block's rows before the sequence's position
    /// (`n_past % CHUNK` of them, see `delta.rs`): [n_k_heads][CHUNK][hd]
    /// key rows,
    pub(super) pk: Vec<f32>,
    /// [n_v_heads][CHUNK][hd] u rows,
    pub(super) pu: Vec<f32>,
    /// [n_v_heads][CHUNK] cumulative log-decays.
    pub(super) pg: Vec<f32>,
}

impl RecLayer {
    fn new(h: &SsmSpec) -> RecLayer {
        RecLayer {
            conv: vec![0.0; h.conv_len()],
            state: vec![0.0; h.state_len()],
            pk: vec![0.0; CHUNK * h.key_dim()],
            pu: vec![0.0; CHUNK * h.value_dim()],
            pg: vec![0.0; CHUNK * h.n_v_heads],
        }
    }

    /// Become a copy of `src` (reusing the buffers).
    fn copy_from(&mut self, src: &RecLayer) {
        self.conv.clone_from(&src.conv);
        self.state.clone_from(&src.state);
        self.pk.clone_from(&src.pk);
        self.pu.clone_from(&src.pu);
        self.pg.clone_from(&src.pg);
    }

    fn clear(&mut self) {
        for v in [
            &mut self.conv,
            &mut self.state,
            &mut self.pk,
            &mut self.pu,
            &mut self.pg,
        ] {
            v.fill(0.0);
        }
    }

    fn floats(&self) -> usize {
        self.conv.len() + self.state.len() + self.pk.len() + self.pu.len() + self.pg.len()
    }
}

/// Snapshots kept per session besides the pinned one (each is a whole
/// recurrent state: for a Qwen3.5-4B shape 24 layers × 32 heads × 128²
/// floats, 50 MB, plus the unfinished block's rows, 19 MB).
pub const MAX_SNAPSHOTS: usize = 2;

/// Pinned snapshots a session may hold on top of [`MAX_SNAPSHOTS`]: the
/// state at the end of a shared system prompt (see `Session::pin_snapshot`).
pub const PINNED_SNAPSHOTS: usize = 1;

/// A sequence's recurrent state (every recurrent layer's, after `Session::n_past`
/// positions) and snapshots of it at earlier positions, taken at the end of
/// each prompt chunk, so that a prefix cut back to such a point (the start
/// of a chat turn) is restored instead of recomputed; and one pinned
/// snapshot that newer ones never push out (the end of a system prompt that
/// other conversations share). Empty for a model without recurrent layers.
#[derive(Default)]
pub(crate) struct Recurrent {
    hybrid: bool,
    pub(super) layers: Vec<RecLayer>,
    /// (position, state), positions ascending.
    snaps: Vec<(usize, Vec<RecLayer>)>,
    /// The position of the pinned snapshot (one of `snaps`).
    pinned: Option<usize>,
}

impl Recurrent {
    pub(crate) fn new(c: &Config) -> Recurrent {
        let Some(h) = &c.ssm else {
            return Recurrent::default();
        };
        Recurrent {
            hybrid: true,
            layers: h
                .recurrent
                .iter()
                .map(|&r| {
                    if r {
                        RecLayer::new(h)
                    } else {
                        RecLayer::default()
                    }
                })
                .collect(),
            snaps: Vec::new(),
            pinned: None,
        }
    }

    pub(crate) fn is_hybrid(&self) -> bool {
        self.hybrid
    }

    /// The state at the start of a sequence; no snapshots.
    pub(crate) fn reset(&mut self) {
        for l in &mut self.layers {
            l.clear();
        }
        self.snaps.clear();
        self.pinned = None;
    }

    /// The oldest snapshot that is not pinned, if more than `MAX_SNAPSHOTS`
    /// - `room` are: removed, its buffers returned for reuse.
    fn evict(&mut self, room: usize) -> Option<Vec<RecLayer>> {
        let pinned = self.pinned;
        let free = self.snaps.iter().filter(|s| Some(s.0) != pinned).count();
        if free + room <= MAX_SNAPSHOTS {
            return None;
        }
        let i = self.snaps.iter().position(|s| Some(s.0) != pinned)?;
        Some(self.snaps.remove(i).1)
    }

    /// Keep a copy of the current state as the one at `pos` (the current
    /// position: snapshots are taken in position order).
    pub(crate) fn snapshot(&mut self, pos: usize) {
        if let Some(i) = self.snaps.iter().position(|s| s.0 == pos) {
            self.snaps.remove(i);
        }
        // reuse the oldest unpinned snapshot's buffers once the limit is reached
        let mut buf = if Some(pos) == self.pinned {
            None
        } else {
            self.evict(1)
        }
        .unwrap_or_default();
        buf.resize_with(self.layers.len(), RecLayer::default);
        for (d, s) in buf.iter_mut().zip(&self.layers) {
            d.copy_from(s);
        }
        self.snaps.push((pos, buf));
    }

    /// Pin the state at `pos` (the current position), snapshotting it if no
    /// snapshot is there yet: newer snapshots never push it out. A snapshot
    /// pinned before becomes an ordinary one.
    pub(crate) fn pin(&mut self, pos: usize) {
        if !self.snaps.iter().any(|s| s.0 == pos) {
            self.pinned = None;
            self.snapshot(pos);
        }
        self.pinned = Some(pos);
        while self.evict(0).is_some() {}
    }

    /// The pinned snapshot's position, if any.
    pub(crate) fn pinned(&self) -> Option<usize> {
        self.pinned
    }

    /// Go back to the newest snapshot at or before `n` (dropping those after
    /// it), or to the start; returns its position.
    pub(crate) fn restore(&mut self, n: usize) -> usize {
        self.snaps.retain(|s| s.0 <= n);
        if self.pinned.is_some_and(|p| p > n) {
            self.pinned = None;
        }
        match self.snaps.last() {
            Some((pos, st)) => {
                for (d, s) in self.layers.iter_mut().zip(st) {
                    d.copy_from(s);
                }
                *pos
            }
            None => {
                self.reset();
                0
            }
        }
    }

    /// Take `src`'s state at `n` positions (`src` holding `src_past`): its
    /// current one if `n == src_past`, else its newest snapshot at or before
    /// `n`, else the start. Returns the positions taken.
    pub(crate) fn copy_from(&mut self, src: &Recurrent, n: usize, src_past: usize) -> usize {
        self.snaps.clear();
        self.pinned = None;
        let (pos, layers) = if n == src_past {
            (n, &src.layers)
        } else {
            match src.snaps.iter().rev().find(|s| s.0 <= n) {
                Some((p, st)) => (*p, st),
                None => {
                    self.reset();
                    return 0;
                }
            }
        };
        for (d, s) in self.layers.iter_mut().zip(layers) {
            d.copy_from(s);
        }
        pos
    }

    /// The newest snapshot's position at or before `n` (0 if none).
    pub(crate) fn snapshot_at_or_before(&self, n: usize) -> usize {
        self.snaps
            .iter()
            .rev()
            .find(|s| s.0 <= n)
            .map_or(0, |s| s.0)
    }

    /// Bytes held (state and snapshots).
    pub(crate) fn bytes(&self) -> usize {
        let one = |ls: &[RecLayer]| -> usize { ls.iter().map(RecLayer::floats).sum::<usize>() * 4 };
        one(&self.layers) + self.snaps.iter().map(|s| one(&s.1)).sum::<usize>()
    }
}
