//! KoChatGPT's data files: SFT pairs, reward-model rankings, PPO prompts and the multi-turn
//! conversation file, read with line-numbered errors and written in the tutorial's layout.
//!
//! | file | record | reader |
//! |---|---|---|
//! | `kochatgpt_1_SFT.jsonl` | `{"prompt", "completion", "tokens"}` | [`read_records`]`::<`[`SftRecord`]`>` |
//! | `kochatgpt_2_RM.jsonl` | `{"prompt", "completion_0", "completion_1", "completion_2", "ranking"}` | [`read_records`]`::<`[`RankingRecord`]`>` |
//! | `kochatgpt_3_PPO.jsonl` | `{"prompt"}` | [`read_records`]`::<`[`PromptRecord`]`>` |
//! | `kochatgpt_1_SFT_conversation.jsonl` | `<<start conversation>>` blocks of `<사람>:` / `<챗봇>:` turns | [`read_conversations`] |
//!
//! Despite their `.jsonl` extension, KoChatGPT's SFT, RM and PPO files are each one JSON array;
//! true JSON lines (one object per line) read as well, told apart by the first non-whitespace
//! character ([`Layout`]). A malformed record is an [`Error::Record`] naming the 1-based line the
//! record starts on and the field at fault, or, with [`ReadOptions::skip_malformed`], left out
//! and listed in [`Records::skipped`]. A syntax error that breaks a whole JSON array cannot be
//! skipped past and is an error in either mode.
//!
//! The writers ([`write_records`]) produce KoChatGPT's layout: a JSON array indented by four
//! spaces with Korean text unescaped (Python's `json.dump(..., indent=4, ensure_ascii=False)`),
//! written atomically.

use std::fmt;
use std::path::Path;

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::template::{ChatMessage, Role, conversation_text};

/// How readers treat malformed records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Leave malformed records out (listing them in [`Records::skipped`]) instead of failing on
    /// the first one. A JSON array whose syntax is broken still fails.
    pub skip_malformed: bool,
}

impl ReadOptions {
    /// Fail on the first malformed record (the default).
    pub fn strict() -> Self {
        Self { skip_malformed: false }
    }

    /// Skip malformed records and report them.
    pub fn skipping() -> Self {
        Self { skip_malformed: true }
    }
}

/// A record a reader left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based line the record starts on.
    pub line: usize,
    /// What was wrong with it.
    pub reason: String,
}

/// How a file holds its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One JSON array of objects (KoChatGPT's files); detected by a leading `[`.
    JsonArray,
    /// One JSON object per line (JSON lines); anything else, including an empty file.
    JsonLines,
    /// KoChatGPT's plain-text conversation blocks.
    Conversations,
}

/// The records a reader took, and the ones it skipped.
#[derive(Clone, Debug, PartialEq)]
pub struct Records<T> {
    /// The well-formed records, in file order.
    pub records: Vec<T>,
    /// The malformed ones left out (only in [`ReadOptions::skip_malformed`] mode), in file order.
    pub skipped: Vec<Skipped>,
    /// How the file held them.
    pub layout: Layout,
}

impl<T> Records<T> {
    /// How many records were skipped.
    pub fn skipped_count(&self) -> usize {
        self.skipped.len()
    }
}

/// A record type of KoChatGPT's JSON files: how it is read from one JSON object and checked.
///
/// Writing goes through its [`Serialize`] implementation, which lays the fields out in the
/// tutorial's order.
pub trait JsonRecord: Sized + Serialize {
    /// The record's name in messages, e.g. `"SFT record"`.
    const KIND: &'static str;

    /// The record from one JSON object.
    ///
    /// # Errors
    /// A reason naming the field at fault (missing, of the wrong type, empty, inconsistent).
    fn from_object(object: &Map<String, Value>) -> std::result::Result<Self, String>;

    /// Checks the invariants [`from_object`](Self::from_object) enforces, so writers refuse a
    /// record that could not be read back.
    ///
    /// # Errors
    /// A reason naming the field at fault.
    fn validate(&self) -> std::result::Result<(), String>;
}

/// A supervised fine-tuning pair (`kochatgpt_1_SFT.jsonl`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SftRecord {
    /// The question, non-empty.
    pub prompt: String,
    /// The answer the model learns to give, non-empty.
    pub completion: String,
    /// KoChatGPT's token count of the record; optional when reading, omitted on writing when
    /// absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
}

impl SftRecord {
    /// A pair without a token count.
    pub fn new(prompt: impl Into<String>, completion: impl Into<String>) -> Self {
        Self { prompt: prompt.into(), completion: completion.into(), tokens: None }
    }
}

impl JsonRecord for SftRecord {
    const KIND: &'static str = "SFT record";

    fn from_object(object: &Map<String, Value>) -> std::result::Result<Self, String> {
        let tokens =
            match object.get("tokens") {
                None | Some(Value::Null) => None,
                Some(value) => Some(value.as_u64().ok_or_else(|| {
                    format!("field `tokens` must be a non-negative integer, got {}", describe(value))
                })?),
            };
        let record =
            Self { prompt: text_field(object, "prompt")?, completion: text_field(object, "completion")?, tokens };
        record.validate()?;
        Ok(record)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        non_empty("prompt", &self.prompt)?;
        non_empty("completion", &self.completion)
    }
}

/// A prompt with several answers ranked best to worst (`kochatgpt_2_RM.jsonl`).
///
/// On file the answers are `completion_0`, `completion_1`, … and `ranking[i]` is the rank of
/// `completion_i`, 0 being the best; the ranking must be a permutation of `0..n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RankingRecord {
    /// The question, non-empty.
    pub prompt: String,
    /// The answers, `completion_0`, `completion_1`, …; at least two, each non-empty.
    pub completions: Vec<String>,
    /// `ranking[i]` is the rank of `completions[i]`, 0 = best.
    pub ranking: Vec<usize>,
}

/// A preferred and a dispreferred answer to one prompt, as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreferencePair {
    /// The question.
    pub prompt: String,
    /// The better answer.
    pub chosen: String,
    /// The worse answer.
    pub rejected: String,
}

impl RankingRecord {
    /// A ranking record, checked.
    ///
    /// # Errors
    /// [`Error::Input`] for an empty prompt or answer, fewer than two answers, or a ranking that
    /// is not a permutation of `0..completions.len()`.
    pub fn new(prompt: impl Into<String>, completions: Vec<String>, ranking: Vec<usize>) -> Result<Self> {
        let record = Self { prompt: prompt.into(), completions, ranking };
        record.validate().map_err(Error::Input)?;
        Ok(record)
    }

    /// Indices of the completions from best to worst.
    pub fn order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.completions.len()).collect();
        order.sort_by_key(|&i| self.ranking.get(i).copied().unwrap_or(usize::MAX));
        order
    }

    /// Every ordered pair of the ranking, better answer first: for three answers (best, middle,
    /// worst) `[(best, middle), (best, worst), (middle, worst)]` — the three pairs the KoChatGPT
    /// tutorial (after ColossalAI's RM dataset) makes of each prompt. In general the
    /// `n (n − 1) / 2` pairs, ordered by the chosen answer's rank, then the rejected one's.
    pub fn pairs(&self) -> Vec<PreferencePair> {
        let order = self.order();
        let mut pairs = Vec::with_capacity(order.len() * order.len().saturating_sub(1) / 2);
        for (a, &chosen) in order.iter().enumerate() {
            for &rejected in &order[a + 1..] {
                pairs.push(PreferencePair {
                    prompt: self.prompt.clone(),
                    chosen: self.completions[chosen].clone(),
                    rejected: self.completions[rejected].clone(),
                });
            }
        }
        pairs
    }
}

impl JsonRecord for RankingRecord {
    const KIND: &'static str = "RM record";

    fn from_object(object: &Map<String, Value>) -> std::result::Result<Self, String> {
        let prompt = text_field(object, "prompt")?;
        let mut completions = Vec::new();
        while object.contains_key(&completion_key(completions.len())) {
            completions.push(text_field(object, &completion_key(completions.len()))?);
        }
        let stray = object.keys().find(|key| {
            key.strip_prefix("completion_")
                .and_then(|i| i.parse::<usize>().ok())
                .is_some_and(|i| i >= completions.len())
        });
        if let Some(key) = stray {
            return Err(format!("field `{key}` without `{}` before it", completion_key(completions.len())));
        }
        let ranking = match object.get("ranking") {
            None => return Err("missing field `ranking`".into()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_u64().and_then(|rank| usize::try_from(rank).ok()).ok_or_else(|| {
                        format!("field `ranking` must hold non-negative integers, got {}", describe(item))
                    })
                })
                .collect::<std::result::Result<Vec<usize>, String>>()?,
            Some(other) => return Err(format!("field `ranking` must be an array, got {}", describe(other))),
        };
        let record = Self { prompt, completions, ranking };
        record.validate()?;
        Ok(record)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        non_empty("prompt", &self.prompt)?;
        if self.completions.len() < 2 {
            return Err(format!(
                "a ranking needs at least `completion_0` and `completion_1`, found {} completion(s)",
                self.completions.len()
            ));
        }
        for (i, completion) in self.completions.iter().enumerate() {
            non_empty(&completion_key(i), completion)?;
        }
        let n = self.completions.len();
        if self.ranking.len() != n {
            return Err(format!("field `ranking` has {} entries for {n} completions", self.ranking.len()));
        }
        let mut seen = vec![false; n];
        for &rank in &self.ranking {
            if rank >= n || std::mem::replace(&mut seen[rank], true) {
                return Err(format!("field `ranking` {:?} is not a permutation of 0..{n}", self.ranking));
            }
        }
        Ok(())
    }
}

impl Serialize for RankingRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.completions.len() + 2))?;
        map.serialize_entry("prompt", &self.prompt)?;
        for (i, completion) in self.completions.iter().enumerate() {
            map.serialize_entry(&completion_key(i), completion)?;
        }
        map.serialize_entry("ranking", &self.ranking)?;
        map.end()
    }
}

/// A prompt for PPO rollouts (`kochatgpt_3_PPO.jsonl`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PromptRecord {
    /// The question, non-empty.
    pub prompt: String,
}

impl JsonRecord for PromptRecord {
    const KIND: &'static str = "prompt record";

    fn from_object(object: &Map<String, Value>) -> std::result::Result<Self, String> {
        let record = Self { prompt: text_field(object, "prompt")? };
        record.validate()?;
        Ok(record)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        non_empty("prompt", &self.prompt)
    }
}

/// Reads a file of JSON records, either one JSON array or JSON lines.
///
/// ```
/// use malmoi_rlhf::data::{read_records, write_records, Layout, ReadOptions, SftRecord};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("sft.jsonl");
/// std::fs::write(&path, r#"[
///     {"prompt": "불고기용 고기 한우에요?", "completion": "저는 알 수 없습니다.", "tokens": 193},
///     {"prompt": "", "completion": "빈 질문"},
///     {"prompt": "쓰던 앱이 유료로 전환됐어", "completion": "다른 앱을 찾아보세요."}
/// ]"#)?;
///
/// // by default the empty prompt is an error naming its line…
/// let error = read_records::<SftRecord>(&path, &ReadOptions::strict()).unwrap_err();
/// assert!(error.to_string().ends_with("sft.jsonl:3: field `prompt` is empty"), "{error}");
///
/// // …or it is skipped and counted
/// let sft = read_records::<SftRecord>(&path, &ReadOptions::skipping())?;
/// assert_eq!(sft.layout, Layout::JsonArray);
/// assert_eq!(sft.records.len(), 2);
/// assert_eq!(sft.records[0].tokens, Some(193));
/// assert_eq!((sft.skipped_count(), sft.skipped[0].line), (1, 3));
///
/// // written back in KoChatGPT's layout, the records read the same
/// write_records(&path, &sft.records)?;
/// assert_eq!(read_records::<SftRecord>(&path, &ReadOptions::strict())?.records, sft.records);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::Io`] if the file cannot be read (or is not UTF-8); [`Error::Record`] for a JSON
/// array with broken syntax, or for the first malformed record unless `options` skip them.
pub fn read_records<T: JsonRecord>(path: impl AsRef<Path>, options: &ReadOptions) -> Result<Records<T>> {
    let path = path.as_ref();
    parse_records(&read_text(path)?, path, options)
}

/// Parses the text of a file of JSON records, as [`read_records`] does; `path` names the file
/// in errors.
///
/// # Errors
/// As [`read_records`], except for I/O.
pub fn parse_records<T: JsonRecord>(text: &str, path: &Path, options: &ReadOptions) -> Result<Records<T>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut collector = Collector::new(path, options);
    let layout = if text.trim_start().starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| Error::Record {
            path: path.to_owned(),
            line: e.line(),
            reason: format!("the file is not a valid JSON array of {}s: {e}", T::KIND),
        })?;
        let mut lines = LineCounter::new(text);
        for item in items {
            let offset = item.get().as_ptr() as usize - text.as_ptr() as usize;
            let line = lines.line_at(offset);
            collector.take(line, serde_json::from_str::<Value>(item.get()).map_err(|e| e.to_string()))?;
        }
        Layout::JsonArray
    } else {
        for (index, line) in text.lines().enumerate() {
            if !line.trim().is_empty() {
                collector
                    .take(index + 1, serde_json::from_str::<Value>(line).map_err(|e| format!("invalid JSON: {e}")))?;
            }
        }
        Layout::JsonLines
    };
    Ok(Records { records: collector.records, skipped: collector.skipped, layout })
}

/// Writes records as KoChatGPT does: one JSON array, indented by four spaces, Korean text
/// unescaped, written atomically (a crash leaves the old file or the new one).
///
/// # Errors
/// [`Error::Input`] for a record its reader would reject (an empty prompt, a ranking that is
/// not a permutation…), naming its index; [`Error::Io`] if the file cannot be written.
pub fn write_records<T: JsonRecord>(path: impl AsRef<Path>, records: &[T]) -> Result<()> {
    let path = path.as_ref();
    for (index, record) in records.iter().enumerate() {
        record.validate().map_err(|reason| Error::Input(format!("{} {index}: {reason}", T::KIND)))?;
    }
    let mut bytes = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, formatter);
    records.serialize(&mut serializer).map_err(|e| Error::Input(format!("cannot serialise {}s: {e}", T::KIND)))?;
    bytes.push(b'\n');
    malmoi_tensor::checkpoint::write_atomically(path, &bytes).map_err(|error| match error {
        malmoi_tensor::Error::Io(source) => Error::Io { path: path.to_owned(), source },
        other => Error::Tensor(other),
    })
}

/// The line that opens a conversation in KoChatGPT's conversation file.
pub const CONVERSATION_START: &str = "<<start conversation>>";
/// The prefix of a user turn.
pub const USER_PREFIX: &str = "<사람>:";
/// The prefix of an assistant turn.
pub const ASSISTANT_PREFIX: &str = "<챗봇>:";

/// One multi-turn conversation of `kochatgpt_1_SFT_conversation.jsonl`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    /// 1-based line of its `<<start conversation>>`.
    pub line: usize,
    /// Its turns: `<사람>` as [`Role::User`], `<챗봇>` as [`Role::Assistant`]. A turn that ran
    /// over several lines keeps them joined by `\n`.
    pub turns: Vec<ChatMessage>,
}

impl Conversation {
    /// One SFT pair per assistant turn that answers a user turn: the completion is the
    /// assistant's turn, the prompt every turn before it in KoChatGPT's notation
    /// ([`conversation_text`]), so the pair renders exactly as
    /// [`PromptTemplate::render_chat`](crate::template::PromptTemplate::render_chat) of those turns.
    /// The first pair's prompt is the first question alone.
    pub fn sft_pairs(&self) -> Vec<SftRecord> {
        (1..self.turns.len())
            .filter(|&i| self.turns[i].role == Role::Assistant && self.turns[i - 1].role == Role::User)
            .map(|i| SftRecord::new(conversation_text(&self.turns[..i]), self.turns[i].content.clone()))
            .collect()
    }

    /// The conversation in the file's notation, `<<start conversation>>` line included (system
    /// turns, which the file has no notation for, as plain lines).
    pub fn to_text(&self) -> String {
        let mut text = format!("{CONVERSATION_START}\n");
        for turn in &self.turns {
            let line = match turn.role {
                Role::User => format!("{USER_PREFIX} {}", turn.content),
                Role::Assistant => format!("{ASSISTANT_PREFIX} {}", turn.content),
                Role::System => turn.content.clone(),
            };
            text.push_str(&line);
            text.push('\n');
        }
        text
    }
}

/// Reads KoChatGPT's conversation file: blocks opened by `<<start conversation>>`, turns
/// `<사람>: …` and `<챗봇>: …`, a non-empty line that starts neither continuing the turn before
/// it. Blank lines between conversations are ignored.
///
/// A conversation is malformed (an [`Error::Record`] at the line at fault, or skipped whole in
/// [`ReadOptions::skip_malformed`] mode) when it has no turns, a turn is empty, or text comes
/// before its first turn; text before the first `<<start conversation>>` is malformed too.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Record`] as above.
pub fn read_conversations(path: impl AsRef<Path>, options: &ReadOptions) -> Result<Records<Conversation>> {
    let path = path.as_ref();
    parse_conversations(&read_text(path)?, path, options)
}

/// Parses the text of a conversation file, as [`read_conversations`] does; `path` names the
/// file in errors.
///
/// # Errors
/// As [`read_conversations`], except for I/O.
pub fn parse_conversations(text: &str, path: &Path, options: &ReadOptions) -> Result<Records<Conversation>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut collector = Collector::new(path, options);
    let mut block: Option<Block> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim_end() == CONVERSATION_START {
            if let Some(done) = block.take() {
                collector.take(done.start, done.finish())?;
            }
            block = Some(Block::new(number));
            continue;
        }
        match &mut block {
            Some(open) => open.push(number, line),
            None if line.trim().is_empty() => {}
            None => {
                // a preamble: everything up to the first start line is one malformed block
                let mut preamble = Block::new(number);
                preamble.error = Some((number, format!("text before the first `{CONVERSATION_START}`")));
                block = Some(preamble);
            }
        }
    }
    if let Some(done) = block {
        collector.take(done.start, done.finish())?;
    }
    Ok(Records { records: collector.records, skipped: collector.skipped, layout: Layout::Conversations })
}

/// A conversation being parsed.
struct Block {
    start: usize,
    turns: Vec<(usize, ChatMessage)>,
    error: Option<(usize, String)>,
}

impl Block {
    fn new(start: usize) -> Self {
        Self { start, turns: Vec::new(), error: None }
    }

    fn push(&mut self, number: usize, line: &str) {
        let turn = [(USER_PREFIX, Role::User), (ASSISTANT_PREFIX, Role::Assistant)]
            .into_iter()
            .find_map(|(prefix, role)| line.strip_prefix(prefix).map(|rest| (role, rest)));
        match (turn, self.turns.last_mut()) {
            (Some((role, rest)), _) => {
                let content = rest.strip_prefix(' ').unwrap_or(rest);
                self.turns.push((number, ChatMessage::new(role, content)));
            }
            (None, Some((_, last))) => {
                last.content.push('\n');
                last.content.push_str(line);
            }
            (None, None) if line.trim().is_empty() => {}
            (None, None) => {
                if self.error.is_none() {
                    self.error =
                        Some((number, "text before the conversation's first `<사람>:` or `<챗봇>:` turn".into()));
                }
            }
        }
    }

    /// The conversation, or `Err((line, reason))`.
    fn finish(self) -> std::result::Result<Conversation, (usize, String)> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.turns.is_empty() {
            return Err((self.start, "a conversation without turns".into()));
        }
        let mut turns = Vec::with_capacity(self.turns.len());
        for (number, mut turn) in self.turns {
            let kept = turn.content.trim_end().len();
            turn.content.truncate(kept);
            if turn.content.trim().is_empty() {
                let speaker = if turn.role == Role::User { USER_PREFIX } else { ASSISTANT_PREFIX };
                return Err((number, format!("empty `{speaker}` turn")));
            }
            turns.push(turn);
        }
        Ok(Conversation { line: self.start, turns })
    }
}

/// Parsed items gathered strictly or with skipping.
struct Collector<'a, T> {
    path: &'a Path,
    options: ReadOptions,
    records: Vec<T>,
    skipped: Vec<Skipped>,
}

/// Something that becomes a record or a reason it is malformed, possibly at a later line.
trait Candidate<T> {
    fn resolve(self, line: usize) -> std::result::Result<T, (usize, String)>;
}

impl<T: JsonRecord> Candidate<T> for std::result::Result<Value, String> {
    fn resolve(self, line: usize) -> std::result::Result<T, (usize, String)> {
        match self.map_err(|reason| (line, reason))? {
            Value::Object(object) => T::from_object(&object).map_err(|reason| (line, reason)),
            other => Err((line, format!("a {} must be a JSON object, got {}", T::KIND, describe(&other)))),
        }
    }
}

impl Candidate<Conversation> for std::result::Result<Conversation, (usize, String)> {
    fn resolve(self, _line: usize) -> std::result::Result<Conversation, (usize, String)> {
        self
    }
}

impl<'a, T> Collector<'a, T> {
    fn new(path: &'a Path, options: &ReadOptions) -> Self {
        Self { path, options: *options, records: Vec::new(), skipped: Vec::new() }
    }

    /// Keeps the record starting at `line`, or skips it, or fails.
    fn take(&mut self, line: usize, candidate: impl Candidate<T>) -> Result<()> {
        match candidate.resolve(line) {
            Ok(record) => self.records.push(record),
            Err((line, reason)) if self.options.skip_malformed => self.skipped.push(Skipped { line, reason }),
            Err((line, reason)) => return Err(Error::Record { path: self.path.to_owned(), line, reason }),
        }
        Ok(())
    }
}

/// Maps increasing byte offsets to 1-based line numbers.
struct LineCounter<'a> {
    text: &'a str,
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, offset: 0, line: 1 }
    }

    /// The line of byte `offset`, which must not be before the previous one asked for.
    fn line_at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        if offset > self.offset {
            self.line += self.text.as_bytes()[self.offset..offset].iter().filter(|&&b| b == b'\n').count();
            self.offset = offset;
        }
        self.line
    }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_owned(), source })
}

fn completion_key(i: usize) -> String {
    format!("completion_{i}")
}

fn text_field(object: &Map<String, Value>, name: &str) -> std::result::Result<String, String> {
    match object.get(name) {
        None => Err(format!("missing field `{name}`")),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => Err(format!("field `{name}` must be a string, got {}", describe(other))),
    }
}

fn non_empty(name: &str, text: &str) -> std::result::Result<(), String> {
    if text.trim().is_empty() { Err(format!("field `{name}` is empty")) } else { Ok(()) }
}

/// A JSON value's kind, for messages.
fn describe(value: &Value) -> impl fmt::Display + '_ {
    struct Kind<'v>(&'v Value);
    impl fmt::Display for Kind<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self.0 {
                Value::Null => write!(f, "null"),
                Value::Bool(b) => write!(f, "a boolean ({b})"),
                Value::Number(n) => write!(f, "a number ({n})"),
                Value::String(s) => write!(f, "a string ({s:?})"),
                Value::Array(_) => write!(f, "an array"),
                Value::Object(_) => write!(f, "an object"),
            }
        }
    }
    Kind(value)
}
