//! Byte-level BPE files and `tokenizer::Tokenizer` on bad input: empty text, malformed files,
//! unknown ids, arbitrary strings.

mod support;

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use malmoi_tokenize::bpe::{BpeError, BpeTrainer};
use malmoi_tokenize::tokenizer::{Tokenizer, TokenizerError};
use proptest::prelude::*;
use serde_json::Value;
use support::scratch_file;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bpe/tokenizer.json")
}

static TOKENIZER: LazyLock<Tokenizer> = LazyLock::new(|| Tokenizer::from_file(fixture()).unwrap());

/// The fixture's JSON with one edit applied, written to a file in `dir`.
fn edited_fixture(dir: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    edit(&mut json);
    let path = dir.join("edited.json");
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

/// The message of a `Json` error, which must start with the file's path.
fn json_message(result: Result<Tokenizer, TokenizerError>, path: &Path) -> String {
    match result {
        Err(e @ TokenizerError::Json { .. }) => {
            let message = e.to_string();
            assert!(message.starts_with(&path.display().to_string()), "{message}");
            message
        }
        other => panic!("expected a JSON error, got {other:?}"),
    }
}

#[test]
fn empty_text_gives_no_ids() {
    assert_eq!(TOKENIZER.encode("", true).unwrap().ids, Vec::<u32>::new());
    assert_eq!(TOKENIZER.decode(&[], false).unwrap(), "");
    assert!(TOKENIZER.encode_batch::<&str>(&[], true).unwrap().is_empty());
}

#[test]
fn unknown_id_is_an_error() {
    let err = TOKENIZER.decode(&[5, 800], false).unwrap_err();
    assert!(matches!(err, TokenizerError::UnknownId { id: 800, max_token_id: Some(799) }), "{err}");
}

#[test]
fn missing_file_names_the_path() {
    let err = Tokenizer::from_file("/nonexistent/tokenizer.json").unwrap_err();
    assert!(matches!(err, TokenizerError::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/tokenizer.json"));
}

#[test]
fn invalid_json_names_the_file_and_position() {
    let (_dir, path) = scratch_file("broken.json", "{\"model\": {\"vocab\": {\"a\": 0}, ");
    let message = json_message(Tokenizer::from_file(&path), &path);
    assert!(message.contains("broken.json") && message.contains("line 1"), "{message}");
}

#[test]
fn merge_with_unknown_token_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = edited_fixture(dir.path(), |json| json["model"]["merges"][5] = serde_json::json!(["Ġ", "zzzz"]));
    let message = json_message(Tokenizer::from_file(&path), &path);
    assert!(message.contains("zzzz"), "{message}");
}

/// Found by `crates/seq/tests/fuzz.rs`: one id of 4·10^9 made the old loader allocate a 96 GB
/// id table and abort; the id set is now a hash set for such files.
#[test]
fn huge_vocabulary_id_loads_without_a_huge_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = edited_fixture(dir.path(), |json| json["model"]["vocab"]["zzzz"] = serde_json::json!(4_000_000_000u32));
    let tokenizer = Tokenizer::from_file(&path).unwrap();
    assert_eq!(tokenizer.max_token_id(), Some(4_000_000_000));
    assert_eq!(tokenizer.decode(&[4_000_000_000], false).unwrap(), "zzzz");
    assert!(matches!(tokenizer.decode(&[3_999_999_999], false), Err(TokenizerError::UnknownId { .. })));
}

#[test]
fn every_component_type_loads_and_unknown_types_are_named() {
    let dir = tempfile::tempdir().unwrap();
    type Edit = fn(&mut Value);
    let loads: [Edit; 3] = [
        |j| j["normalizer"] = serde_json::json!({"type": "NFC"}),
        |j| j["pre_tokenizer"] = serde_json::json!({"type": "Whitespace"}),
        |j| j["model"]["byte_fallback"] = true.into(),
    ];
    for edit in loads {
        let path = edited_fixture(dir.path(), edit);
        assert!(Tokenizer::from_file(&path).is_ok(), "{}", std::fs::read_to_string(&path).unwrap());
    }
    let path = edited_fixture(dir.path(), |j| j["pre_tokenizer"] = serde_json::json!({"type": "Mystery"}));
    let message = Tokenizer::from_file(&path).unwrap_err().to_string();
    assert!(message.contains("unknown pre_tokenizer type \"Mystery\""), "{message}");
}

#[test]
fn wrong_shape_is_a_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = edited_fixture(dir.path(), |json| json["model"]["merges"] = 3.into());
    json_message(Tokenizer::from_file(&path), &path);
}

#[test]
fn save_to_a_missing_directory_is_an_io_error() {
    let err = TOKENIZER.save("/nonexistent/dir/tokenizer.json").unwrap_err();
    assert!(matches!(err, TokenizerError::Io { .. }), "{err}");
}

#[test]
fn empty_special_token_is_a_config_error() {
    let err = BpeTrainer::new().special_tokens([""]).train(["a"]).unwrap_err();
    assert!(matches!(err, BpeError::Config(_)));
}

#[test]
fn whitespace_only_text_round_trips() {
    for text in [" ", "\n\n", " \t \u{3000}"] {
        let ids = TOKENIZER.encode_ids(text, true).unwrap();
        assert!(!ids.is_empty());
        assert_eq!(TOKENIZER.decode(&ids, false).unwrap(), text);
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
        let ids = TOKENIZER.encode_ids(&text, true).unwrap();
        prop_assert_eq!(TOKENIZER.decode(&ids, false).unwrap(), text);
    }

    #[test]
    fn tricky_strings_round_trip(text in tricky_string()) {
        let encoding = TOKENIZER.encode(&text, true).unwrap();
        prop_assert_eq!(encoding.ids.len(), encoding.tokens.len());
        prop_assert_eq!(TOKENIZER.decode(&encoding.ids, false).unwrap(), text.as_str());
        let untrusted = TOKENIZER.encode_untrusted(&text, true).unwrap();
        prop_assert!(untrusted.ids.iter().all(|&id| !TOKENIZER.is_special(id)));
        prop_assert_eq!(TOKENIZER.decode(&untrusted.ids, false).unwrap(), text);
    }

    #[test]
    fn decoding_arbitrary_ids_never_panics(ids in prop::collection::vec(0u32..900, 0..40)) {
        match TOKENIZER.decode(&ids, false) {
            Ok(_) => prop_assert!(ids.iter().all(|&id| id < 800)),
            Err(TokenizerError::UnknownId { id, .. }) => prop_assert!(id >= 800),
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }
}

/// Trains a 500-token BPE on `text` alone in a thread; `None` if that takes over `seconds`.
fn train_within(text: String, seconds: u64) -> Option<Box<Tokenizer>> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(Box::new(BpeTrainer::new().vocab_size(500).train([text]).unwrap())));
    receiver.recv_timeout(std::time::Duration::from_secs(seconds)).ok()
}

/// Issue 26: a merge used to cost time quadratic in the length of the word it rewrote (one word
/// of 1M `a`s took 34 s, of 1M Hangul syllables over 60 s); now it is linear (well under a second each).
#[test]
fn one_huge_word_trains_in_linear_time() {
    let mut state = 12_345_u32;
    let hangul: String = (0..1_000_000)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            char::from_u32(0xAC00 + (state >> 16) % 11_172).unwrap()
        })
        .collect();
    for (what, text) in [("1M a", "a".repeat(1_000_000)), ("1M Hangul syllables", hangul)] {
        let tokenizer = train_within(text.clone(), 20).unwrap_or_else(|| panic!("{what}: training took over 20 s"));
        assert!(tokenizer.vocab_size() > 256 && tokenizer.vocab_size() <= 500, "{what}: {}", tokenizer.vocab_size());
        let ids = tokenizer.encode_ids(&text, false).unwrap();
        assert!(ids.len() < text.len(), "{what}: merges were learned");
        assert_eq!(tokenizer.decode(&ids, false).unwrap(), text, "{what}");
    }
}
