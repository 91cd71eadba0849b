use sampler::StopMatcher;

fn stops(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Feed all chunks; return (all emitted text, stopped).
fn run(m: &mut StopMatcher, chunks: &[&str]) -> (String, bool) {
    let mut out = String::new();
    for c in chunks {
        let (e, stopped) = m.push(c);
        out.push_str(&e);
        if stopped {
            return (out, true);
        }
    }
    out.push_str(&m.flush());
    (out, false)
}

#[test]
fn stop_split_over_three_chunks() {
    let mut m = StopMatcher::new(stops(&["<|end|>"]));
    assert_eq!(m.push("Hello <|"), ("Hello ".to_string(), false));
    assert_eq!(m.held(), "<|");
    assert_eq!(m.push("en"), (String::new(), false));
    assert_eq!(m.held(), "<|en");
    assert_eq!(m.push("d|> trailing"), (String::new(), true));
    assert!(m.stopped());
    // Anything after the stop is dropped.
    assert_eq!(m.push("more"), (String::new(), true));
    assert_eq!(m.flush(), "");
}

#[test]
fn text_before_stop_in_same_chunk_is_emitted() {
    let mut m = StopMatcher::new(stops(&["STOP"]));
    assert_eq!(m.push("abc STOP def"), ("abc ".to_string(), true));
    let mut m = StopMatcher::new(stops(&["STOP"]));
    assert_eq!(m.push("ab"), ("ab".to_string(), false));
    assert_eq!(m.push("cST"), ("c".to_string(), false));
    assert_eq!(m.push("OPxyz"), (String::new(), true));
}

#[test]
fn false_prefix_is_eventually_emitted() {
    let mut m = StopMatcher::new(stops(&["</s>"]));
    assert_eq!(m.push("a </"), ("a ".to_string(), false));
    // "</x" can no longer become "</s>": released.
    assert_eq!(m.push("x"), ("</x".to_string(), false));
    assert_eq!(m.held(), "");
    // Overlapping restart: "<</s>" stops after the first '<'.
    let mut m = StopMatcher::new(stops(&["</s>"]));
    assert_eq!(
        run(&mut m, &["<", "<", "/", "s", ">"]),
        ("<".to_string(), true)
    );
}

#[test]
fn no_stop_flush_returns_held_text() {
    let mut m = StopMatcher::new(stops(&["###"]));
    assert_eq!(m.push("result: #"), ("result: ".to_string(), false));
    assert_eq!(m.push("#"), (String::new(), false));
    assert_eq!(m.flush(), "##");
    assert!(!m.stopped());
}

#[test]
fn earliest_of_several_stops_wins() {
    let mut m = StopMatcher::new(stops(&["world", "lo w", "\n\n"]));
    assert_eq!(m.push("hello world"), ("hel".to_string(), true));
    // A longer stop still pending does not hold back past a completed one.
    let mut m = StopMatcher::new(stops(&["abcdef", "cd"]));
    assert_eq!(run(&mut m, &["ab", "cd", "ef"]), ("ab".to_string(), true));
}

#[test]
fn whole_stream_equivalence_under_any_chunking() {
    let text = "The answer is 42.\nUser: thanks\nAssistant: you're welcome";
    let stop_list = ["\nUser:", "Assistant:"];
    let want = "The answer is 42.";
    // Every split into byte-sized and 3-byte chunks gives the same output.
    for size in 1..=7 {
        let bytes = text.as_bytes();
        let chunks: Vec<&str> = bytes
            .chunks(size)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let mut m = StopMatcher::new(stops(&stop_list));
        assert_eq!(
            run(&mut m, &chunks),
            (want.to_string(), true),
            "chunk size {size}"
        );
    }
}

#[test]
fn multibyte_text_and_stops() {
    let mut m = StopMatcher::new(stops(&["ñé"]));
    assert_eq!(m.push("año ñ"), ("año ".to_string(), false));
    assert_eq!(m.push("o"), ("ño".to_string(), false));
    assert_eq!(m.push("ñé!"), (String::new(), true));
    let mut m = StopMatcher::new(stops(&["🙂x"]));
    assert_eq!(run(&mut m, &["a🙂", "b🙂"]), ("a🙂b🙂".to_string(), false));
}

#[test]
fn no_stops_passes_through_and_empty_stop_ignored() {
    let mut m = StopMatcher::new(vec![]);
    assert_eq!(m.push("anything"), ("anything".to_string(), false));
    let mut m = StopMatcher::new(stops(&[""]));
    assert_eq!(m.push("text"), ("text".to_string(), false));
    assert_eq!(m.flush(), "");
}

#[test]
fn reset_clears_state() {
    let mut m = StopMatcher::new(stops(&["x"]));
    assert_eq!(m.push("ax"), ("a".to_string(), true));
    m.reset();
    assert!(!m.stopped());
    assert_eq!(m.push("bc"), ("bc".to_string(), false));
}
