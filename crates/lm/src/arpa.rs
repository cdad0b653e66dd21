//! ARPA back-off files: the text format of SRILM, KenLM and most n-gram tools.
//!
//! ```text
//! \data\
//! ngram 1=4
//! ngram 2=3
//!
//! \1-grams:
//! -0.6  </s>
//! -99   <s>    -0.3
//! ...
//! \end\
//! ```
//! Each entry is `log10 p`, the words, and for orders below the highest an optional log10
//! backoff weight, separated by whitespace.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Error, Result};
use crate::ngram::{Entry, MAX_ORDER, NgramModel, Table};
use crate::smoothing::Smoothing;
use crate::vocab::{BOS, EOS, SPECIALS, UNK, Vocab};

/// log10 probability of `<unk>` in a file that does not list it (KenLM's default).
const MISSING_UNK_LOG10_PROB: f64 = -100.0;

impl NgramModel {
    /// Reads an ARPA file (KenLM's `lmplz`, SRILM, our [`NgramModel::write_arpa`], …).
    pub fn read_arpa(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
        Self::from_arpa_str(&text)
    }

    /// Parses the text of an ARPA file.
    pub fn from_arpa_str(text: &str) -> Result<Self> {
        Self::from_arpa_lines(text.lines())
    }

    /// Writes the model as an ARPA file, atomically (a synced temporary file renamed into place).
    /// Stupid-backoff models are refused: their scores are not probabilities.
    pub fn write_arpa(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let text = self.to_arpa_string()?;
        malmoi_fs::write_atomically(path, text.as_bytes()).map_err(|source| Error::Io { path: path.to_owned(), source })
    }

    /// The model as ARPA text: n-grams in id order, numbers as f32 (like KenLM's).
    pub fn to_arpa_string(&self) -> Result<String> {
        if let Smoothing::StupidBackoff { .. } = self.smoothing() {
            return Err(Error::InvalidArgument(
                "stupid backoff scores are not probabilities; ARPA needs a backoff model".into(),
            ));
        }
        let mut out = String::from("\\data\\\n");
        for (m, table) in self.tables().iter().enumerate() {
            let _ = writeln!(out, "ngram {}={}", m + 1, table.len());
        }
        for (m, table) in self.tables().iter().enumerate() {
            let _ = write!(out, "\n\\{}-grams:\n", m + 1);
            let mut grams: Vec<(&[u32], &Entry)> = table.iter().map(|(gram, entry)| (&gram[..], entry)).collect();
            grams.sort_unstable_by(|a, b| a.0.cmp(b.0));
            for (gram, entry) in grams {
                let _ = write!(out, "{}\t", entry.log10_prob as f32);
                for (i, &id) in gram.iter().enumerate() {
                    out.push_str(if i == 0 { "" } else { " " });
                    out.push_str(self.vocab().word(id));
                }
                if m + 1 < self.order() && entry.backoff != 0.0 {
                    let _ = write!(out, "\t{}", entry.backoff as f32);
                }
                out.push('\n');
            }
        }
        out.push_str("\n\\end\\\n");
        Ok(out)
    }

    fn from_arpa_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Result<Self> {
        let mut reader = ArpaReader { lines: lines.enumerate().peekable(), last_line: 0 };
        let declared = reader.header()?;
        let mut vocab = Vocab::default();
        let mut tables = Vec::with_capacity(declared.len());
        for (m, &count) in declared.iter().enumerate() {
            tables.push(reader.section(m + 1, count, declared.len(), &mut vocab)?);
        }
        reader.end()?;
        let unigrams = &mut tables[0];
        for special in [BOS, EOS] {
            if !unigrams.contains_key(&[special][..]) {
                return Err(Error::Arpa {
                    line: reader.last_line,
                    reason: format!("the 1-grams lack {}", SPECIALS[special as usize]),
                });
            }
        }
        unigrams.entry(Box::new([UNK])).or_insert(Entry { log10_prob: MISSING_UNK_LOG10_PROB, backoff: 0.0 });
        Ok(NgramModel::new(vocab, tables, Smoothing::KneserNey))
    }
}

/// An order's entry count in `\data\` and the line that declares it.
#[derive(Clone, Copy)]
struct Declared {
    count: usize,
    line: usize,
}

/// Line-numbered reading of an ARPA file's parts.
struct ArpaReader<'a, I: Iterator<Item = &'a str>> {
    lines: std::iter::Peekable<std::iter::Enumerate<I>>,
    last_line: usize,
}

impl<'a, I: Iterator<Item = &'a str>> ArpaReader<'a, I> {
    /// The next non-blank line and its 1-based number.
    fn next_line(&mut self) -> Option<(usize, &'a str)> {
        for (index, line) in self.lines.by_ref() {
            self.last_line = index + 1;
            if !line.trim().is_empty() {
                return Some((index + 1, line.trim()));
            }
        }
        None
    }

    /// The next non-blank line without consuming it (blank lines before it are consumed).
    fn peek_line(&mut self) -> Option<&'a str> {
        while let Some(&(index, line)) = self.lines.peek() {
            if !line.trim().is_empty() {
                return Some(line.trim());
            }
            self.last_line = index + 1;
            self.lines.next();
        }
        None
    }

    fn error(line: usize, reason: impl Into<String>) -> Error {
        Error::Arpa { line, reason: reason.into() }
    }

    /// Skips anything before `\data\`, then reads the `ngram m=count` lines.
    fn header(&mut self) -> Result<Vec<Declared>> {
        loop {
            match self.next_line() {
                Some((_, "\\data\\")) => break,
                Some(_) => continue,
                None => return Err(Self::error(self.last_line, "no \\data\\ section")),
            }
        }
        let mut counts = Vec::new();
        while let Some(line) = self.peek_line() {
            if !line.starts_with("ngram ") {
                break;
            }
            let (number, line) = self.next_line().expect("peeked");
            let (order, count) = line["ngram ".len()..]
                .split_once('=')
                .and_then(|(order, count)| {
                    Some((order.trim().parse::<usize>().ok()?, count.trim().parse::<usize>().ok()?))
                })
                .ok_or_else(|| Self::error(number, format!("expected `ngram ORDER=COUNT`, found `{line}`")))?;
            if order != counts.len() + 1 {
                return Err(Self::error(
                    number,
                    format!("expected the count of order {}, found order {order}", counts.len() + 1),
                ));
            }
            counts.push(Declared { count, line: number });
        }
        if counts.is_empty() || counts.len() > MAX_ORDER {
            return Err(Self::error(
                self.last_line,
                format!("\\data\\ declares {} orders; 1..={MAX_ORDER} are supported", counts.len()),
            ));
        }
        Ok(counts)
    }

    /// Reads the `\m-grams:` section, checking its entry count against `\data\`.
    fn section(&mut self, m: usize, declared: Declared, order: usize, vocab: &mut Vocab) -> Result<Table> {
        let Declared { count: declared, line: declared_at } = declared;
        let header = format!("\\{m}-grams:");
        match self.next_line() {
            Some((_, line)) if line == header => {}
            Some((number, line)) => return Err(Self::error(number, format!("expected `{header}`, found `{line}`"))),
            None => return Err(Self::error(self.last_line, format!("the file ends before `{header}`"))),
        }
        let mut table = Table::default();
        table.reserve(declared);
        while let Some(line) = self.peek_line() {
            if line.starts_with('\\') {
                break;
            }
            let (number, line) = self.next_line().expect("peeked");
            if table.len() == declared {
                let reason = format!("\\data\\ declares {declared} {m}-grams but the section has more (line {number})");
                return Err(Self::error(declared_at, reason));
            }
            let (gram, entry) = Self::entry(number, line, m, order, vocab)?;
            if table.insert(gram, entry).is_some() {
                return Err(Self::error(number, format!("duplicate {m}-gram `{line}`")));
            }
        }
        if table.len() != declared {
            let reason = format!("\\data\\ declares {declared} {m}-grams but the section has {}", table.len());
            return Err(Self::error(declared_at, reason));
        }
        Ok(table)
    }

    /// One `log10p word... [backoff]` line.
    fn entry(number: usize, line: &str, m: usize, order: usize, vocab: &mut Vocab) -> Result<(Box<[u32]>, Entry)> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let with_backoff = fields.len() == m + 2 && m < order;
        if fields.len() != m + 1 && !with_backoff {
            return Err(Self::error(
                number,
                format!("expected log10 p, {m} words and an optional backoff, found `{line}`"),
            ));
        }
        let log10_prob = parse_number(number, fields[0], "log10 probability", |x| x <= 0.0)?;
        let backoff = if with_backoff { parse_number(number, fields[m + 1], "backoff", f64::is_finite)? } else { 0.0 };
        let words = &fields[1..=m];
        let gram: Option<Box<[u32]>> = if m == 1 {
            Some(Box::new([vocab.intern(words[0])]))
        } else {
            words.iter().map(|w| vocab.get(w)).collect()
        };
        let gram = gram.ok_or_else(|| Self::error(number, format!("a word of `{line}` is not among the 1-grams")))?;
        Ok((gram, Entry { log10_prob, backoff }))
    }

    fn end(&mut self) -> Result<()> {
        match self.next_line() {
            Some((_, "\\end\\")) => Ok(()),
            Some((number, line)) => {
                Err(Self::error(number, format!("expected `\\end\\` or the next section, found `{line}`")))
            }
            None => Err(Self::error(self.last_line, "the file ends without `\\end\\`")),
        }
    }
}

/// Parses one number field; `valid` rejects out-of-range values (NaN always fails).
fn parse_number(number: usize, field: &str, what: &str, valid: impl Fn(f64) -> bool) -> Result<f64> {
    field
        .parse::<f64>()
        .ok()
        .filter(|&x| !x.is_nan() && valid(x))
        .ok_or_else(|| Error::Arpa { line: number, reason: format!("bad {what} `{field}`") })
}
