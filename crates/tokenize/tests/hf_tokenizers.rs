//! `tokenizer::Tokenizer` against Python `tokenizers` 0.23.3 on five Korean-capable tokenizers and
//! one of every other component (tests/fixtures/hf_tokenizers, written by
//! benches/reference/hf_tokenizer_fixtures.py): ids, tokens, byte offsets and decoded text of the
//! edge cases, FNV digests of 10,000 NSMC test reviews, each pre-tokenizer's and normalizer's
//! output, saving and reloading, untrusted text, and the decode stream.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use malmoi_tokenize::tokenizer::{Tokenizer, TokenizerError};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

/// The fixture tokenizers: four model types, three decoders' ways of spelling spaces and bytes.
const NAMES: [&str; 6] = [
    "kogpt2_metaspace_bpe",
    "llama2_byte_fallback_bpe",
    "qwen2_byte_level_bpe",
    "bert_wordpiece",
    "xlmr_unigram",
    "components",
];

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf_tokenizers")
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

static TOKENIZERS: LazyLock<Vec<(&'static str, Tokenizer)>> = LazyLock::new(|| {
    NAMES
        .iter()
        .map(|&name| {
            let path = fixture_dir().join(name).join("tokenizer.json");
            (name, Tokenizer::from_file(&path).unwrap_or_else(|e| panic!("{e}")))
        })
        .collect()
});

fn tokenizer(name: &str) -> &'static Tokenizer {
    &TOKENIZERS.iter().find(|(n, _)| *n == name).unwrap().1
}

#[derive(Deserialize)]
struct Case {
    name: String,
    text: String,
    add_special_tokens: bool,
    ids: Vec<u32>,
    tokens: Vec<String>,
    offsets_bytes: Vec<(usize, usize)>,
    decoded: String,
    decoded_skip_special: String,
}

fn cases(name: &str) -> Vec<Case> {
    read_json(&fixture_dir().join(name).join("cases.json"))
}

/// Every difference between `tokenizer` and Python on `name`'s cases, one line each.
fn case_mismatches(name: &str, tokenizer: &Tokenizer) -> Vec<String> {
    let mut problems = Vec::new();
    for case in cases(name) {
        let what = format!("{name}/{} (add_special_tokens={})", case.name, case.add_special_tokens);
        let encoding = tokenizer.encode(&case.text, case.add_special_tokens).unwrap();
        let mut check = |field: &str, equal: bool, ours: String, python: String| {
            if !equal {
                problems.push(format!("{what}: {field}: ours {ours}, Python {python}"));
            }
        };
        check("ids", encoding.ids == case.ids, format!("{:?}", encoding.ids), format!("{:?}", case.ids));
        check("tokens", encoding.tokens == case.tokens, format!("{:?}", encoding.tokens), format!("{:?}", case.tokens));
        let offsets_equal = encoding.offsets == case.offsets_bytes;
        check("offsets", offsets_equal, format!("{:?}", encoding.offsets), format!("{:?}", case.offsets_bytes));
        let decoded = tokenizer.decode(&case.ids, false).unwrap();
        check("decoded", decoded == case.decoded, format!("{decoded:?}"), format!("{:?}", case.decoded));
        let skipped = tokenizer.decode(&case.ids, true).unwrap();
        let skip_equal = skipped == case.decoded_skip_special;
        check("decoded_skip_special", skip_equal, format!("{skipped:?}"), format!("{:?}", case.decoded_skip_special));
        check(
            "encode_ids",
            tokenizer.encode_ids(&case.text, case.add_special_tokens).unwrap() == case.ids,
            "".into(),
            "".into(),
        );
    }
    problems
}

#[test]
fn edge_cases_encode_and_decode_like_python() {
    let problems: Vec<String> =
        TOKENIZERS.iter().flat_map(|(name, tokenizer)| case_mismatches(name, tokenizer)).collect();
    assert!(problems.is_empty(), "{} mismatches:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn every_fixture_has_its_cases() {
    for name in NAMES {
        let cases = cases(name);
        assert_eq!(cases.len(), 31, "{name}");
        assert!(cases.iter().any(|c| c.name.starts_with("special_in_text")), "{name}");
    }
}

/// The NSMC data directory: `MALMOI_NSMC_DIR`, else `../shared/data/nsmc` beside the workspace.
fn nsmc_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MALMOI_NSMC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/nsmc"));
    dir.join("ratings_test.txt").is_file().then_some(dir)
}

/// The `document` column of an NSMC file, header skipped, empty documents kept, as the fixture script reads it.
fn documents(path: &Path, limit: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().skip(1).take(limit).map(|line| line.split('\t').nth(1).unwrap_or_default().to_owned()).collect()
}

/// FNV-1a 64 of `bytes`, as 16 lowercase hex digits.
fn fnv1a64(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}

#[derive(Deserialize)]
struct Reviews {
    reviews: usize,
    chunk: usize,
    digests: Vec<String>,
    total_ids: usize,
}

/// The digest line of one review (see reviews.json's `definition`).
fn review_line(tokenizer: &Tokenizer, review: &str) -> (String, usize) {
    let encoding = tokenizer.encode(review, true).unwrap();
    let ids: Vec<String> = encoding.ids.iter().map(u32::to_string).collect();
    let decoded = tokenizer.decode(&encoding.ids, false).unwrap();
    (format!("{}\t{}\t{decoded}\n", ids.join(" "), encoding.tokens.join("\x1f")), encoding.ids.len())
}

#[test]
fn ten_thousand_nsmc_reviews_match_python_digests() {
    let Some(dir) = nsmc_dir() else {
        eprintln!("skipped: no NSMC data (set MALMOI_NSMC_DIR or put it in ../shared/data/nsmc)");
        return;
    };
    for (name, tokenizer) in TOKENIZERS.iter() {
        let expected: Reviews = read_json(&fixture_dir().join(name).join("reviews.json"));
        let reviews = documents(&dir.join("ratings_test.txt"), expected.reviews);
        assert_eq!(reviews.len(), expected.reviews);
        let mut total = 0;
        for (k, chunk) in reviews.chunks(expected.chunk).enumerate() {
            let mut text = String::new();
            for review in chunk {
                let (line, ids) = review_line(tokenizer, review);
                text.push_str(&line);
                total += ids;
            }
            assert_eq!(
                fnv1a64(text.as_bytes()),
                expected.digests[k],
                "{name}: chunk {k} (reviews {})",
                k * expected.chunk
            );
        }
        assert_eq!(total, expected.total_ids, "{name}");
    }
}

/// A tokenizer with one component set and an empty WordLevel model, to run that component alone.
fn with_component(key: &str, config: &Value) -> Tokenizer {
    let mut json = json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null,
        "model": {"type": "WordLevel", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}
    });
    json[key] = config.clone();
    Tokenizer::from_json_value(json).unwrap_or_else(|e| panic!("{key} {config}: {e}"))
}

/// Character offsets into `text` as byte offsets.
fn char_to_byte(text: &str, (start, end): (usize, usize)) -> (usize, usize) {
    let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
    (starts[start], starts[end])
}

/// Pre-tokenized pieces with their offsets.
type Pieces = Vec<(String, (usize, usize))>;

#[derive(Deserialize)]
struct Behaviours {
    pre_tokenizers: Vec<Component<Pieces>>,
    normalizers: Vec<Component<String>>,
}

#[derive(Deserialize)]
struct Component<T> {
    name: String,
    config: Value,
    outputs: Vec<Output<T>>,
}

#[derive(Deserialize)]
struct Output<T> {
    input: String,
    output: T,
}

#[test]
fn every_pre_tokenizer_and_normalizer_behaves_like_python() {
    let behaviours: Behaviours = read_json(&fixture_dir().join("components/components_split_behaviours.json"));
    assert!(behaviours.pre_tokenizers.len() >= 50 && behaviours.normalizers.len() >= 19);
    let mut problems = Vec::new();
    for component in &behaviours.pre_tokenizers {
        let tokenizer = with_component("pre_tokenizer", &component.config);
        for Output { input, output } in &component.outputs {
            let expected: Pieces =
                output.iter().map(|(piece, span)| (piece.clone(), char_to_byte(input, *span))).collect();
            let ours = tokenizer.pre_tokenize_str(input).unwrap();
            if ours != expected {
                problems.push(format!("{} on {input:?}: ours {ours:?}, Python {expected:?}", component.name));
            }
        }
    }
    for component in &behaviours.normalizers {
        let tokenizer = with_component("normalizer", &component.config);
        for Output { input, output } in &component.outputs {
            let ours = tokenizer.normalize_str(input).unwrap();
            if &ours != output {
                problems.push(format!("{} on {input:?}: ours {ours:?}, Python {output:?}", component.name));
            }
        }
    }
    assert!(problems.is_empty(), "{} mismatches:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn saved_tokenizers_reload_with_the_same_ids() {
    let dir = tempfile::tempdir().unwrap();
    // benches/reference/tokenizer_roundtrip.py loads these in Python `tokenizers`.
    let keep = std::env::var_os("MALMOI_SAVE_TOKENIZERS_TO").map(PathBuf::from);
    for (name, tokenizer) in TOKENIZERS.iter() {
        let path = dir.path().join(format!("{name}.json"));
        tokenizer.save(&path).unwrap();
        if let Some(keep) = &keep {
            std::fs::create_dir_all(keep).unwrap();
            tokenizer.save(keep.join(format!("{name}.json"))).unwrap();
        }
        let reloaded = Tokenizer::from_file(&path).unwrap();
        assert_eq!(reloaded.to_json_string().unwrap(), tokenizer.to_json_string().unwrap(), "{name}");
        for case in cases(name) {
            assert_eq!(
                reloaded.encode(&case.text, case.add_special_tokens).unwrap().ids,
                case.ids,
                "{name}/{}",
                case.name
            );
        }
        assert_eq!(reloaded.vocab_size(), tokenizer.vocab_size());
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), NAMES.len(), "temporary files left: {leftovers:?}");
}

#[test]
fn vocabulary_queries_agree_with_each_other() {
    for (name, tokenizer) in TOKENIZERS.iter() {
        let vocab = tokenizer.vocab(true);
        assert_eq!(tokenizer.vocab_size(), vocab.len(), "{name}");
        assert_eq!(tokenizer.max_token_id(), vocab.values().max().copied(), "{name}");
        for (token, &id) in &vocab {
            assert_eq!(tokenizer.token_to_id(token), Some(id), "{name}: {token:?}");
            assert_eq!(tokenizer.id_to_token(id).as_deref(), Some(token.as_str()), "{name}: {id}");
        }
        assert!(tokenizer.special_tokens().count() >= 2, "{name}");
        for special in tokenizer.special_tokens() {
            assert!(tokenizer.is_special(special.id), "{name}: {special:?}");
            assert_eq!(tokenizer.token_to_id(&special.content), Some(special.id));
        }
        let unknown = tokenizer.max_token_id().unwrap() + 1;
        assert!(
            matches!(tokenizer.decode(&[unknown], false), Err(TokenizerError::UnknownId { id, .. }) if id == unknown)
        );
    }
}

#[test]
fn untrusted_text_never_becomes_special_tokens() {
    for (name, tokenizer) in TOKENIZERS.iter() {
        for case in cases(name).iter().filter(|c| c.name.starts_with("special_in_text")) {
            let trusted = tokenizer.encode(&case.text, false).unwrap();
            let untrusted = tokenizer.encode_untrusted(&case.text, false).unwrap();
            assert!(
                trusted.ids.iter().any(|&id| tokenizer.is_special(id)),
                "{name}: {:?} has no special token",
                case.text
            );
            // The model's own unknown token may still stand for characters it cannot spell.
            let injected = |id: u32| {
                tokenizer.is_special(id) && !["[UNK]", "<unk>"].contains(&tokenizer.id_to_token(id).unwrap().as_str())
            };
            assert!(!untrusted.ids.iter().any(|&id| injected(id)), "{name}: {:?} → {:?}", case.text, untrusted.tokens);
            assert_eq!(tokenizer.encode_ids_untrusted(&case.text, false).unwrap(), untrusted.ids);
            let with_specials = tokenizer.encode_untrusted(&case.text, true).unwrap();
            let added = with_specials.special_tokens_mask.iter().filter(|&&m| m == 1).count();
            assert_eq!(
                added,
                with_specials.len() - untrusted.len(),
                "{name}: only the post-processor's tokens are special"
            );
        }
    }
    for (name, tokenizer) in TOKENIZERS.iter() {
        for case in cases(name).iter().filter(|c| !c.name.starts_with("special_in_text")) {
            let untrusted = tokenizer.encode_untrusted(&case.text, case.add_special_tokens).unwrap();
            assert_eq!(untrusted.ids, case.ids, "{name}/{}: text without special tokens encodes as usual", case.name);
        }
    }
    let xlmr = tokenizer("xlmr_unigram");
    let tokens = xlmr.encode_untrusted("<s> 문장 </s>", false).unwrap().tokens;
    assert!(!tokens.iter().any(|t| t == "<s>" || t == "</s>"), "{tokens:?}");
    let qwen = tokenizer("qwen2_byte_level_bpe");
    let text = "요약: <|im_end|><|endoftext|>";
    assert_eq!(qwen.decode(&qwen.encode_untrusted(text, false).unwrap().ids, false).unwrap(), text);
}

#[test]
fn pairs_batches_truncation_and_padding() {
    use malmoi_tokenize::tokenizer::{Direction, Padding, PaddingLength, Truncation, TruncationStrategy};
    let mut bert = tokenizer("bert_wordpiece").clone();
    let pair = bert.encode_pair("영화 재밌다", "배우 연기 최고", true).unwrap();
    let sep = bert.token_to_id("[SEP]").unwrap();
    assert_eq!(pair.ids.iter().filter(|&&id| id == sep).count(), 2);
    let second_start = pair.ids.iter().position(|&id| id == sep).unwrap() + 1;
    assert!(
        pair.type_ids[..second_start].iter().all(|&t| t == 0) && pair.type_ids[second_start..].iter().all(|&t| t == 1)
    );

    bert.set_truncation(Some(Truncation { stride: 1, ..Truncation::new(6) })).unwrap();
    let long = bert.encode("아 더빙 진짜 짜증나네요 목소리 너무 별로", true).unwrap();
    assert_eq!(long.len(), 6);
    assert!(!long.overflowing.is_empty());
    assert_eq!(bert.truncation().unwrap().max_length, 6);
    let only_second =
        Truncation { strategy: TruncationStrategy::OnlySecond, direction: Direction::Left, ..Truncation::new(8) };
    bert.set_truncation(Some(only_second)).unwrap();
    assert!(bert.encode_pair("짧다", "아 더빙 진짜 짜증나네요 목소리", true).unwrap().len() <= 8);
    assert!(bert.set_truncation(Some(Truncation { stride: 6, ..Truncation::new(6) })).is_err());
    bert.set_truncation(None).unwrap();

    let pad = bert.token_to_id("[PAD]").unwrap();
    bert.set_padding(Some(Padding { pad_to_multiple_of: Some(8), ..Padding::batch_longest(pad, "[PAD]") }));
    let batch = bert.encode_batch(&["영화", "아 더빙 진짜 짜증나네요"], true).unwrap();
    assert_eq!(batch[0].len(), batch[1].len());
    assert_eq!(batch[0].len() % 8, 0);
    assert_eq!(
        batch[0].attention_mask.iter().filter(|&&m| m == 0).count(),
        batch[0].ids.iter().filter(|&&id| id == pad).count()
    );
    assert_eq!(bert.encode_batch_ids(&["영화", "아 더빙"], true).unwrap()[0].len(), 8);
    let pairs = bert.encode_pair_batch(&[("영화", "최고"), ("아 더빙 진짜", "짜증나네요")], true).unwrap();
    assert_eq!(pairs[0].len(), pairs[1].len());
    bert.set_padding(Some(Padding {
        length: PaddingLength::Fixed(4),
        direction: Direction::Left,
        ..Padding::batch_longest(pad, "[PAD]")
    }));
    assert_eq!(bert.encode("", true).unwrap().ids, [pad, pad, 2, 3]);
    assert_eq!(bert.padding().unwrap().length, PaddingLength::Fixed(4));
}

#[test]
fn errors_name_the_file_and_the_unknown_component() {
    let dir = tempfile::tempdir().unwrap();
    let mut json: Value = read_json(&fixture_dir().join("components/tokenizer.json"));
    json["decoder"] = json!({"type": "Sequence", "decoders": [{"type": "Fuse"}, {"type": "Nope"}]});
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, json.to_string()).unwrap();
    let message = Tokenizer::from_file(&path).unwrap_err().to_string();
    assert!(message.starts_with(&path.display().to_string()), "{message}");
    assert!(message.contains("unknown decoder type \"Nope\" at decoder.decoders[1]"), "{message}");

    json["decoder"] = Value::Null;
    json["normalizer"] = json!({"type": "Nope"});
    let err = Tokenizer::from_json_str(&json.to_string()).unwrap_err();
    assert!(
        matches!(&err, TokenizerError::UnknownComponent { component: "normalizer", type_name, .. } if type_name == "Nope")
    );
    assert!(err.to_string().starts_with("<memory>: unknown normalizer type"), "{err}");

    json["normalizer"] = json!({"type": "Replace", "pattern": {"Regex": "("}, "content": "x"});
    let err = Tokenizer::from_json_str(&json.to_string()).unwrap_err();
    assert!(matches!(err, TokenizerError::Json { .. }), "{err}");

    let missing = Tokenizer::from_file(dir.path().join("absent.json")).unwrap_err();
    assert!(matches!(&missing, TokenizerError::Io { path, .. } if path.ends_with("absent.json")));
    assert!(matches!(Tokenizer::from_bytes(b"{not json"), Err(TokenizerError::Json { .. })));
    assert!(Tokenizer::from_bytes([0xff, 0xfe]).is_err());
}

/// Streams `ids` one by one and returns the chunks emitted, `finish`'s rest last.
fn stream(tokenizer: &Tokenizer, ids: &[u32], skip_special: bool) -> Vec<String> {
    let mut stream = tokenizer.decode_stream(skip_special);
    let mut chunks: Vec<String> = ids.iter().filter_map(|&id| stream.step(id).unwrap()).collect();
    chunks.push(stream.finish().unwrap());
    chunks
}

#[test]
fn streaming_nsmc_reviews_emits_whole_characters_as_soon_as_they_are_final() {
    let reviews: Vec<String> = cases("components")
        .into_iter()
        .map(|c| c.text)
        .chain([
            "한국어 스트리밍 😀👍🏽 테스트".to_owned(),
            "아 더빙.. 진짜 짜증나네요 목소리".to_owned(),
            "##시작 ▁밑줄 <|endoftext|>".to_owned(),
        ])
        .collect();
    for (name, tokenizer) in TOKENIZERS.iter() {
        for review in &reviews {
            let ids = tokenizer.encode(review, true).unwrap().ids;
            for skip_special in [false, true] {
                let chunks = stream(tokenizer, &ids, skip_special);
                let whole = tokenizer.decode(&ids, skip_special).unwrap();
                assert_eq!(chunks.concat(), whole, "{name}: {review:?}");
                if !whole.contains('\u{FFFD}') {
                    assert!(chunks.iter().all(|c| !c.contains('\u{FFFD}')), "{name}: {review:?}: {chunks:?}");
                }
            }
        }
    }
}

#[test]
fn byte_level_streams_emit_every_complete_prefix_immediately() {
    let qwen = tokenizer("qwen2_byte_level_bpe");
    let ids = qwen.encode("가나다라 😀 🇰🇷 끝", false).unwrap().ids;
    let mut stream = qwen.decode_stream(false);
    let mut emitted = String::new();
    for (i, &id) in ids.iter().enumerate() {
        emitted.push_str(&stream.step(id).unwrap().unwrap_or_default());
        let prefix = qwen.decode(&ids[..=i], false).unwrap();
        if !prefix.ends_with('\u{FFFD}') {
            assert_eq!(emitted, prefix, "after {} ids", i + 1);
        }
    }
    assert_eq!(stream.finish().unwrap(), "");
}

#[test]
fn streams_reject_unknown_ids() {
    let llama = tokenizer("llama2_byte_fallback_bpe");
    let mut stream = llama.decode_stream(true);
    assert!(matches!(stream.step(u32::MAX), Err(TokenizerError::UnknownId { .. })));
    assert_eq!(stream.finish().unwrap(), "");
}

/// Random id sequences over a tokenizer's whole vocabulary (special tokens included).
fn random_ids(max_id: u32) -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(0..=max_id, 0..40)
}

/// Byte-heavy random ids: each id is a byte token (`<0x..>` or a byte-level single byte) half the time.
fn byte_heavy_ids(tokenizer: &'static Tokenizer) -> impl Strategy<Value = Vec<u32>> {
    let max_id = tokenizer.max_token_id().unwrap();
    let bytes: Vec<u32> = (0..=max_id)
        .filter(|&id| tokenizer.id_to_token(id).is_some_and(|t| t.starts_with("<0x") || t.chars().count() == 1))
        .collect();
    prop::collection::vec(prop_oneof![0..=max_id, prop::sample::select(bytes)], 0..40)
}

fn check_stream(name: &str, ids: &[u32], skip_special: bool) -> Result<(), TestCaseError> {
    let tokenizer = tokenizer(name);
    let chunks = stream(tokenizer, ids, skip_special);
    prop_assert_eq!(chunks.concat(), tokenizer.decode(ids, skip_special).unwrap(), "{}: {:?}", name, ids);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn streamed_text_equals_the_full_decode(index in 0..NAMES.len(), seed in random_ids(u32::MAX), skip in any::<bool>()) {
        let name = NAMES[index];
        let max_id = tokenizer(name).max_token_id().unwrap();
        let ids: Vec<u32> = seed.iter().map(|id| id % (max_id + 1)).collect();
        check_stream(name, &ids, skip)?;
    }

    #[test]
    fn streamed_byte_tokens_equal_the_full_decode(
        ids in byte_heavy_ids(tokenizer("llama2_byte_fallback_bpe")), skip in any::<bool>()
    ) {
        check_stream("llama2_byte_fallback_bpe", &ids, skip)?;
    }

    #[test]
    fn streamed_byte_level_tokens_equal_the_full_decode(
        ids in byte_heavy_ids(tokenizer("qwen2_byte_level_bpe")), skip in any::<bool>()
    ) {
        check_stream("qwen2_byte_level_bpe", &ids, skip)?;
    }

    #[test]
    fn streamed_wordpiece_and_metaspace_equal_the_full_decode(
        ids in byte_heavy_ids(tokenizer("bert_wordpiece")), skip in any::<bool>(), metaspace in any::<bool>()
    ) {
        let name = if metaspace { "kogpt2_metaspace_bpe" } else { "bert_wordpiece" };
        let max_id = tokenizer(name).max_token_id().unwrap();
        let ids: Vec<u32> = ids.iter().map(|id| id % (max_id + 1)).collect();
        check_stream(name, &ids, skip)?;
    }
}

/// `tokenizers` panics on these (found by tests/fuzz.rs); they must be errors naming the file.
#[test]
fn components_tokenizers_panics_on_are_errors() {
    let mut json: Value = read_json(&fixture_dir().join("llama2_byte_fallback_bpe/tokenizer.json"));
    json["normalizer"] = json!({"type": "Precompiled", "precompiled_charsmap": 3});
    let err = Tokenizer::from_json_str(&json.to_string()).unwrap_err();
    assert!(matches!(err, TokenizerError::Json { .. }), "{err}");
    let broken_decoder = r#"{"version": "1.0", "added_tokens": [], "normalizer": null, "pre_tokenizer": null,
        "post_processor": null, "decoder": {"type": "ByteLevel", x}, "model": {"type": "BPE", "vocab": {}, "merges": []}}"#;
    let err = Tokenizer::from_bytes(broken_decoder).unwrap_err().to_string();
    assert!(err.contains("line 2"), "{err}");
}
