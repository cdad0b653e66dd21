//! Byte-level BPE on bad input: empty text, malformed files, unknown ids, arbitrary strings.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use malmoi_tokenize::bpe::{BpeError, BpeTrainer, ByteLevelBpe};
use proptest::prelude::*;
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bpe/tokenizer.json")
}

static TOKENIZER: LazyLock<ByteLevelBpe> = LazyLock::new(|| ByteLevelBpe::from_file(fixture()).unwrap());

/// The fixture's JSON with one edit applied, written to a file in `dir`.
fn edited_fixture(dir: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    edit(&mut json);
    let path = dir.join("edited.json");
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

fn format_message(result: Result<ByteLevelBpe, BpeError>, path: &Path) -> String {
    match result {
        Err(e @ BpeError::Format { .. }) => {
            let message = e.to_string();
            assert!(message.starts_with(&path.display().to_string()), "{message}");
            message
        }
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn empty_text_gives_no_ids() {
    assert_eq!(TOKENIZER.encode("").unwrap().ids, Vec::<u32>::new());
    assert_eq!(TOKENIZER.decode(&[]).unwrap(), "");
    assert!(TOKENIZER.encode_batch::<&str>(&[]).unwrap().is_empty());
}

#[test]
fn unknown_id_is_an_error() {
    let err = TOKENIZER.decode(&[5, 800]).unwrap_err();
    assert!(matches!(err, BpeError::UnknownId { id: 800, vocab_size: 800 }), "{err}");
}

#[test]
fn missing_file_names_the_path() {
    let err = ByteLevelBpe::from_file("/nonexistent/tokenizer.json").unwrap_err();
    assert!(matches!(err, BpeError::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/tokenizer.json"));
}

#[test]
fn invalid_json_names_the_file_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "{\"model\": {\"vocab\": {\"a\": 0}, ").unwrap();
    let err = ByteLevelBpe::from_file(&path).unwrap_err();
    assert!(matches!(err, BpeError::Json { .. }));
    let message = err.to_string();
    assert!(message.contains("broken.json") && message.contains("line 1"), "{message}");
}

#[test]
fn merge_with_unknown_token_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = edited_fixture(dir.path(), |json| json["model"]["merges"][5] = serde_json::json!(["Ġ", "zzzz"]));
    let message = format_message(ByteLevelBpe::from_file(&path), &path);
    assert!(message.contains("model.merges[5]") && message.contains("zzzz"), "{message}");
}

/// Found by `crates/seq/tests/fuzz.rs`: one id of 4·10^9 made the loader allocate a 96 GB
/// id table and abort.
#[test]
fn huge_vocabulary_id_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = edited_fixture(dir.path(), |json| json["model"]["vocab"]["zzzz"] = serde_json::json!(4_000_000_000u32));
    let message = format_message(ByteLevelBpe::from_file(&path), &path);
    assert!(message.contains("ids up to 4000000000"), "{message}");
}

#[test]
fn unsupported_components_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    type Edit = fn(&mut Value);
    let cases: [(Edit, &str); 6] = [
        (|j| j["model"]["type"] = "WordPiece".into(), "model type"),
        (|j| j["normalizer"] = serde_json::json!({"type": "NFC"}), "normalizer"),
        (|j| j["pre_tokenizer"] = serde_json::json!({"type": "Whitespace"}), "pre_tokenizer"),
        (|j| j["added_tokens"][0]["id"] = 7.into(), "model.vocab gives it id 0"),
        (|j| j["added_tokens"][1]["content"] = "[NEW]".into(), "which model.vocab gives to \"<unk>\""),
        (|j| j["model"]["vocab"]["Ġ"] = 0.into(), "id 0"),
    ];
    for (edit, expected) in cases {
        let path = edited_fixture(dir.path(), edit);
        let message = format_message(ByteLevelBpe::from_file(&path), &path);
        assert!(message.contains(expected), "{message} should mention {expected}");
    }
}

#[test]
fn wrong_shape_is_a_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = edited_fixture(dir.path(), |json| json["model"]["merges"] = 3.into());
    assert!(matches!(ByteLevelBpe::from_file(&path), Err(BpeError::Json { .. })));
}

#[test]
fn save_to_a_missing_directory_is_an_io_error() {
    let err = TOKENIZER.save("/nonexistent/dir/tokenizer.json").unwrap_err();
    assert!(matches!(err, BpeError::Io { .. }), "{err}");
}

#[test]
fn empty_special_token_is_a_config_error() {
    let err = BpeTrainer::new().special_tokens([""]).train(["a"]).unwrap_err();
    assert!(matches!(err, BpeError::Config(_)));
}

#[test]
fn whitespace_only_text_round_trips() {
    for text in [" ", "\n\n", " \t \u{3000}"] {
        let ids = TOKENIZER.encode_ids(text).unwrap();
        assert!(!ids.is_empty());
        assert_eq!(TOKENIZER.decode(&ids).unwrap(), text);
    }
}

/// Strings rich in what tokenizers get wrong: Hangul, jamo, emoji, whitespace, specials.
fn tricky_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<char>().prop_map(String::from),
        "[가-힣ㄱ-ㅣ]{1,4}",
        "[ \t\n\u{3000}\u{a0}]{1,3}",
        "[😀-🙏]{1,2}",
        Just("<pad>".to_owned()),
        Just("</s>".to_owned()),
        Just("'s".to_owned()),
        "[0-9]{1,5}",
    ];
    prop::collection::vec(piece, 0..20).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_strings_round_trip(text in any::<String>()) {
        let ids = TOKENIZER.encode_ids(&text).unwrap();
        prop_assert_eq!(TOKENIZER.decode(&ids).unwrap(), text);
    }

    #[test]
    fn tricky_strings_round_trip(text in tricky_string()) {
        let encoding = TOKENIZER.encode(&text).unwrap();
        prop_assert_eq!(encoding.ids.len(), encoding.tokens.len());
        prop_assert_eq!(TOKENIZER.decode(&encoding.ids).unwrap(), text);
    }

    #[test]
    fn decoding_arbitrary_ids_never_panics(ids in prop::collection::vec(0u32..900, 0..40)) {
        match TOKENIZER.decode(&ids) {
            Ok(_) => prop_assert!(ids.iter().all(|&id| id < 800)),
            Err(BpeError::UnknownId { id, .. }) => prop_assert!(id >= 800),
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }
}
