//! Token texts in one arena with an open-addressing text -> id table: loading
//! a 262k vocabulary makes no per-token allocation.

use std::hash::Hasher;

const EMPTY: u32 = u32::MAX;

pub(crate) struct Vocab {
    arena: String,
    offs: Vec<u32>,
    table: Vec<u32>,
    mask: usize,
}

#[inline]
fn hash(s: &str) -> u64 {
    let mut h = crate::FxHasher::default();
    h.write(s.as_bytes());
    // final avalanche so the low bits used for the slot are well mixed
    let mut x = h.finish() ^ s.len() as u64;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x
}

impl Vocab {
    pub fn new<'a>(words: impl ExactSizeIterator<Item = &'a str> + Clone) -> Vocab {
        let n = words.len();
        let total: usize = words.clone().map(|w| w.len().max(16)).sum();
        let mut arena = String::with_capacity(total);
        let mut offs = Vec::with_capacity(n + 1);
        offs.push(0u32);
        for (i, w) in words.enumerate() {
            if w.is_empty() {
                // llama.cpp names empty tokens "[EMPTY_<id>]"
                use std::fmt::Write;
                let _ = write!(arena, "[EMPTY_{i}]");
            } else {
                arena.push_str(w);
            }
            offs.push(arena.len() as u32);
        }
        let cap = (n * 2).next_power_of_two().max(16);
        let mut v = Vocab {
            arena,
            offs,
            table: vec![EMPTY; cap],
            mask: cap - 1,
        };
        for i in 0..n {
            let s = v.text(i);
            let mut slot = hash(s) as usize & v.mask;
            loop {
                let cur = v.table[slot];
                if cur == EMPTY {
                    v.table[slot] = i as u32;
                    break;
                }
                if v.text(cur as usize) == s {
                    v.table[slot] = i as u32; // duplicate text: last id wins, as llama.cpp
                    break;
                }
                slot = (slot + 1) & v.mask;
            }
        }
        v
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.offs.len() - 1
    }

    #[inline]
    pub fn text(&self, i: usize) -> &str {
        &self.arena[self.offs[i] as usize..self.offs[i + 1] as usize]
    }

    #[inline]
    pub fn get(&self, s: &str) -> Option<&u32> {
        let mut slot = hash(s) as usize & self.mask;
        loop {
            let cur = &self.table[slot];
            if *cur == EMPTY {
                return None;
            }
            if self.text(*cur as usize) == s {
                return Some(cur);
            }
            slot = (slot + 1) & self.mask;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.text(i))
    }
}

impl std::ops::Index<usize> for Vocab {
    type Output = str;
    fn index(&self, i: usize) -> &str {
        self.text(i)
    }
}
