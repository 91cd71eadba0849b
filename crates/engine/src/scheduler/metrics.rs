//! What a scheduler tells about itself for a server's metrics: its load now
//! (queue, active sequences, KV-cache use) and totals over finished requests.
//! The scheduler thread writes [`Counters`]; readers take a snapshot.

use super::Scheduler;
use crate::SpecStats;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// How busy a scheduler is right now (for a server's metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Load {
    /// Requests submitted and not yet generating.
    pub queued: usize,
    /// Sequences being generated (reading their prompt or decoding).
    pub active: usize,
    /// KV-cache positions filled by the active sequences.
    pub kv_used: usize,
    /// KV-cache positions reserved by them (prompt + max_tokens each).
    pub kv_reserved: usize,
    /// Positions shared by all sequences (`SchedulerConfig::ctx_budget`).
    pub kv_budget: usize,
}

/// What a scheduler has done so far (for a server's metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedulerStats {
    /// Speculative decoding over the finished requests: verify passes,
    /// tokens drafted, tokens accepted ([`SpecStats::acceptance`]).
    pub spec: SpecStats,
}

/// Written by the scheduler thread after each admission and step, and the
/// totals over its finished requests (read by [`Scheduler::stats`]).
#[derive(Default)]
pub(super) struct Counters {
    pub(super) submitted: AtomicUsize,
    pub(super) taken: AtomicUsize,
    pub(super) waiting: AtomicUsize,
    pub(super) active: AtomicUsize,
    pub(super) kv_used: AtomicUsize,
    pub(super) kv_reserved: AtomicUsize,
    pub(super) spec_steps: AtomicU64,
    pub(super) spec_drafted: AtomicU64,
    pub(super) spec_accepted: AtomicU64,
}

impl Scheduler {
    /// Queue depth, active sequences and KV-cache use, as of the last step.
    pub fn load(&self) -> Load {
        let c = &self.counters;
        let in_channel = c
            .submitted
            .load(Ordering::Relaxed)
            .saturating_sub(c.taken.load(Ordering::Relaxed));
        Load {
            queued: in_channel + c.waiting.load(Ordering::Relaxed),
            active: c.active.load(Ordering::Relaxed),
            kv_used: c.kv_used.load(Ordering::Relaxed),
            kv_reserved: c.kv_reserved.load(Ordering::Relaxed),
            kv_budget: self.ctx_budget,
        }
    }

    /// Totals over the requests finished so far.
    pub fn stats(&self) -> SchedulerStats {
        let c = &self.counters;
        SchedulerStats {
            spec: SpecStats {
                steps: c.spec_steps.load(Ordering::Relaxed),
                drafted: c.spec_drafted.load(Ordering::Relaxed),
                accepted: c.spec_accepted.load(Ordering::Relaxed),
            },
        }
    }
}
