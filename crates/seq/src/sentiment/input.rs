//! Texts to judge, read one a line with bounded memory, held to the bound on one text.
//!
//! Analysing a text takes about 30 times its size in memory (morphemes, lattice, token
//! strings), so one text is capped at [`MAX_TEXT_BYTES`] (the bound the NSMC reader holds its
//! documents to) and a file of texts is read a line at
//! a time, never more than the cap of one line: a 50 MB line is refused after reading 64 KiB
//! of it, naming the file and the line.

use std::io::{BufRead, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

use malmoi_fs::datasets::DatasetError;
use malmoi_fs::datasets::nsmc::MAX_TEXT_BYTES;

use crate::error::{Error, Result};

/// Fails with [`Error::InvalidArgument`] naming the first text longer than [`MAX_TEXT_BYTES`]
/// (its 0-based index in `texts`) and the bound.
pub fn check_text_lengths<S: AsRef<str>>(texts: &[S]) -> Result<()> {
    match texts.iter().position(|t| t.as_ref().len() > MAX_TEXT_BYTES) {
        Some(index) => Err(Error::InvalidArgument(format!(
            "text {index} is {} bytes long; one text may have at most MAX_TEXT_BYTES = {MAX_TEXT_BYTES} bytes",
            texts[index].as_ref().len()
        ))),
        None => Ok(()),
    }
}

/// Consecutive ranges of `texts` holding at most `max_texts` texts and, unless one text alone is
/// longer, at most `max_bytes` bytes: the pieces a batch is analysed in, so that memory follows
/// the piece and not the whole batch.
pub(crate) fn byte_bounded_chunks<S: AsRef<str>>(texts: &[S], max_texts: usize, max_bytes: usize) -> Vec<Range<usize>> {
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (index, text) in texts.iter().enumerate() {
        let len = text.as_ref().len();
        if index > start && (index - start == max_texts || bytes + len > max_bytes) {
            chunks.push(start..index);
            (start, bytes) = (index, 0);
        }
        bytes += len;
    }
    if start < texts.len() {
        chunks.push(start..texts.len());
    }
    chunks
}

/// The lines of a reader as texts, each checked against [`MAX_TEXT_BYTES`] while it is read
/// (a longer line is never held whole). A final `\r` is dropped; empty lines are texts too.
///
/// Errors are [`Error::Dataset`] naming the source: [`DatasetError::MalformedRow`] with the
/// 1-based line for a line over the bound or not UTF-8, [`DatasetError::Io`] for a failed read
/// (a directory given as the file, …).
/// After an error the iterator ends.
pub struct TextLines<R> {
    reader: R,
    source: PathBuf,
    line: usize,
    done: bool,
}

impl<R: BufRead> TextLines<R> {
    /// Reads texts from `reader`; `source` names it in errors (a path, or `-` for stdin).
    pub fn new(reader: R, source: impl AsRef<Path>) -> Self {
        TextLines { reader, source: source.as_ref().to_path_buf(), line: 0, done: false }
    }

    /// The next line's bytes (without its `\n`), or `None` at the end of the input.
    fn next_bytes(&mut self) -> Result<Option<Vec<u8>>> {
        let mut bytes = Vec::new();
        let limit = MAX_TEXT_BYTES as u64 + 2; // the text, a `\r` and the `\n`
        let read = self.reader.by_ref().take(limit).read_until(b'\n', &mut bytes);
        let read = read.map_err(|source| DatasetError::Io { path: self.source.clone(), source })?;
        if read == 0 {
            return Ok(None);
        }
        self.line += 1;
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
        }
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        if bytes.len() > MAX_TEXT_BYTES {
            return Err(self.malformed(format!(
                "the line is longer than MAX_TEXT_BYTES = {MAX_TEXT_BYTES} bytes, the most one text may have"
            )));
        }
        Ok(Some(bytes))
    }

    fn malformed(&self, reason: String) -> Error {
        DatasetError::MalformedRow { path: self.source.clone(), line: self.line, reason }.into()
    }
}

impl<R: BufRead> Iterator for TextLines<R> {
    type Item = Result<String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let text = match self.next_bytes() {
            Ok(bytes) => bytes.map(|b| String::from_utf8(b).map_err(|e| self.malformed(format!("not UTF-8 ({e})")))),
            Err(error) => Some(Err(error)),
        };
        self.done = !matches!(text, Some(Ok(_)));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<Result<String>> {
        TextLines::new(input, "reviews.txt").collect()
    }

    #[test]
    fn lines_keep_empty_ones_and_drop_line_ends() {
        let read: Vec<String> = lines(b"a\r\n\nb").into_iter().map(Result::unwrap).collect();
        assert_eq!(read, ["a", "", "b"]);
    }

    #[test]
    fn a_line_over_the_bound_is_refused_with_its_number() {
        let mut input = b"short\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_TEXT_BYTES + 1));
        input.extend(b"\nnever read\n");
        let read = lines(&input);
        assert_eq!(read.len(), 2, "reading stops at the error");
        let error = read[1].as_ref().unwrap_err();
        assert!(matches!(error, Error::Dataset(DatasetError::MalformedRow { line: 2, .. })), "{error:?}");
        let message = error.to_string();
        assert!(message.starts_with("reviews.txt:2: the line is longer than MAX_TEXT_BYTES = 65536"), "{message}");
        let exactly: Vec<u8> = std::iter::repeat_n(b'x', MAX_TEXT_BYTES).chain(*b"\r\n").collect();
        assert_eq!(lines(&exactly)[0].as_ref().unwrap().len(), MAX_TEXT_BYTES);
    }

    #[test]
    fn a_line_that_is_not_utf8_is_named() {
        let read = lines(b"ok\n\xff\xfe\n");
        assert!(read[1].as_ref().unwrap_err().to_string().starts_with("reviews.txt:2: not UTF-8"));
    }

    #[test]
    fn texts_over_the_bound_are_refused_by_index() {
        let long = "가".repeat(MAX_TEXT_BYTES / 3 + 1);
        let message = check_text_lengths(&["ok", long.as_str()]).unwrap_err().to_string();
        assert!(message.contains("text 1 is 65538 bytes long"), "{message}");
        assert!(check_text_lengths(&["ok"]).is_ok());
    }

    #[test]
    fn chunks_respect_both_bounds_and_cover_everything() {
        let texts = ["aaaa", "bb", "cccccccc", "d", "e", "f"];
        assert_eq!(byte_bounded_chunks(&texts, 10, 6), [0..2, 2..3, 3..6]);
        assert_eq!(byte_bounded_chunks(&texts, 2, 100), [0..2, 2..4, 4..6]);
        assert!(byte_bounded_chunks::<&str>(&[], 2, 100).is_empty());
    }
}
