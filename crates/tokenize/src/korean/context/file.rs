//! The model as a UTF-8 text file: settings, interned morphemes, counts.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use super::super::error::KoreanError;
use super::ContextModel;
use super::features::{feature_key, kind_name, kind_named};

/// The file's first line. Version 2: the smoothing and margin a file holds
/// were chosen for [`ContextModel::evidence`]'s counting of dropped pairs, so
/// a version 1 file is refused rather than decided with settings chosen for
/// another score.
const MAGIC: &str = "malmoi-context-model\t2";

impl ContextModel {
    /// Writes the model as UTF-8 text, atomically (a reader never sees half
    /// a file): the settings, the interned morphemes, then the counts.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), KoreanError> {
        let path = path.as_ref();
        malmoi_fs::write_atomically_with(path, |out| self.write(out)).map_err(|e| KoreanError::io(path, e))
    }

    fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let p = &self.params;
        writeln!(out, "{MAGIC}")?;
        writeln!(out, "temperature\t{}", p.temperature)?;
        writeln!(out, "alpha\t{}", p.alpha)?;
        writeln!(out, "bag_weight\t{}", p.bag_weight)?;
        writeln!(out, "unseen_penalty\t{}", p.unseen_penalty)?;
        writeln!(out, "window\t{}", p.window)?;
        writeln!(out, "margin\t{}", p.margin)?;
        writeln!(out, "train_margin\t{}", p.train_margin)?;
        writeln!(out, "min_count\t{}", p.min_count)?;
        writeln!(out, "gate_rate\t{}", p.gate_rate)?;
        writeln!(out, "max_change\t{}", p.max_change)?;
        writeln!(out, "mecab_bonus\t{}", p.mecab_bonus)?;
        writeln!(out, "total\t{}", self.total)?;
        for (id, name) in self.names.iter().enumerate() {
            writeln!(out, "token\t{id}\t{name}")?;
        }
        let mut ambiguous: Vec<u32> = self.ambiguous.iter().copied().collect();
        ambiguous.sort_unstable();
        for label in ambiguous {
            let count = self.label_count.get(&label).copied().unwrap_or(0);
            writeln!(out, "label\t{label}\t{count}\t{}", u8::from(self.gated.contains(&label)))?;
        }
        let mut features: Vec<(u64, u32)> = self.feature_count.iter().map(|(&f, &c)| (f, c)).collect();
        features.sort_unstable();
        for (feature, count) in features {
            writeln!(out, "feature\t{}\t{}\t{count}", kind_name(feature), feature as u32)?;
        }
        let mut labels: Vec<u32> = self.pairs.keys().copied().collect();
        labels.sort_unstable();
        for label in labels {
            for &(feature, count) in &self.pairs[&label] {
                writeln!(out, "pair\t{label}\t{}\t{}\t{count}", kind_name(feature), feature as u32)?;
            }
        }
        Ok(())
    }

    /// Reads a model [`save`](Self::save) wrote. Every line is checked: an
    /// unknown record or setting would change decisions, so it is refused by name.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, KoreanError> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| KoreanError::io(path, e))?;
        let mut model = ContextModel::default();
        for (index, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| KoreanError::io(path, e))?;
            let bad =
                |reason: String| KoreanError::MalformedContextModel { path: path.into(), line: index + 1, reason };
            if index == 0 {
                if line != MAGIC {
                    return Err(bad(format!("expected the header {MAGIC:?}")));
                }
                continue;
            }
            model.read_line(&line).map_err(bad)?;
        }
        if model.names.is_empty() && model.total == 0 {
            return Err(KoreanError::MalformedContextModel {
                path: path.into(),
                line: 1,
                reason: "empty model".into(),
            });
        }
        Ok(model)
    }

    fn read_line(&mut self, line: &str) -> Result<(), String> {
        let fields: Vec<&str> = line.split('\t').collect();
        let number = |i: usize| -> Result<u64, String> {
            let field = fields.get(i).ok_or_else(|| format!("{:?} needs {} fields", fields[0], i + 1))?;
            field.parse().map_err(|_| format!("not a count: {field:?}"))
        };
        let real = |i: usize| -> Result<f64, String> {
            let field = fields.get(i).ok_or_else(|| format!("{:?} needs a value", fields[0]))?;
            field.parse().map_err(|_| format!("not a number: {field:?}"))
        };
        let id =
            |i: usize| -> Result<u32, String> { u32::try_from(number(i)?).map_err(|_| "id out of range".to_string()) };
        match fields[0] {
            "temperature" => self.params.temperature = real(1)?,
            "alpha" => self.params.alpha = real(1)?,
            "bag_weight" => self.params.bag_weight = real(1)?,
            "unseen_penalty" => self.params.unseen_penalty = real(1)?,
            "window" => self.params.window = number(1)? as usize,
            "margin" => self.params.margin = number(1)? as i64,
            "train_margin" => self.params.train_margin = number(1)? as i64,
            "min_count" => self.params.min_count = id(1)?,
            "gate_rate" => self.params.gate_rate = real(1)?,
            "max_change" => self.params.max_change = real(1)?,
            "mecab_bonus" => self.params.mecab_bonus = real(1)?,
            "total" => self.total = number(1)?,
            "token" => {
                let (token, name) = (id(1)?, fields.get(2).ok_or("token needs a name")?);
                if token as usize != self.names.len() {
                    return Err(format!("token {token} out of order"));
                }
                self.intern(name);
            }
            "label" => {
                let label = self.known(id(1)?)?;
                self.ambiguous.insert(label);
                self.label_count.insert(label, id(2)?);
                match fields.get(3).copied() {
                    Some("1") => _ = self.gated.insert(label),
                    Some("0") => {}
                    other => return Err(format!("label gate must be 0 or 1, not {other:?}")),
                }
            }
            "feature" => {
                let feature = feature_key(kind_named(fields.get(1).copied())?, self.known(id(2)?)?);
                self.feature_count.insert(feature, id(3)?);
            }
            "pair" => {
                let label = self.known(id(1)?)?;
                let feature = feature_key(kind_named(fields.get(2).copied())?, self.known(id(3)?)?);
                let count = id(4)?;
                let pairs = self.pairs.entry(label).or_default();
                if pairs.last().is_some_and(|&(last, _)| last >= feature) {
                    return Err(format!("pairs of label {label} out of order"));
                }
                pairs.push((feature, count));
            }
            other => return Err(format!("unknown record {other:?}")),
        }
        Ok(())
    }

    fn known(&self, token: u32) -> Result<u32, String> {
        ((token as usize) < self.names.len()).then_some(token).ok_or_else(|| format!("unknown token {token}"))
    }
}
