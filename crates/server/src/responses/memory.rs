//! The responses `/v1/responses` keeps for `previous_response_id` (and
//! `GET /v1/responses/{id}`): in memory only, for a bounded time, count and
//! size, oldest dropped first; nothing is written to disk. An id that was
//! dropped is remembered a while longer, so a request naming it is told it
//! expired rather than that it never existed.

use engine::Message;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Ids dropped, remembered for a clearer error.
const GONE_KEEP: usize = 4096;

/// One kept response.
#[derive(Clone)]
pub struct Stored {
    /// The response object, as it was returned.
    pub response: Value,
    /// The conversation up to and including this response's output, as the
    /// chat template takes it (without the request's `instructions`).
    pub conversation: Vec<Message>,
    pub model: String,
}

struct Entry {
    at: Instant,
    bytes: usize,
    stored: Stored,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Entry>,
    /// Ids oldest first.
    order: VecDeque<String>,
    bytes: usize,
    /// Recently dropped ids and why.
    gone: VecDeque<(String, &'static str)>,
}

pub struct Memory {
    inner: Mutex<Inner>,
    pub ttl: Duration,
    pub max: usize,
    pub max_bytes: usize,
}

/// Why a stored response is not there.
#[derive(Debug, PartialEq)]
pub enum Missing {
    /// It was kept and dropped (its time ran out, or room was needed).
    Expired(&'static str),
    /// Never stored here (`store: false`, another server, a restart).
    Unknown,
}

fn size_of(s: &Stored) -> usize {
    let conv: usize = s
        .conversation
        .iter()
        .map(|m| m.content.len() + m.tool_calls.as_ref().map_or(0, |t| t.to_string().len()) + 64)
        .sum();
    conv + s.response.to_string().len()
}

impl Memory {
    pub fn new(ttl: Duration, max: usize, max_bytes: usize) -> Memory {
        Memory {
            inner: Mutex::new(Inner::default()),
            ttl,
            max,
            max_bytes,
        }
    }

    fn drop_oldest(m: &mut Inner, why: &'static str) {
        if let Some(id) = m.order.pop_front() {
            if let Some(e) = m.map.remove(&id) {
                m.bytes -= e.bytes;
            }
            m.gone.push_back((id, why));
            if m.gone.len() > GONE_KEEP {
                m.gone.pop_front();
            }
        }
    }

    fn expire(&self, m: &mut Inner) {
        let now = Instant::now();
        while let Some(id) = m.order.front() {
            let old = m
                .map
                .get(id)
                .is_none_or(|e| now.duration_since(e.at) >= self.ttl);
            if !old {
                break;
            }
            Self::drop_oldest(m, "its time in memory ran out");
        }
    }

    /// Keep `s` as `id`, making room (oldest first). A response larger than
    /// the whole budget is not kept.
    pub fn put(&self, id: String, s: Stored) {
        let bytes = size_of(&s);
        let mut m = self.inner.lock().unwrap();
        self.expire(&mut m);
        let refused = if self.max == 0 || self.ttl.is_zero() {
            Some("this server keeps no responses (--responses-ttl 0)")
        } else if bytes > self.max_bytes {
            Some("it was larger than the memory kept for responses")
        } else {
            None
        };
        if let Some(why) = refused {
            m.gone.push_back((id, why));
            if m.gone.len() > GONE_KEEP {
                m.gone.pop_front();
            }
            return;
        }
        while m.order.len() >= self.max || m.bytes + bytes > self.max_bytes {
            Self::drop_oldest(&mut m, "newer responses needed the room");
        }
        m.bytes += bytes;
        m.order.push_back(id.clone());
        m.map.insert(
            id,
            Entry {
                at: Instant::now(),
                bytes,
                stored: s,
            },
        );
    }

    pub fn get(&self, id: &str) -> Result<Stored, Missing> {
        let mut m = self.inner.lock().unwrap();
        self.expire(&mut m);
        if let Some(e) = m.map.get(id) {
            return Ok(e.stored.clone());
        }
        match m.gone.iter().rev().find(|(g, _)| g == id) {
            Some((_, why)) => Err(Missing::Expired(why)),
            None => Err(Missing::Unknown),
        }
    }

    /// Forget `id`; false when it was not kept.
    pub fn delete(&self, id: &str) -> bool {
        let mut m = self.inner.lock().unwrap();
        let Some(e) = m.map.remove(id) else {
            return false;
        };
        m.bytes -= e.bytes;
        m.order.retain(|x| x != id);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(text: &str) -> Stored {
        Stored {
            response: serde_json::json!({"id": "x"}),
            conversation: vec![Message::user(text)],
            model: "m".into(),
        }
    }

    #[test]
    fn bounded_by_count_bytes_and_time() {
        let m = Memory::new(Duration::from_secs(60), 2, 1 << 20);
        for i in 0..3 {
            m.put(format!("r{i}"), stored("hi"));
        }
        assert_eq!(
            m.get("r0").err(),
            Some(Missing::Expired("newer responses needed the room"))
        );
        assert!(m.get("r1").is_ok() && m.get("r2").is_ok());
        assert_eq!(m.get("nope").err(), Some(Missing::Unknown));
        assert!(m.delete("r1") && !m.delete("r1"));
        assert_eq!(m.get("r1").err(), Some(Missing::Unknown));

        let m = Memory::new(Duration::from_secs(60), 100, 400);
        m.put("big".into(), stored(&"x".repeat(1000)));
        assert!(matches!(m.get("big"), Err(Missing::Expired(_))));
        m.put("a".into(), stored(&"x".repeat(150)));
        m.put("b".into(), stored(&"x".repeat(150)));
        assert!(m.get("a").is_err() && m.get("b").is_ok(), "bytes bound");

        let m = Memory::new(Duration::ZERO, 100, 1 << 20);
        m.put("z".into(), stored("hi"));
        assert_eq!(
            m.get("z").err(),
            Some(Missing::Expired(
                "this server keeps no responses (--responses-ttl 0)"
            ))
        );

        let m = Memory::new(Duration::from_millis(30), 100, 1 << 20);
        m.put("t".into(), stored("hi"));
        assert!(m.get("t").is_ok());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            m.get("t").err(),
            Some(Missing::Expired("its time in memory ran out"))
        );
    }
}
