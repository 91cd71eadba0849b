//! Stop strings over streamed text.

/// Watches streamed text for stop strings.
///
/// [`StopMatcher::push`] returns the text that is safe to emit now: it holds
/// back the longest suffix that could still become the start of a stop
/// string, and when a stop string completes it returns the text before the
/// stop (never the stop itself) and reports `stopped`. After a stop, further
/// input is ignored. [`StopMatcher::flush`] returns the held text at the end
/// of generation when no stop was hit.
///
/// Stops are checked as text arrives (like llama.cpp's server): the first
/// stop string to complete wins, and among stops completed by the same chunk
/// the one starting earliest wins. Empty stop strings are ignored. Matching
/// is on bytes of valid UTF-8, so held text always splits at a char boundary.
#[derive(Debug, Clone, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
    stopped: bool,
}

impl StopMatcher {
    pub fn new(stops: Vec<String>) -> Self {
        let stops = stops.into_iter().filter(|s| !s.is_empty()).collect();
        Self {
            stops,
            held: String::new(),
            stopped: false,
        }
    }

    /// Feed a chunk; returns `(text safe to emit now, stopped)`.
    pub fn push(&mut self, text: &str) -> (String, bool) {
        let mut out = String::new();
        let stopped = self.push_into(text, &mut out);
        (out, stopped)
    }

    /// Feed a chunk, append the text safe to emit now to `out`, and say
    /// whether a stop string ended the stream. Once `out` and the held text
    /// have their capacity (about the longest stop string plus a chunk),
    /// this allocates nothing (the per-token step of generation).
    pub fn push_into(&mut self, text: &str, out: &mut String) -> bool {
        if self.stopped {
            return true;
        }
        if self.stops.is_empty() {
            out.push_str(text);
            return false;
        }
        self.held.push_str(text);

        // Earliest complete stop string.
        let hit = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min();
        if let Some(pos) = hit {
            out.push_str(&self.held[..pos]);
            self.held.clear();
            self.stopped = true;
            return true;
        }

        // Hold back the longest suffix that is a proper prefix of a stop.
        let keep_from = self.partial_start();
        out.push_str(&self.held[..keep_from]);
        self.held.drain(..keep_from);
        false
    }

    /// Start of the longest suffix of `held` that is a proper prefix of
    /// some stop string (`held.len()` if none).
    fn partial_start(&self) -> usize {
        let h = self.held.as_bytes();
        let max_len = self
            .stops
            .iter()
            .map(|s| s.len() - 1)
            .max()
            .unwrap_or(0)
            .min(h.len());
        for start in h.len() - max_len..h.len() {
            if !self.held.is_char_boundary(start) {
                continue;
            }
            let suffix = &h[start..];
            if self.stops.iter().any(|s| s.as_bytes().starts_with(suffix)) {
                return start;
            }
        }
        h.len()
    }

    /// End of stream: return any held text (empty after a stop).
    pub fn flush(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// Whether a stop string has been hit.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// The text currently held back.
    pub fn held(&self) -> &str {
        &self.held
    }

    /// Forget held text and the stopped state (stop strings are kept).
    pub fn reset(&mut self) {
        self.held.clear();
        self.stopped = false;
    }
}
