//! Encoding text to token ids: special-token partition, SentencePiece and
//! byte-level BPE (llama.cpp `tokenizer_st_partition`, `llm_tokenizer_spm`,
//! `llm_tokenizer_bpe`).

use super::*;

#[derive(Clone, Copy, Debug)]
enum Frag {
    Raw(usize, usize),
    Tok(u32),
}

impl Tokenizer {
    /// Tokenizes like llama.cpp's `llama_tokenize(text, add_special = add_bos, parse_special)`.
    /// `add_bos` adds BOS (and EOS when the model asks for it) only if the model's
    /// `add_bos_token` says so — use [`Tokenizer::encode_with_bos`] to force it.
    pub fn encode(&self, text: &str, add_bos: bool, parse_special: bool) -> Vec<u32> {
        let text = truncate(text);
        let frags = self.partition(text, parse_special, None);
        self.encode_frags(text, &frags, add_bos)
    }

    /// Encodes `text` with BOS forced on/off regardless of `add_bos_token`.
    pub fn encode_with_bos(&self, text: &str, bos: bool, parse_special: bool) -> Vec<u32> {
        let mut v = self.encode(text, false, parse_special);
        if let (true, Some(b)) = (bos, self.bos) {
            v.insert(0, b);
        }
        v
    }

    /// Tokenizes a rendered chat: special tokens are recognised in the
    /// template-authored text only, never inside message contents. BOS is
    /// added when the model wants it, unless the text already starts with it.
    pub fn encode_chat(&self, chat: &RenderedChat) -> Vec<u32> {
        let text = truncate(&chat.text);
        let frags = self.partition(text, true, Some(&chat.content_ranges));
        let mut out = self.encode_frags(text, &frags, false);
        if self.add_bos() {
            let b = self.bos.unwrap();
            if out.first() != Some(&b) {
                out.insert(0, b);
            }
        }
        if self.add_eos() {
            out.push(self.eos.unwrap());
        }
        out
    }

    fn encode_frags(&self, text: &str, frags: &[Frag], add_special: bool) -> Vec<u32> {
        let mut out = Vec::new();
        match self.kind {
            ModelKind::Spm => {
                if add_special && self.add_bos {
                    out.extend(self.bos);
                }
                let mut prev_special = true;
                let mut buf = String::new();
                for f in frags {
                    match *f {
                        Frag::Raw(s, e) => {
                            buf.clear();
                            if self.add_space_prefix && prev_special {
                                buf.push(' ');
                            }
                            buf.push_str(&text[s..e]);
                            let esc = buf.replace(' ', "\u{2581}");
                            self.spm_tokenize(&esc, &mut out);
                            prev_special = false;
                        }
                        Frag::Tok(t) => {
                            out.push(t);
                            prev_special = true;
                        }
                    }
                }
                if add_special && self.add_eos {
                    out.extend(self.eos);
                }
            }
            ModelKind::Bpe => {
                if add_special && self.add_bos {
                    out.extend(self.bos);
                }
                for f in frags {
                    match *f {
                        Frag::Raw(s, e) => self.bpe_tokenize(&text[s..e], &mut out),
                        Frag::Tok(t) => out.push(t),
                    }
                }
                if add_special && self.add_eos {
                    out.extend(self.eos);
                }
            }
            // llama.cpp: `[CLS] text [SEP]` whenever special tokens are asked for
            ModelKind::Wpm => {
                if add_special {
                    out.extend(self.bos);
                }
                for f in frags {
                    match *f {
                        Frag::Raw(s, e) => self.wpm_tokenize(&text[s..e], &mut out),
                        Frag::Tok(t) => out.push(t),
                    }
                }
                if add_special {
                    out.extend(self.sep);
                }
            }
        }
        out
    }

    /// llama.cpp `tokenizer_st_partition`: for each special token (longest
    /// first) split every raw fragment at its occurrences. `protect` lists byte
    /// ranges where no special token may match.
    fn partition(
        &self,
        text: &str,
        parse_special: bool,
        protect: Option<&[(usize, usize)]>,
    ) -> Vec<Frag> {
        if text.is_empty() {
            return Vec::new();
        }
        let bytes = text.as_bytes();
        let masked: Option<Vec<u8>> = protect.filter(|p| !p.is_empty()).map(|p| {
            let mut m = bytes.to_vec();
            for &(s, e) in p {
                let e = e.min(m.len());
                for b in &mut m[s.min(e)..e] {
                    *b = 0xFF; // never part of valid UTF-8 token text
                }
            }
            m
        });
        // Control/unknown tokens never match inside protected (user-content)
        // ranges; user-defined tokens match everywhere, as llama.cpp does even
        // with parse_special = false.
        let masked_hay: &[u8] = masked.as_deref().unwrap_or(bytes);
        let hay: &[u8] = bytes;
        // Which special-token texts occur at all? (avoids scanning the text once per special token)
        let special = &self.special;
        let mut present: Vec<bool> = vec![false; special.ids.len()];
        let mut any = false;
        if !special.ids.is_empty() {
            let mut present_ids: std::collections::HashSet<u32> = std::collections::HashSet::new();
            for i in 0..hay.len() {
                if !special.first[hay[i] as usize] {
                    continue;
                }
                for &l in &special.lens {
                    if i + l <= hay.len() {
                        if let Ok(s) = std::str::from_utf8(&hay[i..i + l]) {
                            if let Some(&id) = self.tokens.get(s) {
                                present_ids.insert(id);
                            }
                        }
                    }
                }
            }
            for (k, &id) in special.ids.iter().enumerate() {
                if present_ids.contains(&id) {
                    present[k] = true;
                    any = true;
                }
            }
        }
        let mut frags = vec![Frag::Raw(0, text.len())];
        if !any {
            return frags;
        }
        for (k, &sid) in special.ids.iter().enumerate() {
            if !present[k] {
                continue;
            }
            let attr = self.attrs[sid as usize];
            if !parse_special && attr & (ATTR_CONTROL | ATTR_UNKNOWN) != 0 {
                continue;
            }
            let tt = self.tokens[sid as usize].as_bytes();
            let hay = if attr & (ATTR_CONTROL | ATTR_UNKNOWN) != 0 {
                masked_hay
            } else {
                hay
            };
            let mut next = Vec::with_capacity(frags.len() + 2);
            for fr in frags {
                let Frag::Raw(mut s, e) = fr else {
                    next.push(fr);
                    continue;
                };
                loop {
                    let Some(m) = find(&hay[s..e], tt).map(|p| p + s) else {
                        next.push(Frag::Raw(s, e));
                        break;
                    };
                    if m > s {
                        let mut l = m - s;
                        if attr & ATTR_LSTRIP != 0 {
                            while l > 0 && is_c_space(bytes[s + l - 1]) {
                                l -= 1;
                            }
                        }
                        if l > 0 {
                            next.push(Frag::Raw(s, s + l));
                        }
                    }
                    next.push(Frag::Tok(sid));
                    let mut r = m + tt.len();
                    if r < e {
                        if attr & ATTR_RSTRIP != 0 {
                            while r < e && is_c_space(bytes[r]) {
                                r += 1;
                            }
                        }
                        if r >= e {
                            break;
                        }
                        s = r;
                    } else {
                        break;
                    }
                }
            }
            frags = next;
        }
        frags
    }

    /// llama.cpp `llm_tokenizer_spm_session::tokenize` on already escaped text.
    fn spm_tokenize(&self, text: &str, out: &mut Vec<u32>) {
        if text.is_empty() {
            return;
        }
        #[derive(Clone, Copy)]
        struct Sym {
            start: usize,
            n: usize,
            prev: isize,
            next: isize,
        }
        #[derive(PartialEq)]
        struct Big {
            score: f32,
            left: usize,
            right: usize,
            size: usize,
        }
        impl Eq for Big {}
        impl PartialOrd for Big {
            fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
                Some(self.cmp(o))
            }
        }
        impl Ord for Big {
            fn cmp(&self, o: &Self) -> Ordering {
                // max score first, then lowest left
                self.score
                    .partial_cmp(&o.score)
                    .unwrap_or(Ordering::Equal)
                    .then(o.left.cmp(&self.left))
            }
        }
        let mut syms: Vec<Sym> = Vec::with_capacity(text.len());
        let idxs: Vec<(usize, char)> = text.char_indices().collect();
        for (k, &(bi, c)) in idxs.iter().enumerate() {
            syms.push(Sym {
                start: bi,
                n: c.len_utf8(),
                prev: k as isize - 1,
                next: if k + 1 == idxs.len() {
                    -1
                } else {
                    k as isize + 1
                },
            });
        }
        let mut heap = BinaryHeap::new();
        let try_add = |l: isize, r: isize, syms: &[Sym], heap: &mut BinaryHeap<Big>| {
            if l < 0 || r < 0 {
                return;
            }
            let (ls, rs) = (syms[l as usize], syms[r as usize]);
            let s = &text[ls.start..rs.start + rs.n];
            if let Some(&id) = self.tokens.get(s) {
                heap.push(Big {
                    score: self.scores[id as usize],
                    left: l as usize,
                    right: r as usize,
                    size: s.len(),
                });
            }
        };
        for i in 1..syms.len() {
            try_add(i as isize - 1, i as isize, &syms, &mut heap);
        }
        while let Some(b) = heap.pop() {
            let (l, r) = (syms[b.left], syms[b.right]);
            if l.n == 0 || r.n == 0 || l.n + r.n != b.size {
                continue;
            }
            syms[b.left].n += r.n;
            syms[b.right].n = 0;
            syms[b.left].next = r.next;
            if r.next >= 0 {
                syms[r.next as usize].prev = b.left as isize;
            }
            let lp = syms[b.left].prev;
            let ln = syms[b.left].next;
            try_add(lp, b.left as isize, &syms, &mut heap);
            try_add(b.left as isize, ln, &syms, &mut heap);
        }
        let mut i: isize = 0;
        while i != -1 {
            let s = syms[i as usize];
            let piece = &text[s.start..s.start + s.n];
            if let Some(&id) = self.tokens.get(piece) {
                out.push(id);
            } else {
                for &b in piece.as_bytes() {
                    if let Some(t) = self.byte_tokens[b as usize] {
                        out.push(t);
                    }
                }
            }
            i = s.next;
        }
    }

    /// llama.cpp `llm_tokenizer_bpe_session::tokenize`.
    fn bpe_tokenize(&self, text: &str, out: &mut Vec<u32>) {
        let escaped;
        let text = if self.pre.escape_ws {
            escaped = text.replace(' ', "\u{2581}");
            &escaped
        } else {
            text
        };
        let map = byte_map();
        let mut word_enc = String::new();
        for word in crate::split::split(text, &self.pre.stages) {
            // a whole piece that is a token: llama3's ignore_merges, gemma4's newline runs
            if self.pre.ignore_merges
                || (self.pre.newline_tokens && word.bytes().all(|b| b == b'\n'))
            {
                let key = if self.pre.byte_encode {
                    word_enc.clear();
                    word_enc.extend(word.bytes().map(|b| map[b as usize]));
                    word_enc.as_str()
                } else {
                    word
                };
                if let Some(&id) = self.tokens.get(key) {
                    out.push(id);
                    continue;
                }
            }
            self.bpe_word(word, out);
        }
    }

    /// Merges one piece: its symbols start as bytes (byte-level BPE, each
    /// byte's GPT-2 character) or characters (SentencePiece-style BPE), the
    /// lowest-ranked adjacent pair merges first (leftmost on ties). A final
    /// symbol that is no token is written as `<0xNN>` byte tokens
    /// (SentencePiece-style) or dropped (byte-level: its byte has no token).
    fn bpe_word(&self, word: &str, out: &mut Vec<u32>) {
        #[derive(Clone, Copy)]
        struct Sym {
            id: Option<u32>,
            start: usize,
            end: usize,
            prev: isize,
            next: isize,
        }
        let spans: Vec<(usize, usize)> = if self.pre.byte_encode {
            (0..word.len()).map(|i| (i, i + 1)).collect()
        } else {
            word.char_indices()
                .map(|(i, c)| (i, i + c.len_utf8()))
                .collect()
        };
        let n = spans.len() as isize;
        let mut syms: Vec<Sym> = spans
            .iter()
            .enumerate()
            .map(|(i, &(start, end))| Sym {
                id: if self.pre.byte_encode {
                    self.byte_tokens[word.as_bytes()[start] as usize]
                } else {
                    self.tokens.get(&word[start..end]).copied()
                },
                start,
                end,
                prev: i as isize - 1,
                next: if i as isize + 1 == n {
                    -1
                } else {
                    i as isize + 1
                },
            })
            .collect();
        type Heap = BinaryHeap<std::cmp::Reverse<(u32, usize, u32, u32, usize)>>;
        // (rank, left, left id, right id, right), smallest rank then leftmost first
        let mut heap: Heap = BinaryHeap::new();
        let add = |l: isize, r: isize, syms: &[Sym], heap: &mut Heap| {
            if l < 0 || r < 0 {
                return;
            }
            let (Some(a), Some(b)) = (syms[l as usize].id, syms[r as usize].id) else {
                return;
            };
            if let Some(&rank) = self.merges.get(&(a, b)) {
                heap.push(std::cmp::Reverse((rank, l as usize, a, b, r as usize)));
            }
        };
        for i in 1..syms.len() {
            add(i as isize - 1, i as isize, &syms, &mut heap);
        }
        let mut alive = vec![true; syms.len()];
        let mut cat = String::new();
        while let Some(std::cmp::Reverse((_, l, a, b, r))) = heap.pop() {
            if !alive[l]
                || !alive[r]
                || syms[l].id != Some(a)
                || syms[r].id != Some(b)
                || syms[l].next != r as isize
            {
                continue;
            }
            // the merged text must be a token (llama.cpp would emit it byte-wise otherwise)
            cat.clear();
            cat.push_str(self.tokens.text(a as usize));
            cat.push_str(self.tokens.text(b as usize));
            let Some(&merged) = self.tokens.get(&cat) else {
                continue;
            };
            syms[l].id = Some(merged);
            syms[l].end = syms[r].end;
            alive[r] = false;
            let rn = syms[r].next;
            syms[l].next = rn;
            if rn >= 0 {
                syms[rn as usize].prev = l as isize;
            }
            let lp = syms[l].prev;
            add(lp, l as isize, &syms, &mut heap);
            add(l as isize, rn, &syms, &mut heap);
        }
        let mut i: isize = if syms.is_empty() { -1 } else { 0 };
        while i != -1 {
            let s = syms[i as usize];
            match s.id {
                Some(id) => out.push(id),
                None if !self.pre.byte_encode => {
                    let bytes = &word.as_bytes()[s.start..s.end];
                    out.extend(bytes.iter().filter_map(|&b| self.byte_tokens[b as usize]));
                }
                None => {}
            }
            i = s.next;
        }
    }
}

/// C's `isspace` (what llama.cpp's lstrip/rstrip test): ASCII whitespace
/// including vertical tab.
fn is_c_space(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0x0B
}

fn byte_map() -> &'static [char; 256] {
    static M: std::sync::OnceLock<[char; 256]> = std::sync::OnceLock::new();
    M.get_or_init(unicode::byte_to_unicode)
}

fn truncate(text: &str) -> &str {
    if text.len() <= MAX_TEXT_BYTES {
        return text;
    }
    let mut e = MAX_TEXT_BYTES;
    while !text.is_char_boundary(e) {
        e -= 1;
    }
    &text[..e]
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match hay[i..hay.len() - needle.len() + 1]
            .iter()
            .position(|&b| b == first)
        {
            None => return None,
            Some(p) => {
                let j = i + p;
                if &hay[j..j + needle.len()] == needle {
                    return Some(j);
                }
                i = j + 1;
            }
        }
    }
    None
}
