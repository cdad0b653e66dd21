//! Post-processors: `[CLS] A [SEP]` and `[CLS] A [SEP] B [SEP]` with their type ids.

use serde_json::{Value, json};

use super::tokenizer::Encoding;
use crate::bpe::post_process::token_id;

/// One piece of a template: special-token ids or one of the input sequences, with a type id.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Special { ids: Vec<u32>, type_id: u32 },
    Sequence { second: bool, type_id: u32 },
}

/// What `tokenizer.json`'s `post_processor` (`TemplateProcessing`, `BertProcessing` or `null`)
/// wraps around one sequence or a pair.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PostProcessor {
    single: Vec<Piece>,
    pair: Vec<Piece>,
    /// The JSON as read, written back unchanged on save.
    pub(crate) json: Value,
}

impl PostProcessor {
    /// BERT's template with these `[CLS]` and `[SEP]` tokens, as a `TemplateProcessing`.
    pub(crate) fn bert(cls: (&str, u32), sep: (&str, u32)) -> Self {
        let special = |name: &str, type_id: u32| json!({"SpecialToken": {"id": name, "type_id": type_id}});
        let sequence = |name: &str, type_id: u32| json!({"Sequence": {"id": name, "type_id": type_id}});
        let json = json!({
            "type": "TemplateProcessing",
            "single": [special(cls.0, 0), sequence("A", 0), special(sep.0, 0)],
            "pair": [special(cls.0, 0), sequence("A", 0), special(sep.0, 0), sequence("B", 1), special(sep.0, 1)],
            "special_tokens": {
                cls.0: {"id": cls.0, "ids": [cls.1], "tokens": [cls.0]},
                sep.0: {"id": sep.0, "ids": [sep.1], "tokens": [sep.0]},
            },
        });
        Self::from_json(json).expect("BERT's template is well formed")
    }

    /// Reads a `post_processor` value; `Err` says what is unsupported or malformed.
    pub(crate) fn from_json(json: Value) -> Result<Self, String> {
        let (single, pair) = match json.get("type").and_then(Value::as_str) {
            None if json.is_null() => (vec![seq(false, 0)], vec![seq(false, 0), seq(true, 0)]),
            Some("BertProcessing") => {
                let (cls, sep) = (token_id(&json, "cls")?, token_id(&json, "sep")?);
                let special = |id: u32, type_id| Piece::Special { ids: vec![id], type_id };
                (
                    vec![special(cls, 0), seq(false, 0), special(sep, 0)],
                    vec![special(cls, 0), seq(false, 0), special(sep, 0), seq(true, 1), special(sep, 1)],
                )
            }
            Some("TemplateProcessing") => (template(&json, "single")?, template(&json, "pair")?),
            Some(other) => return Err(format!("post_processor type {other:?} is not supported")),
            None => return Err("post_processor has no \"type\"".to_owned()),
        };
        Ok(Self { single, pair, json })
    }

    /// Number of special tokens added to one sequence (`pair` false) or a pair.
    pub(crate) fn added_tokens(&self, pair: bool) -> usize {
        let pieces = if pair { &self.pair } else { &self.single };
        pieces.iter().map(|p| if let Piece::Special { ids, .. } = p { ids.len() } else { 0 }).sum()
    }

    /// The final encoding of model ids `a` (and `b`): specials inserted, type ids set.
    pub(crate) fn apply(&self, a: &[u32], b: Option<&[u32]>) -> Encoding {
        let mut out = Encoding::default();
        let pieces = if b.is_some() { &self.pair } else { &self.single };
        for piece in pieces {
            match piece {
                Piece::Special { ids, type_id } => out.push_all(ids, *type_id, 1),
                Piece::Sequence { second: false, type_id } => out.push_all(a, *type_id, 0),
                Piece::Sequence { second: true, type_id } => out.push_all(b.unwrap_or_default(), *type_id, 0),
            }
        }
        out
    }
}

fn seq(second: bool, type_id: u32) -> Piece {
    Piece::Sequence { second, type_id }
}

/// The pieces of a template's `single` or `pair` list.
fn template(json: &Value, field: &str) -> Result<Vec<Piece>, String> {
    let pieces = json.get(field).and_then(Value::as_array).ok_or(format!("post_processor.{field} must be a list"))?;
    pieces.iter().map(|piece| template_piece(json, field, piece)).collect()
}

fn template_piece(json: &Value, field: &str, piece: &Value) -> Result<Piece, String> {
    let type_id = |inner: &Value| {
        let id = inner.get("type_id").and_then(Value::as_u64).and_then(|t| u32::try_from(t).ok());
        id.ok_or_else(|| format!("post_processor.{field}: {inner} has no integer type_id"))
    };
    if let Some(inner) = piece.get("Sequence") {
        return match inner.get("id").and_then(Value::as_str) {
            Some("A") => Ok(seq(false, type_id(inner)?)),
            Some("B") => Ok(seq(true, type_id(inner)?)),
            _ => Err(format!("post_processor.{field}: sequence id must be \"A\" or \"B\", found {inner}")),
        };
    }
    let inner = piece
        .get("SpecialToken")
        .ok_or(format!("post_processor.{field} has a piece that is neither Sequence nor SpecialToken"))?;
    let name = inner.get("id").and_then(Value::as_str).ok_or(format!("post_processor.{field}: {inner} has no id"))?;
    let ids = json
        .get("special_tokens")
        .and_then(|tokens| tokens.get(name))
        .and_then(|token| token.get("ids"))
        .and_then(Value::as_array)
        .ok_or_else(|| format!("post_processor.special_tokens has no ids for {name:?}"))?;
    let ids = ids
        .iter()
        .map(|id| id.as_u64().and_then(|id| u32::try_from(id).ok()))
        .collect::<Option<Vec<u32>>>()
        .ok_or_else(|| format!("post_processor.special_tokens.{name}.ids must be integers"))?;
    Ok(Piece::Special { ids, type_id: type_id(inner)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bert_template_sets_type_ids() {
        let post = PostProcessor::bert(("[CLS]", 101), ("[SEP]", 102));
        let pair = post.apply(&[7, 8], Some(&[9]));
        assert_eq!(pair.ids, [101, 7, 8, 102, 9, 102]);
        assert_eq!(pair.type_ids, [0, 0, 0, 0, 1, 1]);
        assert_eq!(pair.special_tokens_mask, [1, 0, 0, 1, 0, 1]);
        assert_eq!(post.added_tokens(true), 3);
        let processing = json!({"type": "BertProcessing", "cls": ["[CLS]", 101], "sep": ["[SEP]", 102]});
        assert_eq!(PostProcessor::from_json(processing).unwrap().apply(&[7], None).ids, [101, 7, 102]);
    }

    #[test]
    fn rejects_malformed_templates() {
        assert!(PostProcessor::from_json(json!({"type": "TemplateProcessing", "single": 3})).is_err());
        assert!(PostProcessor::from_json(json!({"type": "Mystery"})).is_err());
    }
}
