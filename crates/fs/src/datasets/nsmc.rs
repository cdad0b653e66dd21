//! Reading labelled review files in the NSMC format (Naver Sentiment Movie Corpus).
//!
//! NSMC files are tab-separated with a header line `id\tdocument\tlabel` and **no quoting**:
//! a document may begin with an unmatched `"`, so every line is split on tabs as it is. A few
//! documents are empty strings; they are kept.

use std::path::Path;

use super::DatasetError;

/// Longest text accepted for judging or training, in bytes of UTF-8 (64 KiB, about 21,000
/// Hangul syllables; NSMC reviews have at most 140 characters).
///
/// ```
/// use malmoi_fs::datasets::nsmc::{MAX_TEXT_BYTES, parse_labeled_tsv};
/// let long = "가".repeat(MAX_TEXT_BYTES / 3 + 1);
/// let text = format!("id\tdocument\tlabel\n1\t{long}\t0\n");
/// assert!(parse_labeled_tsv(&text, "long.tsv".as_ref()).is_err());
/// ```
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// One labelled document: the review text and its binary label (0 negative, 1 positive).
///
/// ```
/// use malmoi_fs::datasets::nsmc::LabeledText;
/// let review = LabeledText { id: "9976970".into(), document: "아 더빙.. 진짜 짜증나네요".into(), label: 0 };
/// assert_eq!(review.label, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabeledText {
    /// The row's identifier as written in the file.
    pub id: String,
    /// The review text (possibly empty).
    pub document: String,
    /// 0 = negative, 1 = positive.
    pub label: u8,
}

/// The header every NSMC file starts with.
const HEADER: &str = "id\tdocument\tlabel";

/// Reads an NSMC-style TSV file (`id\tdocument\tlabel`, header first, no quoting).
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("ratings.txt");
/// std::fs::write(&path, "id\tdocument\tlabel\n1\t\"최고의 영화\t1\n2\t\t0\n")?;
/// let rows = malmoi_fs::datasets::nsmc::read_labeled_tsv(&path)?;
/// assert_eq!(rows.len(), 2);
/// assert_eq!(rows[0].document, "\"최고의 영화");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`DatasetError::Io`] when the file cannot be read (or is not UTF-8). A malformed row (wrong
/// field count, a label other than 0 or 1, a document longer than [`MAX_TEXT_BYTES`]) gives
/// [`DatasetError::MalformedRow`] naming the file, the 1-based line and what is wrong; a
/// missing header gives the same error for line 1.
pub fn read_labeled_tsv(path: impl AsRef<Path>) -> Result<Vec<LabeledText>, DatasetError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Io { path: path.to_path_buf(), source })?;
    parse_labeled_tsv(&text, path)
}

/// Parses the text of an NSMC-style TSV file; `source` names it in errors.
///
/// ```
/// use std::path::Path;
/// use malmoi_fs::datasets::nsmc::parse_labeled_tsv;
/// let rows = parse_labeled_tsv("id\tdocument\tlabel\n1\t재밌다\t1\n", Path::new("mini.tsv"))?;
/// assert_eq!(rows[0].label, 1);
/// let err = parse_labeled_tsv("id\tdocument\tlabel\n1\t재밌다\t7\n", Path::new("mini.tsv")).unwrap_err();
/// assert_eq!(err.to_string(), "mini.tsv:2: label must be 0 or 1, found \"7\"");
/// # Ok::<(), malmoi_fs::datasets::DatasetError>(())
/// ```
///
/// # Errors
/// [`DatasetError::MalformedRow`] as for [`read_labeled_tsv`].
pub fn parse_labeled_tsv(text: &str, source: &Path) -> Result<Vec<LabeledText>, DatasetError> {
    let malformed =
        |line: usize, reason: String| DatasetError::MalformedRow { path: source.to_path_buf(), line, reason };
    let mut lines = text.lines();
    match lines.next() {
        Some(header) if header.trim_end_matches('\r') == HEADER => {}
        Some(other) => {
            return Err(malformed(1, format!("expected header {HEADER:?}, found {other:?}")));
        }
        None => return Err(malformed(1, "the file is empty; expected a header".into())),
    }
    lines
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(index, line)| parse_row(line.trim_end_matches('\r')).map_err(|r| malformed(index + 2, r)))
        .collect()
}

fn parse_row(line: &str) -> Result<LabeledText, String> {
    let fields: Vec<&str> = line.split('\t').collect();
    let [id, document, label] = fields[..] else {
        return Err(format!("expected 3 tab-separated fields, found {}", fields.len()));
    };
    if document.len() > MAX_TEXT_BYTES {
        return Err(format!(
            "the document is {} bytes long; one text may have at most MAX_TEXT_BYTES = {MAX_TEXT_BYTES} bytes",
            document.len()
        ));
    }
    let label = match label {
        "0" => 0,
        "1" => 1,
        other => return Err(format!("label must be 0 or 1, found {other:?}")),
    };
    Ok(LabeledText { id: id.to_owned(), document: document.to_owned(), label })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<LabeledText>, DatasetError> {
        parse_labeled_tsv(text, Path::new("reviews.tsv"))
    }

    #[test]
    fn reads_rows_with_unmatched_quotes_and_empty_documents() {
        let rows = parse("id\tdocument\tlabel\n1\t\"그냥 그랬다\t0\n2\t\t1\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].document, "\"그냥 그랬다");
        assert_eq!(rows[1].document, "");
        assert_eq!(rows[1].label, 1);
    }

    #[test]
    fn crlf_lines_and_blank_lines_are_read() {
        let rows = parse("id\tdocument\tlabel\r\n1\t좋다\t1\r\n\n2\t싫다\t0\r\n").unwrap();
        assert_eq!(rows.iter().map(|r| (r.id.as_str(), r.label)).collect::<Vec<_>>(), [("1", 1), ("2", 0)]);
    }

    #[test]
    fn malformed_rows_name_the_line() {
        let err = parse("id\tdocument\tlabel\n1\tgood\t1\n2\tbad\t7\n").unwrap_err();
        assert!(matches!(&err, DatasetError::MalformedRow { line: 3, .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("reviews.tsv:3"), "{message}");
        assert!(message.contains("label must be 0 or 1"), "{message}");
        let err = parse("id\tdocument\tlabel\n1\tmissing label\n").unwrap_err();
        assert!(err.to_string().contains("found 2"), "{err}");
    }

    #[test]
    fn a_document_over_the_text_bound_names_its_line() {
        let long = "가".repeat(MAX_TEXT_BYTES / 3 + 1);
        let message = parse(&format!("id\tdocument\tlabel\n1\tok\t1\n2\t{long}\t0\n")).unwrap_err().to_string();
        assert!(message.starts_with("reviews.tsv:3: the document is 65538 bytes long"), "{message}");
    }

    #[test]
    fn a_missing_header_is_an_error() {
        assert!(parse("1\tgood\t1\n").unwrap_err().to_string().contains("expected header"));
        assert!(matches!(parse(""), Err(DatasetError::MalformedRow { line: 1, .. })));
    }

    #[test]
    fn an_unreadable_file_is_an_io_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_labeled_tsv(dir.path()).unwrap_err();
        assert!(matches!(&err, DatasetError::Io { path, .. } if path == dir.path()), "{err:?}");
        assert!(err.to_string().starts_with(&dir.path().display().to_string()), "{err}");
    }
}
