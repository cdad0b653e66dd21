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
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let malformed =
            |line: usize, reason: String| EmbedError::MalformedVectorFile { path: path.to_path_buf(), line, reason };
        let mut reader = BufReader::new(File::open(path)?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line.trim_end() != MAGIC {
            return Err(malformed(1, format!("expected '{MAGIC}'")));
        }
        line.clear();
        reader.read_line(&mut line)?;
        let header: Header = serde_json::from_str(&line).map_err(|e| malformed(2, format!("model header: {e}")))?;
        let d = header.config.vector_size;
        let mut read_matrix = |len: usize| -> Result<Vec<f32>> {
            let mut bytes = vec![0u8; len * 4];
            reader.read_exact(&mut bytes).map_err(|e| malformed(3, format!("weights: {e}")))?;
            Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        };
        let syn0 = read_matrix(header.words.len() * d)?;
        let syn1neg = read_matrix(header.syn1neg_len)?;
        let syn1 = read_matrix(header.syn1_len)?;
        if header.counts.len() != header.words.len() {
            return Err(malformed(2, "words and counts differ in length".into()));
        }
        Ok(Word2Vec {
            wv: KeyedVectors::from_flat(header.words, d, syn0)?,
            config: header.config,
            counts: header.counts,
            syn1neg,
            syn1,
            corpus_words: header.corpus_words,
        })
    }
}
