//! Post-processors: the special tokens wrapped around a single encoded sequence.

use serde_json::Value;

/// What `tokenizer.json`'s `post_processor` adds around the ids of one sequence.
///
/// `ByteLevel` (only about offsets) and `null` add nothing; `RobertaProcessing`,
/// `BertProcessing` and `TemplateProcessing` add their `cls`/`sep` or template tokens.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PostProcessor {
    /// Ids placed before the sequence.
    pub(crate) prefix: Vec<u32>,
    /// Ids placed after the sequence.
    pub(crate) suffix: Vec<u32>,
    /// The JSON as read, written back unchanged on save.
    pub(crate) json: Value,
}

impl PostProcessor {
    /// Reads a `post_processor` value; `Err` says what is unsupported or malformed.
    pub(crate) fn from_json(json: Value) -> Result<Self, String> {
        let (prefix, suffix) = match json.get("type").and_then(Value::as_str) {
            None if json.is_null() => (vec![], vec![]),
            Some("ByteLevel") => (vec![], vec![]),
            Some("RobertaProcessing" | "BertProcessing") => {
                (vec![token_id(&json, "cls")?], vec![token_id(&json, "sep")?])
            }
            Some("TemplateProcessing") => template_ids(&json)?,
            Some(other) => return Err(format!("post_processor type {other:?} is not supported")),
            None => return Err("post_processor has no \"type\"".to_owned()),
        };
        Ok(Self { prefix, suffix, json })
    }

    /// Wraps `ids` with the prefix and suffix.
    pub(crate) fn apply(&self, ids: &mut Vec<u32>) {
        if !self.prefix.is_empty() {
            ids.splice(0..0, self.prefix.iter().copied());
        }
        ids.extend_from_slice(&self.suffix);
    }
}

/// The id of a `["<s>", 0]` field of Roberta/Bert processing.
pub(crate) fn token_id(json: &Value, field: &str) -> Result<u32, String> {
    json.get(field)
        .and_then(|pair| pair.get(1))
        .and_then(Value::as_u64)
        .and_then(|id| u32::try_from(id).ok())
        .ok_or_else(|| format!("post_processor.{field} must be [token, id]"))
}

/// Prefix and suffix ids of a template's `single` sequence.
fn template_ids(json: &Value) -> Result<(Vec<u32>, Vec<u32>), String> {
    let pieces = json.get("single").and_then(Value::as_array).ok_or("post_processor.single must be a list")?;
    let (mut prefix, mut suffix, mut seen_sequence) = (vec![], vec![], false);
    for piece in pieces {
        if piece.get("Sequence").is_some() {
            seen_sequence = true;
            continue;
        }
        let name = piece
            .pointer("/SpecialToken/id")
            .and_then(Value::as_str)
            .ok_or("post_processor.single has a piece that is neither Sequence nor SpecialToken")?;
        let ids = json
            .pointer(&format!("/special_tokens/{}/ids", name.replace('~', "~0").replace('/', "~1")))
            .and_then(Value::as_array)
            .ok_or_else(|| format!("post_processor.special_tokens has no ids for {name:?}"))?;
        let target = if seen_sequence { &mut suffix } else { &mut prefix };
        for id in ids {
            let id = id.as_u64().and_then(|id| u32::try_from(id).ok());
            target.push(id.ok_or_else(|| format!("post_processor.special_tokens.{name}.ids must be integers"))?);
        }
    }
    Ok((prefix, suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_wraps_a_sequence() {
        let json = serde_json::json!({
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                               "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}
        });
        let post = PostProcessor::from_json(json).unwrap();
        let mut ids = vec![7, 8];
        post.apply(&mut ids);
        assert_eq!(ids, [0, 7, 8, 2]);
    }

    #[test]
    fn roberta_and_unknown_types() {
        let post = PostProcessor::from_json(
            serde_json::json!({"type": "RobertaProcessing", "cls": ["<s>", 0], "sep": ["</s>", 2]}),
        );
        assert_eq!(post.unwrap().prefix, [0]);
        assert!(PostProcessor::from_json(serde_json::json!({"type": "Mystery"})).is_err());
    }
}
