//! Reading and writing [`KeyedVectors`] in the word2vec C tool's text and binary formats,
//! the ones gensim's `KeyedVectors.load_word2vec_format` / `save_word2vec_format` use.
//!
//! Both start with a header line `"<count> <dim>\n"`. Text: one line per word,
//! `word v1 v2 … vd`. Binary: `word`, a space, `d` little-endian `f32`s, then `\n` (as the C
//! tool writes; gensim reads it, and files without the newline are read too).

use crate::error::{EmbedError, Result};
use crate::keyed_vectors::KeyedVectors;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

impl KeyedVectors {
    /// Writes the vectors in word2vec text (`binary = false`) or binary format. The file is
    /// written to a temporary sibling and renamed, so readers never see half a file.
    ///
    /// ```
    /// use malmoi_embed::KeyedVectors;
    /// let kv = KeyedVectors::from_flat(vec!["가".into(), "나".into()], 2, vec![1.0, 0.5, -2.0, 0.25]).unwrap();
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("v.bin");
    /// kv.save_word2vec_format(&path, true).unwrap();
    /// assert_eq!(KeyedVectors::load_word2vec_format(&path, true).unwrap(), kv);
    /// ```
    pub fn save_word2vec_format(&self, path: impl AsRef<Path>, binary: bool) -> Result<()> {
        write_atomically(path.as_ref(), |out| {
            writeln!(out, "{} {}", self.len(), self.vector_size())?;
            for (i, word) in self.index_to_key().iter().enumerate() {
                let vector = self.vector(i);
                if binary {
                    out.write_all(word.as_bytes())?;
                    out.write_all(b" ")?;
                    for x in vector {
                        out.write_all(&x.to_le_bytes())?;
                    }
                    out.write_all(b"\n")?;
                } else {
                    out.write_all(word.as_bytes())?;
                    for x in vector {
                        write!(out, " {x}")?;
                    }
                    out.write_all(b"\n")?;
                }
            }
            Ok(())
        })
    }

    /// Reads vectors in word2vec text or binary format. Errors name the file and the line
    /// (for binary files, the entry number) that could not be parsed; a repeated word keeps
    /// its first vector, as in gensim.
    pub fn load_word2vec_format(path: impl AsRef<Path>, binary: bool) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(EmbedError::file(path))?;
        let file_len = file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let malformed =
            |line: usize, reason: String| EmbedError::MalformedVectorFile { path: path.to_path_buf(), line, reason };
        let header = read_header_line(&mut reader).map_err(EmbedError::file_line(path, 1))?;
        let (count, dim) = parse_header(&header).ok_or_else(|| {
            malformed(
                1,
                format!("expected '<count> <dimension>' (a word2vec vector file), found {:?}", header.trim_end()),
            )
        })?;
        // The header is only a claim: reserve no more entries than the rest of the file can
        // hold, so a header claiming 10^12 vectors fails at its first missing entry having
        // allocated nothing for them.
        let body = file_len.map_or(1 << 24, |len| len.saturating_sub(header.len() as u64));
        let room = usize::try_from(body / min_entry_bytes(dim, binary)).unwrap_or(usize::MAX);
        let mut table = Table::with_capacity(count.min(room), dim);
        for entry in 0..count {
            let line = entry + 2;
            let parsed = if binary {
                read_binary_entry(&mut reader, dim, &mut table.scratch)
            } else {
                read_text_entry(&mut reader, dim, &mut table.scratch)
            };
            let word = parsed.map_err(EmbedError::file_line(path, line))?.map_err(|reason| malformed(line, reason))?;
            table.push(word);
        }
        table.into_keyed_vectors(dim)
    }
}

/// Words and vectors collected while reading, skipping repeated words.
struct Table {
    words: Vec<String>,
    seen: foldhash::HashSet<String>,
    vectors: Vec<f32>,
    scratch: Vec<f32>,
}

impl Table {
    fn with_capacity(count: usize, dim: usize) -> Self {
        // Reserve at most 2^24 words and 2^26 floats up front; larger tables grow as they load.
        let capped = count.min(1 << 24);
        Table {
            words: Vec::with_capacity(capped),
            seen: Default::default(),
            vectors: Vec::with_capacity(capped.saturating_mul(dim).min(1 << 26)),
            scratch: Vec::with_capacity(dim.min(1 << 16)),
        }
    }

    fn push(&mut self, word: String) {
        if self.seen.insert(word.clone()) {
            self.words.push(word);
            self.vectors.extend_from_slice(&self.scratch);
        }
    }

    fn into_keyed_vectors(self, dim: usize) -> Result<KeyedVectors> {
        KeyedVectors::from_flat(self.words, dim, self.vectors)
    }
}

/// The fewest bytes one entry can take: text `word x x … x\n` needs a space and a digit per
/// number (or at least a newline); binary needs the separating space and `4 · dim` bytes.
fn min_entry_bytes(dim: usize, binary: bool) -> u64 {
    let dim = dim as u64;
    if binary { dim.saturating_mul(4).saturating_add(1) } else { dim.saturating_mul(2).max(1) }
}

/// The first line, at most [`MAX_HEADER_BYTES`] of it, with bytes that are not UTF-8 replaced:
/// a binary file that is not a vector file then fails [`parse_header`] with what it holds.
fn read_header_line(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    reader.by_ref().take(MAX_HEADER_BYTES).read_until(b'\n', &mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A header line is two numbers; anything longer than this is not one.
const MAX_HEADER_BYTES: u64 = 256;

fn parse_header(line: &str) -> Option<(usize, usize)> {
    let mut parts = line.split_whitespace();
    let count = parts.next()?.parse().ok()?;
    let dim = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((count, dim))
}

/// One entry read, its word or why it cannot be parsed; the outer error is I/O.
type Entry = std::io::Result<std::result::Result<String, String>>;

/// Reads one text line into `vector`.
fn read_text_entry(reader: &mut impl BufRead, dim: usize, vector: &mut Vec<f32>) -> Entry {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(Err("file ends before the number of vectors in the header".into()));
    }
    let mut parts = line.trim_end().split(' ');
    let word = parts.next().unwrap_or_default().to_string();
    vector.clear();
    for part in parts {
        match part.parse::<f32>() {
            Ok(x) => vector.push(x),
            Err(_) => return Ok(Err(format!("'{part}' is not a number"))),
        }
    }
    if vector.len() != dim {
        return Ok(Err(format!("expected {dim} numbers after the word, found {}", vector.len())));
    }
    Ok(Ok(word))
}

/// Reads one binary entry into `vector` (a file that ends early is a parse failure).
fn read_binary_entry(reader: &mut impl BufRead, dim: usize, vector: &mut Vec<f32>) -> Entry {
    let mut word = Vec::new();
    reader.read_until(b' ', &mut word)?;
    if word.last() != Some(&b' ') {
        return Ok(Err("file ends before the number of vectors in the header".into()));
    }
    word.pop();
    let start = word.iter().position(|&b| b != b'\n').unwrap_or(word.len());
    let word = match String::from_utf8(word[start..].to_vec()) {
        Ok(w) => w,
        Err(_) => return Ok(Err("word is not valid UTF-8".into())),
    };
    // Read through `take` so a huge claimed dimension only costs the bytes actually present.
    let Some(want) = dim.checked_mul(4) else {
        return Ok(Err(format!("dimension {dim} is too large")));
    };
    let mut bytes = Vec::with_capacity(want.min(1 << 20));
    reader.by_ref().take(want as u64).read_to_end(&mut bytes)?;
    if bytes.len() < want {
        return Ok(Err(format!("file ends inside the vector of '{word}'")));
    }
    vector.clear();
    vector.extend(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
    Ok(Ok(word))
}

/// Writes through `write` into a temporary file beside `path` and renames it over `path`
/// once complete and synced ([`malmoi_fs`]).
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    malmoi_fs::write_atomically_with(path, write).map_err(EmbedError::file(path))
}
