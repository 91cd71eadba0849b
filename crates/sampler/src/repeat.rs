//! Noticing an answer that repeats itself endlessly (a base model run as a
//! chat, greedy decoding caught in a cycle), so it can be stopped with a
//! notice instead of running until the context is full.
//!
//! Conservative and cheap: the answer is "looping" once its last `window`
//! characters are one passage of at most `window / 4` characters repeated
//! (four times or more), to the character. Per character it costs one
//! comparison per candidate period; text that varies at all is never
//! stopped.

/// Watches streamed text for a loop; see the module docs.
#[derive(Clone, Debug)]
pub struct RepeatDetector {
    window: usize,
    /// The last `window` characters, as a ring.
    ring: Vec<char>,
    /// Characters seen so far.
    seen: usize,
    /// For each period p (index p - 1): how many of the latest characters
    /// each equal the character p before them, in a row.
    streak: Vec<usize>,
    found: Option<usize>,
}

impl RepeatDetector {
    /// The default window, in characters: a few hundred tokens.
    pub const DEFAULT_WINDOW: usize = 1200;

    /// A detector over the last `window` characters (0: never fires).
    pub fn new(window: usize) -> RepeatDetector {
        RepeatDetector {
            window,
            ring: vec!['\0'; window.max(1)],
            seen: 0,
            streak: vec![0; window / 4],
            found: None,
        }
    }

    /// Feed more of the answer; true once it is looping (and from then on).
    pub fn feed(&mut self, text: &str) -> bool {
        if self.window < 4 || self.found.is_some() {
            return self.found.is_some();
        }
        let w = self.window;
        for c in text.chars() {
            for (i, s) in self.streak.iter_mut().enumerate() {
                let p = i + 1;
                if self.seen >= p && self.ring[(self.seen - p) % w] == c {
                    *s += 1;
                } else {
                    *s = 0;
                }
            }
            self.ring[self.seen % w] = c;
            self.seen += 1;
            // the last `w` characters repeat with period p: w - p of them
            // equal the one p before (shortest period first)
            if let Some(i) = self
                .streak
                .iter()
                .enumerate()
                .position(|(i, &s)| s >= w - (i + 1))
            {
                self.found = Some(i + 1);
                return true;
            }
        }
        false
    }

    /// The length in characters of the passage that repeats, once found.
    pub fn period(&self) -> Option<usize> {
        self.found
    }
}

#[cfg(test)]
mod tests {
    use super::RepeatDetector;

    fn fires_at(window: usize, text: &str) -> Option<usize> {
        let mut d = RepeatDetector::new(window);
        let mut n = 0;
        for c in text.chars() {
            n += 1;
            if d.feed(&c.to_string()) {
                return Some(n);
            }
        }
        None
    }

    #[test]
    fn a_passage_repeated_fires_once_the_window_is_periodic() {
        let passage = "The cat sat on the mat. "; // 24 chars
        let text = passage.repeat(100);
        // 40 characters of window: fires after 40 characters of the cycle
        assert_eq!(fires_at(40, &text), None, "period 24 > 40 / 4 never fires");
        assert_eq!(fires_at(96, &text), Some(96));
        let mut d = RepeatDetector::new(96);
        assert!(d.feed(&text));
        assert_eq!(d.period(), Some(24));
        // after a varied start
        let start = "Here is a story that goes somewhere, then gets stuck:\n";
        let t = format!("{start}{}", "ha! ".repeat(100));
        assert_eq!(fires_at(1200, &t), None, "only 400 characters of it");
        let t = format!("{start}{}", "ha! ".repeat(400));
        assert_eq!(fires_at(1200, &t), Some(start.chars().count() + 1200));
    }

    #[test]
    fn varied_or_short_text_never_fires() {
        let text: String = (0..5000).map(|i| format!("{i}, ")).collect();
        assert_eq!(fires_at(1200, &text), None);
        let prose = "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness. ".repeat(3);
        assert_eq!(fires_at(1200, &prose), None);
        assert_eq!(fires_at(0, &"a".repeat(10_000)), None, "0 = off");
        // a long run of one character is a loop, period 1
        let mut d = RepeatDetector::new(1200);
        assert!(d.feed(&"=".repeat(1200)));
        assert_eq!(d.period(), Some(1));
        // multi-byte characters count as characters
        assert_eq!(fires_at(8, &"日本".repeat(10)), Some(8));
    }
}
