//! The component types a `tokenizer.json` may name, to explain why a file does not load.
//!
//! `tokenizers` reports an unknown `type` as "data did not match any variant of untagged enum
//! NormalizerUntagged"; when loading fails, [`find_unknown`] walks the JSON and names the
//! component, its type and where it sits instead.

use serde_json::Value;

/// One kind of component: its key in `tokenizer.json`, the key of its `Sequence`'s list, and its types.
struct Kind {
    key: &'static str,
    sequence_key: Option<&'static str>,
    types: &'static [&'static str],
}

/// Every kind of component with the types `tokenizers` 0.23 reads.
const KINDS: [Kind; 5] = [
    Kind {
        key: "normalizer",
        sequence_key: Some("normalizers"),
        types: &[
            "BertNormalizer",
            "Strip",
            "StripAccents",
            "NFC",
            "NFD",
            "NFKC",
            "NFKD",
            "Sequence",
            "Lowercase",
            "Nmt",
            "Precompiled",
            "Replace",
            "Prepend",
            "ByteLevel",
        ],
    },
    Kind {
        key: "pre_tokenizer",
        sequence_key: Some("pretokenizers"),
        types: &[
            "BertPreTokenizer",
            "ByteLevel",
            "CharDelimiterSplit",
            "Metaspace",
            "Whitespace",
            "Sequence",
            "Split",
            "Punctuation",
            "WhitespaceSplit",
            "Digits",
            "UnicodeScripts",
            "FixedLength",
        ],
    },
    Kind { key: "model", sequence_key: None, types: &["BPE", "WordPiece", "WordLevel", "Unigram"] },
    Kind {
        key: "post_processor",
        sequence_key: Some("processors"),
        types: &["RobertaProcessing", "BertProcessing", "ByteLevel", "TemplateProcessing", "Sequence"],
    },
    Kind {
        key: "decoder",
        sequence_key: Some("decoders"),
        types: &[
            "BPEDecoder",
            "ByteLevel",
            "WordPiece",
            "Metaspace",
            "CTC",
            "Sequence",
            "Replace",
            "Fuse",
            "Strip",
            "ByteFallback",
        ],
    },
];

/// A component whose `type` `tokenizers` does not know.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UnknownComponent {
    /// `normalizer`, `pre_tokenizer`, `model`, `post_processor` or `decoder`.
    pub component: &'static str,
    /// The unknown type.
    pub type_name: String,
    /// JSON path of the component (`normalizer.normalizers[1]`).
    pub location: String,
    /// The known types, comma-separated.
    pub known: String,
}

/// The first component of `json` (a whole `tokenizer.json`) with an unknown `type`, if any.
pub(crate) fn find_unknown(json: &Value) -> Option<UnknownComponent> {
    KINDS.iter().find_map(|kind| json.get(kind.key).and_then(|value| check(kind, value, kind.key.to_owned())))
}

/// Checks one component value (and, for a `Sequence`, its members).
fn check(kind: &Kind, value: &Value, location: String) -> Option<UnknownComponent> {
    let type_name = value.get("type")?.as_str()?;
    if !kind.types.contains(&type_name) {
        return Some(UnknownComponent {
            component: kind.key,
            type_name: type_name.to_owned(),
            location,
            known: kind.types.join(", "),
        });
    }
    let members = kind.sequence_key.filter(|_| type_name == "Sequence").and_then(|key| Some((key, value.get(key)?)))?;
    members
        .1
        .as_array()?
        .iter()
        .enumerate()
        .find_map(|(i, member)| check(kind, member, format!("{location}.{}[{i}]", members.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_unknown_component_and_where_it_is() {
        let file = json!({"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Nope"}]}});
        let unknown = find_unknown(&file).unwrap();
        assert_eq!((unknown.component, unknown.type_name.as_str()), ("normalizer", "Nope"));
        assert_eq!(unknown.location, "normalizer.normalizers[1]");
        assert!(unknown.known.contains("Precompiled"));
        let decoder = json!({"decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "X"}]}});
        assert_eq!(find_unknown(&decoder).unwrap().location, "decoder.decoders[1]");
    }

    #[test]
    fn known_types_and_untyped_models_pass() {
        let file = json!({
            "normalizer": {"type": "NFKC"},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split"}, {"type": "ByteLevel"}]},
            "model": {"vocab": {}},
            "post_processor": null,
            "decoder": {"type": "ByteLevel"}
        });
        assert_eq!(find_unknown(&file), None);
        assert_eq!(find_unknown(&json!({"model": {"type": "Bigram"}})).unwrap().component, "model");
    }
}
