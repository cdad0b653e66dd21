//! Saving and loading a whole [`Word2Vec`] model (vocabulary counts, input and output
//! weights, configuration) so that training can continue later.
//!
//! Layout: the line `malmoi-word2vec 1`, one JSON line (configuration, words, counts, corpus
//! size), then the little-endian `f32` matrices syn0, syn1neg, syn1. Written atomically.

use super::{Word2Vec, Word2VecConfig};
use crate::error::{EmbedError, Result};
use crate::keyed_vectors::KeyedVectors;
use crate::word2vec_format::write_atomically;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

const MAGIC: &str = "malmoi-word2vec 1";

#[derive(Serialize, Deserialize)]
struct Header {
    config: Word2VecConfig,
    words: Vec<String>,
    counts: Vec<u64>,
    corpus_words: u64,
    syn1neg_len: usize,
    syn1_len: usize,
}

impl Word2Vec {
    /// Saves the full model (for [`load`](Self::load) and continued training). To share only
    /// the vectors, use [`KeyedVectors::save_word2vec_format`] on [`wv`](Self::wv).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let header = Header {
            config: self.config.clone(),
            words: self.wv.index_to_key().to_vec(),
            counts: self.counts.clone(),
            corpus_words: self.corpus_words,
            syn1neg_len: self.syn1neg.len(),
            syn1_len: self.syn1.len(),
        };
        let json = serde_json::to_string(&header).map_err(std::io::Error::other)?;
        write_atomically(path.as_ref(), |out| {
            writeln!(out, "{MAGIC}")?;
            writeln!(out, "{json}")?;
            for matrix in [self.wv.as_flat(), &self.syn1neg, &self.syn1] {
                for x in matrix {
                    out.write_all(&x.to_le_bytes())?;
                }
            }
            Ok(())
        })
    }

    /// Loads a model written by [`save`](Self::save).
    ///
    /// The header is checked against the file before any weight is allocated: its words,
    /// counts and matrix lengths must describe exactly the bytes that follow it, and the counts,
    /// and `epochs` × the corpus words, must fit in `u64` (training adds and multiplies them).
    ///
    /// # Errors
    /// [`EmbedError::MalformedVectorFile`] for a file that is not such a model (wrong first
    /// line, unreadable header, a header claiming more or fewer weights than the file holds,
    /// words and counts of different lengths, counts summing past 2^64, `epochs` × corpus words
    /// past 2^64, duplicate words);
    /// [`EmbedError::File`] when the file cannot be opened or read.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let malformed =
            |line: usize, reason: String| EmbedError::MalformedVectorFile { path: path.to_path_buf(), line, reason };
        let file = File::open(path).map_err(EmbedError::file(path))?;
        let size = file.metadata().map_err(EmbedError::file(path))?.len();
        let mut reader = BufReader::new(file);
        let mut magic = Vec::new();
        // The first line is only the magic: never read more than a few bytes of it.
        let mut consumed = reader
            .by_ref()
            .take(MAGIC.len() as u64 + 2)
            .read_until(b'\n', &mut magic)
            .map_err(EmbedError::file_line(path, 1))? as u64;
        if magic.trim_ascii_end() != MAGIC.as_bytes() {
            return Err(malformed(1, format!("expected '{MAGIC}' (a malmoi word2vec model)")));
        }
        let mut line = String::new();
        consumed += reader.read_line(&mut line).map_err(EmbedError::file_line(path, 2))? as u64;
        let header: Header = serde_json::from_str(&line).map_err(|e| malformed(2, format!("model header: {e}")))?;
        let n = header.words.len();
        if header.counts.len() != n {
            return Err(malformed(2, "words and counts differ in length".into()));
        }
        if header.counts.iter().try_fold(0u64, |sum, &c| sum.checked_add(c)).is_none() {
            return Err(malformed(2, "the word counts sum past 2^64".into()));
        }
        if (header.config.epochs as u64).checked_mul(header.corpus_words).is_none() {
            return Err(malformed(2, "epochs × corpus words (the words training plans for) exceeds 2^64".into()));
        }
        let d = header.config.vector_size;
        let floats = n
            .checked_mul(d)
            .and_then(|syn0| syn0.checked_add(header.syn1neg_len)?.checked_add(header.syn1_len))
            .and_then(|floats| u64::try_from(floats).ok()?.checked_mul(4).map(|bytes| (floats, bytes)));
        let available = size.saturating_sub(consumed);
        match floats {
            Some((_, bytes)) if bytes == available => {}
            claimed => {
                let claimed =
                    claimed.map_or("more than 2^64 bytes".to_string(), |(f, b)| format!("{f} weights ({b} bytes)"));
                return Err(malformed(
                    3,
                    format!(
                        "the header claims {n} words × {d} dimensions, {} + {} output weights: {claimed}, \
                         but {available} bytes follow it",
                        header.syn1neg_len, header.syn1_len
                    ),
                ));
            }
        }
        let mut read_matrix = |len: usize| -> Result<Vec<f32>> {
            let mut bytes = vec![0u8; len * 4];
            reader.read_exact(&mut bytes).map_err(|e| malformed(3, format!("weights: {e}")))?;
            Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        };
        let syn0 = read_matrix(n * d)?;
        let syn1neg = read_matrix(header.syn1neg_len)?;
        let syn1 = read_matrix(header.syn1_len)?;
        let wv =
            KeyedVectors::from_flat(header.words, d, syn0).map_err(|e| malformed(2, format!("model header: {e}")))?;
        Ok(Word2Vec {
            wv,
            config: header.config,
            counts: header.counts,
            syn1neg,
            syn1,
            corpus_words: header.corpus_words,
        })
    }
}
