//! A MeCab-ko-compatible Viterbi search over lindera's compiled mecab-ko-dic.
//!
//! lindera's own `Segmenter` differs from MeCab in two ways that matter for
//! Korean, where words are separated by spaces:
//!
//! * it puts whitespace into the lattice as `SP` unknown words with their own
//!   context ids, so the word after a space connects to `SP` rather than to
//!   the word before the space; MeCab skips the whitespace and connects the
//!   two words directly (charging mecab-ko's left-space penalty instead);
//! * it does not start unknown-word candidates inside an unknown word it has
//!   already grouped, where MeCab does (MeCab splits `...` as `.` + `..`).
//!
//! This module reproduces MeCab's `Tokenizer::lookup` and `Viterbi::connect`
//! on lindera's data structures (trie, unknown dictionary, character
//! definitions, connection matrix, user dictionary), so that analyses match
//! MeCab-ko's; lindera's segmenter remains available as
//! [`Engine::Lindera`](super::Engine::Lindera).

use lindera::dictionary::{Dictionary, UserDictionary};
use lindera_dictionary::dictionary::character_definition::CategoryId;
use lindera_dictionary::space_penalty::SpacePenaltyTable;
use lindera_dictionary::viterbi::{LexType, WordId};

/// MeCab's default `max-grouping-size`: runs of more than 1 + 24 characters
/// of one category are not grouped into a single unknown word.
const MAX_GROUPING: usize = 24;

/// Bytes of one serialized word entry: id u32, cost i16, left u16, right u16.
const ENTRY_LEN: usize = 10;

/// Longest text searched as one lattice (see [`Lexicon::analyze`]).
const MAX_CHUNK_BYTES: usize = 64 * 1024;

/// Marks "no predecessor".
const NONE: u32 = u32::MAX;

/// The dictionaries and derived tables the search reads, prepared once.
pub(crate) struct Lexicon {
    dictionary: Dictionary,
    user: Option<UserDictionary>,
    space_penalty: Option<SpacePenaltyTable>,
    space_mask: u64,
}

/// A character's categories as a bit set plus MeCab's default (first) category.
#[derive(Clone, Copy, Default)]
struct CharInfo {
    mask: u64,
    default: u32,
}

/// A lattice node: a candidate morpheme and its best path so far.
#[derive(Clone, Copy)]
struct Node {
    /// First and one-past-last character of the surface (after any spaces).
    start: u32,
    end: u32,
    left_id: u16,
    right_id: u16,
    /// Word cost plus the left-space penalty when preceded by whitespace.
    word_cost: i32,
    word_id: WordId,
    /// The best predecessor's node index.
    prev: u32,
}

/// A node as seen from the nodes that may follow it: what `connect` reads,
/// packed contiguously per end position.
#[derive(Clone, Copy)]
struct Ending {
    right_id: u16,
    node: u32,
    /// Best path cost from BOS through the node.
    path_cost: i64,
}

/// One morpheme of the best path: byte range and dictionary word id.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Piece {
    pub start: usize,
    pub end: usize,
    pub word_id: WordId,
}

/// Reusable buffers for one search at a time.
#[derive(Default)]
pub(crate) struct Workspace {
    chars: Vec<char>,
    /// Byte offset of every character, plus the text length.
    offsets: Vec<usize>,
    info: Vec<CharInfo>,
    nodes: Vec<Node>,
    /// Per position, the nodes ending there in insertion order (MeCab's
    /// `end_node_list` read backwards). Inner vectors keep their capacity.
    endings: Vec<Vec<Ending>>,
    /// User dictionary matches (start char, end char, entry bytes offset), by start.
    user_matches: Vec<(u32, u32, usize)>,
    /// Node indices of the best path, in text order.
    best: Vec<u32>,
    /// Per node of the word being searched (see [`Lexicon::word_paths`]):
    /// best cost to the word's end and the next node on that path.
    to_end: Vec<(i64, u32)>,
}

/// One space-delimited word of the best path and its other analyses.
#[derive(Clone, Debug, Default)]
pub(crate) struct Word {
    /// The word's pieces in the best analysis (indices into the best pieces).
    pub best: std::ops::Range<usize>,
    /// Its other analyses within the cost margin (indices into [`Alternatives::paths`]).
    pub paths: std::ops::Range<usize>,
}

/// Another analysis of a word: its pieces and its cost above the best one.
#[derive(Clone, Debug)]
pub(crate) struct Path {
    /// Indices into [`Alternatives::pieces`].
    pub pieces: std::ops::Range<usize>,
    /// Path cost minus the word's best path cost (≥ 0).
    pub extra: i64,
}

/// The words of a text and, for the words asked about, their k-best analyses.
#[derive(Default)]
pub(crate) struct Alternatives {
    pub words: Vec<Word>,
    pub paths: Vec<Path>,
    pub pieces: Vec<Piece>,
}

impl Alternatives {
    fn clear(&mut self) {
        self.words.clear();
        self.paths.clear();
        self.pieces.clear();
    }
}

impl Lexicon {
    /// Prepares the search for `dictionary` and an optional user dictionary
    /// compiled against it (in mecab-ko-dic's original context ids).
    ///
    /// Fails when the dictionary ships left-space penalty rules its schema
    /// cannot apply (no part-of-speech field).
    pub(crate) fn new(
        dictionary: Dictionary,
        user: Option<UserDictionary>,
    ) -> Result<Self, lindera::error::LinderaError> {
        // lindera's builder relabels context ids for cache locality; user
        // entries must follow the same permutation.
        let user = user.map(|mut user| {
            if let Some(map) = &dictionary.metadata.context_id_map {
                user.remap_context_ids(map);
            }
            user
        });
        let space_penalty = match &dictionary.metadata.space_penalty {
            Some(config) => Some(SpacePenaltyTable::build(config, &dictionary, user.as_ref())?),
            None => None,
        };
        let space_mask = dictionary.character_definition.category_id_by_name("SPACE").map_or(0, category_bit);
        Ok(Self { dictionary, user, space_penalty, space_mask })
    }

    /// The system dictionary.
    pub(crate) fn dictionary(&self) -> &Dictionary {
        &self.dictionary
    }

    /// The user dictionary, if any.
    pub(crate) fn user(&self) -> Option<&UserDictionary> {
        self.user.as_ref()
    }

    /// Appends the best analysis of `text` to `out`.
    ///
    /// Texts longer than [`MAX_CHUNK_BYTES`] are analysed in chunks cut at
    /// whitespace, which bounds the lattice's memory; shorter texts (every
    /// review, sentence or paragraph) are one lattice, as in MeCab.
    pub(crate) fn analyze(&self, text: &str, ws: &mut Workspace, out: &mut Vec<Piece>) {
        self.analyze_each_chunk(text, ws, out, |_, _, _, _| {});
    }

    /// [`analyze`](Self::analyze), and for each space-delimited word whose
    /// first best piece `wanted` accepts (offsets in `text`), every analysis of the word whose
    /// first morpheme differs from the best one's and whose cost is within
    /// `margin` of the best (the best path through each first morpheme).
    /// The word's neighbours stay as in the best path.
    pub(crate) fn analyze_alternatives(
        &self,
        text: &str,
        ws: &mut Workspace,
        out: &mut Vec<Piece>,
        alternatives: &mut Alternatives,
        margin: i64,
        wanted: impl Fn(&Piece) -> bool,
    ) {
        alternatives.clear();
        self.analyze_each_chunk(text, ws, out, |lexicon, ws, first_piece, offset| {
            lexicon.word_alternatives(ws, first_piece, offset, margin, &wanted, alternatives);
        });
    }

    /// Analyses `text` chunk by chunk, calling `after_chunk(self, ws, index of
    /// the chunk's first piece in out, byte offset of the chunk)` while the
    /// chunk's lattice is still in `ws`.
    fn analyze_each_chunk(
        &self,
        text: &str,
        ws: &mut Workspace,
        out: &mut Vec<Piece>,
        mut after_chunk: impl FnMut(&Self, &mut Workspace, usize, usize),
    ) {
        let mut rest = text;
        while !rest.is_empty() {
            let chunk = chunk_at_whitespace(rest);
            let offset = chunk.as_ptr() as usize - text.as_ptr() as usize;
            let first = out.len();
            self.analyze_chunk(chunk, ws, out);
            for piece in &mut out[first..] {
                piece.start += offset;
                piece.end += offset;
            }
            after_chunk(self, ws, first, offset);
            rest = &rest[chunk.len()..];
        }
    }

    /// Splits the chunk's best path into words and searches the wanted ones.
    fn word_alternatives(
        &self,
        ws: &mut Workspace,
        first_piece: usize,
        offset: usize,
        margin: i64,
        wanted: &impl Fn(&Piece) -> bool,
        alternatives: &mut Alternatives,
    ) {
        let mut begin = 0;
        while begin < ws.best.len() {
            let mut end = begin + 1;
            while end < ws.best.len()
                && ws.nodes[ws.best[end] as usize].start == ws.nodes[ws.best[end - 1] as usize].end
            {
                end += 1;
            }
            let first_path = alternatives.paths.len();
            let first = ws.nodes[ws.best[begin] as usize];
            let piece = Piece {
                start: ws.offsets[first.start as usize] + offset,
                end: ws.offsets[first.end as usize] + offset,
                word_id: first.word_id,
            };
            if wanted(&piece) {
                self.word_paths(ws, begin..end, offset, margin, alternatives);
            }
            alternatives.words.push(Word {
                best: first_piece + begin..first_piece + end,
                paths: first_path..alternatives.paths.len(),
            });
            begin = end;
        }
    }

    /// The best path through every other first node of the word made of the
    /// best nodes `word`, within `margin` of the best: a backward Viterbi pass
    /// over the word's nodes (cost to the word's end, the right neighbour's
    /// connection included), then one path per first node.
    fn word_paths(
        &self,
        ws: &mut Workspace,
        word: std::ops::Range<usize>,
        offset: usize,
        margin: i64,
        alternatives: &mut Alternatives,
    ) {
        let first_best = ws.best[word.start];
        let (start, end) = (ws.nodes[first_best as usize].start, ws.nodes[ws.best[word.end - 1] as usize].end);
        let left = if word.start == 0 { 0 } else { ws.nodes[ws.best[word.start - 1] as usize].right_id };
        let right = ws.best.get(word.end).map_or(0, |&next| ws.nodes[next as usize].left_id);
        // Nodes are stored in order of their start; the word's are one run.
        let from = 1 + ws.nodes[1..].partition_point(|n| n.start < start);
        let to = from + ws.nodes[from..].partition_point(|n| n.start < end);
        ws.to_end.clear();
        ws.to_end.resize(to - from, (i64::MAX, NONE));
        for index in (from..to).rev() {
            let node = ws.nodes[index];
            let to_end = if node.end > end {
                (i64::MAX, NONE)
            } else if node.end == end {
                (i64::from(self.connection(node.right_id, right)), NONE)
            } else {
                self.best_successor(ws, node, from, to)
            };
            ws.to_end[index - from] = to_end;
        }
        let total_from_start = |index: usize| {
            let node = ws.nodes[index];
            let (rest, _) = ws.to_end[index - from];
            (node.start == start && rest != i64::MAX)
                .then(|| i64::from(self.connection(left, node.left_id)) + i64::from(node.word_cost) + rest)
        };
        let Some(best_total) = (from..to).filter_map(total_from_start).min() else { return };
        for index in from..to {
            let Some(total) = total_from_start(index) else { continue };
            if index as u32 == first_best || total > best_total + margin {
                continue;
            }
            let first = alternatives.pieces.len();
            let mut at = index as u32;
            while at != NONE {
                let node = ws.nodes[at as usize];
                alternatives.pieces.push(Piece {
                    start: ws.offsets[node.start as usize] + offset,
                    end: ws.offsets[node.end as usize] + offset,
                    word_id: node.word_id,
                });
                at = ws.to_end[at as usize - from].1;
            }
            alternatives.paths.push(Path { pieces: first..alternatives.pieces.len(), extra: total - best_total });
        }
    }

    /// The cheapest way on from `node` to the word's end through the nodes
    /// `from..to` that start where it ends.
    fn best_successor(&self, ws: &Workspace, node: Node, from: usize, to: usize) -> (i64, u32) {
        let lo = from + ws.nodes[from..to].partition_point(|n| n.start < node.end);
        let row_of = |next: &Node| self.connection(node.right_id, next.left_id);
        let mut best = (i64::MAX, NONE);
        for next in lo..to {
            let candidate = ws.nodes[next];
            if candidate.start != node.end {
                break;
            }
            let (rest, _) = ws.to_end[next - from];
            if rest == i64::MAX {
                continue;
            }
            let cost = i64::from(row_of(&candidate)) + i64::from(candidate.word_cost) + rest;
            if cost < best.0 {
                best = (cost, next as u32);
            }
        }
        best
    }

    /// The connection cost from a node with `right_id` to one with `left_id`.
    fn connection(&self, right_id: u16, left_id: u16) -> i16 {
        self.matrix_row(left_id).get(usize::from(right_id)).copied().unwrap_or(0)
    }

    fn analyze_chunk(&self, text: &str, ws: &mut Workspace, out: &mut Vec<Piece>) {
        self.prepare(text, ws);
        let n = ws.chars.len();
        for pos in 0..n {
            if ws.endings[pos].is_empty() {
                continue;
            }
            let Some(begin) = (pos..n).find(|&i| ws.info[i].mask & self.space_mask == 0) else {
                break; // only whitespace remains
            };
            let first = ws.nodes.len();
            self.lookup(ws, begin);
            if begin > pos {
                self.charge_space_penalty(&mut ws.nodes[first..]);
            }
            self.connect(ws, pos, first);
        }
        self.backtrack(ws, out);
    }

    /// Fills the per-character tables and resets the lattice to BOS.
    fn prepare(&self, text: &str, ws: &mut Workspace) {
        ws.chars.clear();
        ws.offsets.clear();
        ws.info.clear();
        for (offset, c) in text.char_indices() {
            ws.chars.push(c);
            ws.offsets.push(offset);
            ws.info.push(self.char_info(c));
        }
        ws.offsets.push(text.len());
        let n = ws.chars.len();
        if ws.endings.len() < n + 1 {
            ws.endings.resize_with(n + 1, Vec::new);
        }
        for endings in &mut ws.endings[..=n] {
            endings.clear();
        }
        ws.nodes.clear();
        ws.nodes.push(Node {
            start: 0,
            end: 0,
            left_id: 0,
            right_id: 0,
            word_cost: 0,
            word_id: WordId::new(LexType::System, 0),
            prev: NONE,
        });
        ws.endings[0].push(Ending { right_id: 0, node: 0, path_cost: 0 });
        self.find_user_matches(text, ws);
    }

    fn char_info(&self, c: char) -> CharInfo {
        let categories = self.dictionary.character_definition.lookup_categories(c);
        CharInfo {
            mask: categories.iter().fold(0, |mask, &id| mask | category_bit(id)),
            default: categories.first().map_or(0, |id| id.0 as u32),
        }
    }

    /// Records every user dictionary match, sorted by start character.
    fn find_user_matches(&self, text: &str, ws: &mut Workspace) {
        ws.user_matches.clear();
        let Some(user) = &self.user else { return };
        for m in user.dict.da.find_overlapping_iter(text) {
            let (Ok(start), Ok(end)) = (ws.offsets.binary_search(&m.start()), ws.offsets.binary_search(&m.end()))
            else {
                continue;
            };
            let (offset, count) = user.dict.decode_val(m.value());
            for k in 0..count as usize {
                let at = (offset as usize + k) * ENTRY_LEN;
                ws.user_matches.push((start as u32, end as u32, at));
            }
        }
        ws.user_matches.sort_by_key(|&(start, _, _)| start);
    }

    /// MeCab's `Tokenizer::lookup`: pushes the candidates starting at
    /// character `begin` (dictionary words, then unknown words).
    fn lookup(&self, ws: &mut Workspace, begin: usize) {
        let Workspace { chars, info, nodes, user_matches, .. } = ws;
        let dictionary = &self.dictionary;
        let first = nodes.len();
        for (entries, len) in dictionary.prefix_dictionary.common_prefix_search(&chars[begin..]) {
            for entry in entries.chunks_exact(ENTRY_LEN) {
                nodes.push(node_from_entry(entry, LexType::System, begin, begin + len));
            }
        }
        if let Some(user) = &self.user {
            let from = user_matches.partition_point(|&(start, _, _)| (start as usize) < begin);
            for &(start, end, at) in &user_matches[from..] {
                if start as usize != begin {
                    break;
                }
                if let Some(entry) = user.dict.vals_data.get(at..at + ENTRY_LEN) {
                    nodes.push(node_from_entry(entry, LexType::User, begin, end as usize));
                }
            }
        }
        let char_info = info[begin];
        let category = CategoryId(char_info.default as usize);
        let definition = dictionary.character_definition.lookup_definition(category);
        if nodes.len() > first && !definition.invoke {
            return;
        }
        let n = chars.len();
        let mut group_end = None;
        if definition.group {
            // Scan no further than the longest group that could be added or end the length
            // loop below: scanning to the end of the run from every position made a long
            // run of one category (60 000 lone jamo, 40 000 `a`) quadratic.
            let limit = n.min(begin + 2 + MAX_GROUPING.max(definition.length as usize));
            let mut end = begin + 1;
            let mut previous = char_info.mask;
            while end < limit && previous & info[end].mask != 0 {
                previous = info[end].mask;
                end += 1;
            }
            let run_continues = end < n && previous & info[end].mask != 0;
            if !run_continues {
                if end - (begin + 1) <= MAX_GROUPING {
                    self.add_unknown(nodes, category, begin, end);
                }
                group_end = Some(end);
            }
        }
        for end in (begin + 1..=n).take(definition.length as usize) {
            if Some(end) == group_end {
                break;
            }
            self.add_unknown(nodes, category, begin, end);
            if end >= n || char_info.mask & info[end].mask == 0 {
                break;
            }
        }
        if nodes.len() == first {
            self.add_unknown(nodes, category, begin, begin + 1);
        }
    }

    fn add_unknown(&self, nodes: &mut Vec<Node>, category: CategoryId, begin: usize, end: usize) {
        let unknown = &self.dictionary.unknown_dictionary;
        for &id in unknown.lookup_word_ids(category) {
            let entry = unknown.word_entry(id);
            nodes.push(Node {
                start: begin as u32,
                end: end as u32,
                left_id: entry.left_id() as u16,
                right_id: entry.right_id() as u16,
                word_cost: i32::from(entry.word_cost()),
                word_id: WordId::new(LexType::Unknown, id),
                prev: NONE,
            });
        }
    }

    /// mecab-ko's left-space penalty for candidates that follow whitespace.
    fn charge_space_penalty(&self, nodes: &mut [Node]) {
        if let Some(table) = &self.space_penalty {
            for node in nodes {
                node.word_cost += table.cost(node.word_id);
            }
        }
    }

    /// MeCab's `connect`: links each new node (last pushed first) to its best
    /// predecessor ending at `pos` (last inserted first, first minimum wins),
    /// then files it under its end position.
    fn connect(&self, ws: &mut Workspace, pos: usize, first: usize) {
        for index in (first..ws.nodes.len()).rev() {
            let node = ws.nodes[index];
            let row = self.matrix_row(node.left_id);
            let mut best_cost = i64::MAX;
            let mut best = &ws.endings[pos][0];
            for ending in ws.endings[pos].iter().rev() {
                let connection = row.get(usize::from(ending.right_id)).copied().unwrap_or(0);
                let cost = ending.path_cost + i64::from(connection);
                if cost < best_cost {
                    best_cost = cost;
                    best = ending;
                }
            }
            let prev = best.node;
            ws.nodes[index].prev = prev;
            ws.endings[node.end as usize].push(Ending {
                right_id: node.right_id,
                node: index as u32,
                path_cost: best_cost + i64::from(node.word_cost),
            });
        }
    }

    /// Connection costs from every right context id to `left_id` (empty for
    /// an id outside a malformed matrix, which then costs nothing).
    fn matrix_row(&self, left_id: u16) -> &[i16] {
        let matrix = &self.dictionary.connection_cost_matrix;
        let width = matrix.forward_size as usize;
        let start = usize::from(left_id) * width;
        matrix.costs().get(start..start + width).unwrap_or(&[])
    }

    /// Connects EOS to the last position reached and walks the best path back.
    fn backtrack(&self, ws: &mut Workspace, out: &mut Vec<Piece>) {
        let Some(last) = (1..ws.endings.len().min(ws.chars.len() + 1)).rev().find(|&p| !ws.endings[p].is_empty())
        else {
            return;
        };
        let eos_row = self.matrix_row(0);
        let mut best_cost = i64::MAX;
        let mut best = NONE;
        for ending in ws.endings[last].iter().rev() {
            let connection = eos_row.get(usize::from(ending.right_id)).copied().unwrap_or(0);
            let cost = ending.path_cost + i64::from(connection);
            if cost < best_cost {
                best_cost = cost;
                best = ending.node;
            }
        }
        let first_piece = out.len();
        ws.best.clear();
        while best != NONE && best != 0 {
            ws.best.push(best);
            let n = &ws.nodes[best as usize];
            out.push(Piece {
                start: ws.offsets[n.start as usize],
                end: ws.offsets[n.end as usize],
                word_id: n.word_id,
            });
            best = n.prev;
        }
        out[first_piece..].reverse();
        ws.best.reverse();
    }
}

/// The longest prefix of `text` within [`MAX_CHUNK_BYTES`] that ends after a
/// whitespace character (or at a character boundary when there is none).
fn chunk_at_whitespace(text: &str) -> &str {
    if text.len() <= MAX_CHUNK_BYTES {
        return text;
    }
    let mut limit = MAX_CHUNK_BYTES;
    while !text.is_char_boundary(limit) {
        limit -= 1;
    }
    let head = &text[..limit];
    match head.rfind(char::is_whitespace) {
        Some(at) if at > 0 => &text[..at + head[at..].chars().next().map_or(1, char::len_utf8)],
        _ => head,
    }
}

fn category_bit(id: CategoryId) -> u64 {
    if id.0 < 64 { 1 << id.0 } else { 0 }
}

/// Decodes a serialized word entry (little endian id, cost, left id, right id).
fn node_from_entry(entry: &[u8], lex_type: LexType, begin: usize, end: usize) -> Node {
    let id = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
    let cost = i16::from_le_bytes([entry[4], entry[5]]);
    let left_id = u16::from_le_bytes([entry[6], entry[7]]);
    let right_id = u16::from_le_bytes([entry[8], entry[9]]);
    Node {
        start: begin as u32,
        end: end as u32,
        left_id,
        right_id,
        word_cost: i32::from(cost),
        word_id: WordId::new(lex_type, id),
        prev: NONE,
    }
}
