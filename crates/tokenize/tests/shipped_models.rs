//! The shipped models' tokenizers give, through `tokenizer::Tokenizer`, exactly the ids malmoi's
//! own byte-level BPE gave them before (tests/fixtures/shipped/gpt_ids.json, written by that
//! encoder from git e9e3ca2): edge cases, and 10,000 NSMC test reviews by digest.

use std::path::{Path, PathBuf};

use malmoi_tokenize::tokenizer::Tokenizer;
use serde::Deserialize;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
    nsmc: Nsmc,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    ids: Vec<u32>,
    decoded: String,
    decoded_skip_special: String,
}

#[derive(Deserialize)]
struct Nsmc {
    reviews: usize,
    digest: String,
    total_ids: usize,
}

fn fixture() -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shipped/gpt_ids.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn gpt_tokenizer() -> Tokenizer {
    Tokenizer::from_file(workspace().join("models/gpt/tokenizer.json")).unwrap()
}

#[test]
fn shipped_gpt_tokenizer_gives_the_ids_it_gave_before() {
    let tokenizer = gpt_tokenizer();
    let fixture = fixture();
    assert!(fixture.cases.len() >= 15);
    for case in &fixture.cases {
        assert_eq!(tokenizer.encode_ids(&case.text, true).unwrap(), case.ids, "{:?}", case.text);
        assert_eq!(tokenizer.encode(&case.text, true).unwrap().ids, case.ids, "{:?}", case.text);
        assert_eq!(tokenizer.decode(&case.ids, false).unwrap(), case.decoded, "{:?}", case.text);
        assert_eq!(tokenizer.decode(&case.ids, true).unwrap(), case.decoded_skip_special, "{:?}", case.text);
    }
    assert_eq!(tokenizer.vocab_size(), 4096);
    assert_eq!(tokenizer.token_to_id("<|endoftext|>"), Some(0));
}

#[test]
fn shipped_gpt_tokenizer_encodes_nsmc_as_before() {
    let dir = std::env::var_os("MALMOI_NSMC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/data/nsmc"));
    let Ok(text) = std::fs::read_to_string(dir.join("ratings_test.txt")) else {
        eprintln!("skipped: no NSMC data (set MALMOI_NSMC_DIR or put it in ../shared/data/nsmc)");
        return;
    };
    let expected = fixture().nsmc;
    let reviews: Vec<&str> =
        text.lines().skip(1).take(expected.reviews).map(|l| l.split('\t').nth(1).unwrap_or_default()).collect();
    let encoded = gpt_tokenizer().encode_batch_ids(&reviews, true).unwrap();
    let lines: String =
        encoded.iter().map(|ids| ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ") + "\n").collect();
    let digest =
        lines.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    assert_eq!(format!("{digest:016x}"), expected.digest);
    assert_eq!(encoded.iter().map(Vec::len).sum::<usize>(), expected.total_ids);
}
