//! KoChatGPT's data formats: round trips, line-numbered errors, skipping, layout detection, pair
//! construction and the real conversation file.

use std::path::{Path, PathBuf};

use malmoi_rlhf::Error;
use malmoi_rlhf::data::{
    Conversation, JsonRecord, Layout, PreferencePair, PromptRecord, RankingRecord, ReadOptions, Records, SftRecord,
    parse_conversations, parse_records, read_conversations, read_records, write_records,
};
use malmoi_rlhf::template::{ChatMessage, PromptTemplate, Role, conversation_text};

fn parse<T: JsonRecord>(text: &str, options: ReadOptions) -> malmoi_rlhf::Result<Records<T>> {
    parse_records(text, Path::new("test.jsonl"), &options)
}

/// The line and reason of the `Error::Record` that parsing `text` strictly gives.
fn record_error<T: JsonRecord + std::fmt::Debug>(text: &str) -> (usize, String) {
    match parse::<T>(text, ReadOptions::strict()) {
        Err(Error::Record { path, line, reason }) => {
            assert_eq!(path, PathBuf::from("test.jsonl"));
            (line, reason)
        }
        other => panic!("expected a record error, got {other:?}"),
    }
}

fn ranking(prompt: &str, completions: [&str; 3], ranking: [usize; 3]) -> RankingRecord {
    RankingRecord::new(prompt, completions.map(String::from).to_vec(), ranking.to_vec()).unwrap()
}

#[test]
fn sft_records_round_trip_in_kochatgpt_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sft.jsonl");
    let records = vec![
        SftRecord {
            prompt: "불고기용 고기 한우에요?".into(),
            completion: "'저는 인공지능 챗봇이며'".into(),
            tokens: Some(193),
        },
        SftRecord::new("줄바꿈\n\"따옴표\"", "답 \\ 역슬래시\t탭"),
    ];
    write_records(&path, &records).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    // KoChatGPT's layout: a pretty array, four-space indent, Korean unescaped, fields in order
    assert!(
        text.starts_with("[\n    {\n        \"prompt\": \"불고기용 고기 한우에요?\",\n        \"completion\""),
        "{text}"
    );
    assert!(!text.contains("\\u"), "{text}");
    assert!(!text.contains("\"tokens\": null"), "absent token counts are left out: {text}");
    let read = read_records::<SftRecord>(&path, &ReadOptions::strict()).unwrap();
    assert_eq!(read.layout, Layout::JsonArray);
    assert_eq!(read.records, records);
    assert!(read.skipped.is_empty());
}

#[test]
fn ranking_records_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rm.jsonl");
    let records = vec![ranking("질문", ["가", "나", "다"], [2, 0, 1]), ranking("두 번째", ["A", "B", "C"], [0, 1, 2])];
    write_records(&path, &records).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let order: Vec<usize> = ["\"prompt\"", "\"completion_0\"", "\"completion_1\"", "\"completion_2\"", "\"ranking\""]
        .iter()
        .map(|key| text.find(key).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "KoChatGPT's field order: {text}");
    assert_eq!(read_records::<RankingRecord>(&path, &ReadOptions::strict()).unwrap().records, records);
}

#[test]
fn prompt_records_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ppo.jsonl");
    let records: Vec<PromptRecord> = ["이 영화의 감독은 누구야?", "비 오는 날 볼 만한 영화를 추천해 줘"]
        .into_iter()
        .map(|prompt| PromptRecord { prompt: prompt.into() })
        .collect();
    write_records(&path, &records).unwrap();
    assert_eq!(read_records::<PromptRecord>(&path, &ReadOptions::strict()).unwrap().records, records);
}

#[test]
fn writers_refuse_records_that_would_not_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    let bad = [SftRecord::new("ok", "fine"), SftRecord::new(" ", "no prompt")];
    let error = write_records(&path, &bad).unwrap_err();
    assert!(matches!(&error, Error::Input(m) if m.contains("SFT record 1") && m.contains("`prompt`")), "{error}");
    assert!(!path.exists(), "nothing is written");
    let not_a_permutation =
        RankingRecord { prompt: "p".into(), completions: vec!["a".into(), "b".into()], ranking: vec![1, 1] };
    assert!(write_records(&path, &[not_a_permutation]).is_err());
    assert!(RankingRecord::new("p", vec!["a".into(), "b".into()], vec![0, 0]).is_err());
}

#[test]
fn json_lines_and_arrays_are_told_apart_by_the_first_character() {
    let lines = "\n  {\"prompt\": \"하나\"}\n\n{\"prompt\": \"둘\"}\n";
    let read = parse::<PromptRecord>(lines, ReadOptions::strict()).unwrap();
    assert_eq!(read.layout, Layout::JsonLines);
    assert_eq!(read.records.iter().map(|r| r.prompt.as_str()).collect::<Vec<_>>(), ["하나", "둘"]);

    let array = "\u{feff}  \n [{\"prompt\": \"하나\"},\n {\"prompt\": \"둘\"}]";
    let read = parse::<PromptRecord>(array, ReadOptions::strict()).unwrap();
    assert_eq!(read.layout, Layout::JsonArray);
    assert_eq!(read.records.len(), 2);

    // a whole array on one line (as `json.dump` without indent writes it) is still an array
    let one_line = r#"[{"prompt": "a"}, {"prompt": "b"}, {"prompt": "c"}]"#;
    assert_eq!(parse::<PromptRecord>(one_line, ReadOptions::strict()).unwrap().records.len(), 3);

    assert_eq!(parse::<PromptRecord>("", ReadOptions::strict()).unwrap().records, vec![]);
    assert_eq!(parse::<PromptRecord>("[]", ReadOptions::strict()).unwrap().layout, Layout::JsonArray);
}

#[test]
fn array_records_are_reported_at_the_line_they_start_on() {
    let text = r#"[
    {
        "prompt": "첫째",
        "completion": "좋아요"
    },
    {
        "prompt": "둘째",
        "completion": 3
    }
]"#;
    let (line, reason) = record_error::<SftRecord>(text);
    assert_eq!(line, 6);
    assert!(reason.contains("`completion`") && reason.contains("string"), "{reason}");

    let missing = "[\n{\"prompt\": \"a\", \"completion\": \"b\"},\n\n{\"prompt\": \"c\"}]";
    let (line, reason) = record_error::<SftRecord>(missing);
    assert_eq!((line, reason.as_str()), (4, "missing field `completion`"));

    let wrong_tokens = "[{\"prompt\": \"a\", \"completion\": \"b\", \"tokens\": -1}]";
    let (line, reason) = record_error::<SftRecord>(wrong_tokens);
    assert_eq!(line, 1);
    assert!(reason.contains("`tokens`"), "{reason}");

    let not_an_object = "[\n{\"prompt\": \"a\"},\n\"just text\"\n]";
    let (line, reason) = record_error::<PromptRecord>(not_an_object);
    assert_eq!(line, 3);
    assert!(reason.contains("JSON object"), "{reason}");

    let empty = "[\n{\"prompt\": \"a\"},\n{\"prompt\": \"   \"}\n]";
    assert_eq!(record_error::<PromptRecord>(empty), (3, "field `prompt` is empty".to_string()));
}

#[test]
fn json_lines_errors_name_their_line() {
    let text = "{\"prompt\": \"a\"}\n{\"prompt\": 1}\n";
    let (line, reason) = record_error::<PromptRecord>(text);
    assert_eq!(line, 2);
    assert!(reason.contains("`prompt`") && reason.contains("number"), "{reason}");

    let broken = "{\"prompt\": \"a\"}\n\n{\"prompt\": \"b\"\n";
    let (line, reason) = record_error::<PromptRecord>(broken);
    assert_eq!(line, 3);
    assert!(reason.starts_with("invalid JSON"), "{reason}");
}

#[test]
fn rankings_must_be_permutations_of_the_completions() {
    let record = |ranking: &str| {
        format!(
            "[\n{{\"prompt\": \"p\", \"completion_0\": \"a\", \"completion_1\": \"b\", \"completion_2\": \"c\", \"ranking\": [0, 1, 2]}},\n{{\"prompt\": \"p\", \"completion_0\": \"a\", \"completion_1\": \"b\", \"completion_2\": \"c\", \"ranking\": {ranking}}}\n]"
        )
    };
    for (ranking, expected) in [
        ("[0, 0, 1]", "not a permutation"),
        ("[0, 1, 3]", "not a permutation"),
        ("[0, 1]", "has 2 entries for 3 completions"),
        ("[0, 1, 2, 3]", "has 4 entries for 3 completions"),
        ("[0, -1, 2]", "non-negative integers"),
        ("[0, 1.5, 2]", "non-negative integers"),
        ("\"012\"", "must be an array"),
    ] {
        let (line, reason) = record_error::<RankingRecord>(&record(ranking));
        assert_eq!(line, 3, "{ranking}");
        assert!(reason.contains("`ranking`") && reason.contains(expected), "{ranking}: {reason}");
    }
    assert_eq!(parse::<RankingRecord>(&record("[2, 1, 0]"), ReadOptions::strict()).unwrap().records.len(), 2);

    let gap = "[{\"prompt\": \"p\", \"completion_0\": \"a\", \"completion_2\": \"c\", \"ranking\": [0, 1]}]";
    let (_, reason) = record_error::<RankingRecord>(gap);
    assert!(reason.contains("`completion_2`") && reason.contains("`completion_1`"), "{reason}");
    let one = "[{\"prompt\": \"p\", \"completion_0\": \"a\", \"ranking\": [0]}]";
    assert!(record_error::<RankingRecord>(one).1.contains("at least"));
    let empty_answer = "[{\"prompt\": \"p\", \"completion_0\": \"a\", \"completion_1\": \"\", \"ranking\": [1, 0]}]";
    assert_eq!(record_error::<RankingRecord>(empty_answer).1, "field `completion_1` is empty");
    let no_ranking = "[{\"prompt\": \"p\", \"completion_0\": \"a\", \"completion_1\": \"b\"}]";
    assert_eq!(record_error::<RankingRecord>(no_ranking).1, "missing field `ranking`");
}

#[test]
fn skip_mode_counts_and_locates_the_bad_records() {
    let text = r#"[
    {"prompt": "좋은 질문", "completion": "좋은 답"},
    {"prompt": "", "completion": "빈 질문"},
    {"prompt": "좋은 질문 2", "completion": "좋은 답 2", "tokens": 12},
    {"completion": "질문 없음"},
    {"prompt": "숫자", "completion": 7},
    {"prompt": "마지막", "completion": "끝"}
]"#;
    let read = parse::<SftRecord>(text, ReadOptions::skipping()).unwrap();
    assert_eq!(
        read.records.iter().map(|r| r.prompt.as_str()).collect::<Vec<_>>(),
        ["좋은 질문", "좋은 질문 2", "마지막"]
    );
    assert_eq!(read.skipped_count(), 3);
    assert_eq!(read.skipped.iter().map(|s| s.line).collect::<Vec<_>>(), [3, 5, 6]);
    assert!(read.skipped[1].reason.contains("`prompt`"));
    // strictly, the first bad record is the error
    assert_eq!(record_error::<SftRecord>(text).0, 3);

    let lines = "{\"prompt\": \"a\"}\nnot json\n{\"prompt\": \"\"}\n{\"prompt\": \"b\"}\n";
    let read = parse::<PromptRecord>(lines, ReadOptions::skipping()).unwrap();
    assert_eq!(read.records.len(), 2);
    assert_eq!(read.skipped.iter().map(|s| s.line).collect::<Vec<_>>(), [2, 3]);
}

#[test]
fn a_broken_array_fails_even_in_skip_mode() {
    let text = "[\n{\"prompt\": \"a\"},\n{\"prompt\": \"b\"\n{\"prompt\": \"c\"}\n]";
    match parse::<PromptRecord>(text, ReadOptions::skipping()) {
        Err(Error::Record { line, reason, .. }) => {
            assert_eq!(line, 4);
            assert!(reason.contains("not a valid JSON array"), "{reason}");
        }
        other => panic!("expected a record error, got {other:?}"),
    }
    assert!(parse::<PromptRecord>("[{\"prompt\": \"a\"}", ReadOptions::skipping()).is_err());
}

#[test]
fn io_errors_name_the_file() {
    let missing = Path::new("/nonexistent/malmoi/sft.jsonl");
    let error = read_records::<SftRecord>(missing, &ReadOptions::strict()).unwrap_err();
    assert!(matches!(&error, Error::Io { path, .. } if path == missing), "{error}");
    let error = write_records(missing, &[PromptRecord { prompt: "a".into() }]).unwrap_err();
    assert!(matches!(&error, Error::Io { path, .. } if path == missing), "{error}");
}

#[test]
fn pairs_go_best_over_middle_best_over_worst_middle_over_worst() {
    // ranking[i] is completion_i's rank: completion_1 best, completion_2 middle, completion_0 worst
    let record = ranking("질문", ["최악", "최고", "중간"], [2, 0, 1]);
    assert_eq!(record.order(), [1, 2, 0]);
    let pair = |chosen: &str, rejected: &str| PreferencePair {
        prompt: "질문".into(),
        chosen: chosen.into(),
        rejected: rejected.into(),
    };
    assert_eq!(record.pairs(), [pair("최고", "중간"), pair("최고", "최악"), pair("중간", "최악")]);
    assert_eq!(ranking("p", ["a", "b", "c"], [0, 1, 2]).pairs().len(), 3);

    let four = RankingRecord::new("p", ["a", "b", "c", "d"].map(String::from).to_vec(), vec![3, 1, 0, 2]).unwrap();
    let pairs: Vec<(String, String)> = four.pairs().into_iter().map(|p| (p.chosen, p.rejected)).collect();
    let expected = [("c", "b"), ("c", "d"), ("c", "a"), ("b", "d"), ("b", "a"), ("d", "a")];
    assert_eq!(pairs, expected.map(|(c, r)| (c.to_string(), r.to_string())));
}

const CHAT: &str = "<<start conversation>>
<사람>: 기계 학습이 뭐야?
<챗봇>: 데이터에서 배우는 방법입니다.
예를 들면 이렇습니다.

<사람>: 고마워.
<챗봇>: 천만에요.

<<start conversation>>
<사람>: 안녕?
<챗봇>: 안녕하세요!
";

#[test]
fn conversations_become_turns_and_sft_pairs_with_context() {
    let read = parse_conversations(CHAT, Path::new("chat.txt"), &ReadOptions::strict()).unwrap();
    assert_eq!(read.layout, Layout::Conversations);
    let [first, second] = read.records.as_slice() else { panic!("{:?}", read.records) };
    assert_eq!((first.line, second.line), (1, 9));
    assert_eq!(
        first.turns,
        [
            ChatMessage::new(Role::User, "기계 학습이 뭐야?"),
            ChatMessage::new(Role::Assistant, "데이터에서 배우는 방법입니다.\n예를 들면 이렇습니다."),
            ChatMessage::new(Role::User, "고마워."),
            ChatMessage::new(Role::Assistant, "천만에요."),
        ]
    );
    let pairs = first.sft_pairs();
    assert_eq!(pairs.len(), 2);
    assert_eq!(pairs[0], SftRecord::new("기계 학습이 뭐야?", "데이터에서 배우는 방법입니다.\n예를 들면 이렇습니다."));
    assert_eq!(
        pairs[1].prompt,
        "<사람>: 기계 학습이 뭐야?\n<챗봇>: 데이터에서 배우는 방법입니다.\n예를 들면 이렇습니다.\n<사람>: 고마워."
    );
    assert_eq!(pairs[1].completion, "천만에요.");
    // a pair's prompt renders exactly as the chat template renders the turns before the answer
    let template = PromptTemplate::default();
    for (i, pair) in [(1, &pairs[0]), (3, &pairs[1])] {
        assert_eq!(template.render(&pair.prompt), template.render_chat(&first.turns[..i]).unwrap());
    }
    assert_eq!(second.sft_pairs(), [SftRecord::new("안녕?", "안녕하세요!")]);
    // and the text round-trips
    let again = parse_conversations(&(first.to_text() + &second.to_text()), Path::new("x"), &ReadOptions::strict());
    let again = again.unwrap().records;
    assert_eq!(again.iter().map(|c| &c.turns).collect::<Vec<_>>(), [&first.turns, &second.turns]);
}

#[test]
fn malformed_conversations_are_errors_or_skipped() {
    let text = "<<start conversation>>
<사람>: 좋아요
<챗봇>: 네

<<start conversation>>
<사람>:
<챗봇>: 빈 질문

<<start conversation>>

<<start conversation>>
떠도는 글
<사람>: 질문
<챗봇>: 답
<<start conversation>>
<사람>: 마지막
<챗봇>: 끝
";
    let strict = parse_conversations(text, Path::new("chat.txt"), &ReadOptions::strict()).unwrap_err();
    assert!(matches!(&strict, Error::Record { line: 6, reason, .. } if reason.contains("empty `<사람>:`")), "{strict}");
    let read = parse_conversations(text, Path::new("chat.txt"), &ReadOptions::skipping()).unwrap();
    assert_eq!(read.records.iter().map(|c| c.line).collect::<Vec<_>>(), [1, 15]);
    assert_eq!(read.skipped.iter().map(|s| s.line).collect::<Vec<_>>(), [6, 9, 12]);
    assert!(read.skipped[1].reason.contains("without turns"));
    assert!(read.skipped[2].reason.contains("before the conversation's first"));

    let preamble = "제목\n<<start conversation>>\n<사람>: a\n<챗봇>: b\n";
    let error = parse_conversations(preamble, Path::new("chat.txt"), &ReadOptions::strict()).unwrap_err();
    assert!(matches!(&error, Error::Record { line: 1, .. }), "{error}");
    let read = parse_conversations(preamble, Path::new("chat.txt"), &ReadOptions::skipping()).unwrap();
    assert_eq!((read.records.len(), read.skipped_count()), (1, 1));
}

/// The KoChatGPT conversation file next to the workspace, if it is there.
fn kochatgpt(file: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/kochatgpt").join(file);
    if path.exists() {
        Some(path)
    } else {
        println!("skipped: {} is absent", path.display());
        None
    }
}

#[test]
fn the_real_conversation_file_parses_losslessly_into_439_conversations() {
    let Some(path) = kochatgpt("kochatgpt_1_SFT_conversation.jsonl") else { return };
    let read = read_conversations(&path, &ReadOptions::strict()).unwrap();
    assert_eq!(read.records.len(), 439);
    assert!(read.skipped.is_empty());
    let turns: usize = read.records.iter().map(|c| c.turns.len()).sum();
    let pairs: Vec<SftRecord> = read.records.iter().flat_map(Conversation::sft_pairs).collect();
    assert_eq!(
        pairs.len(),
        read.records.iter().map(|c| c.turns.iter().filter(|t| t.role == Role::Assistant).count()).sum::<usize>()
    );
    assert!(pairs.len() * 2 == turns, "every turn pair alternates user / assistant");
    // lossless: rendering the conversations back gives the file's non-empty lines
    let original = std::fs::read_to_string(&path).unwrap();
    let rendered: String = read.records.iter().map(Conversation::to_text).collect();
    let non_empty = |text: &str| -> Vec<String> {
        text.lines().filter(|line| !line.trim().is_empty()).map(|line| line.trim_end().to_owned()).collect()
    };
    assert_eq!(non_empty(&rendered), non_empty(&original));
    // every later pair carries the whole conversation so far as its context
    let first = &read.records[0];
    assert_eq!(first.sft_pairs().last().unwrap().prompt, conversation_text(&first.turns[..first.turns.len() - 1]));
}

#[test]
fn the_real_ppo_prompts_read_as_one_array_with_three_empty_prompts() {
    let Some(path) = kochatgpt("kochatgpt_3_PPO.jsonl") else { return };
    // KoChatGPT's PPO file holds three empty prompts: an error at the first one's line…
    let error = read_records::<PromptRecord>(&path, &ReadOptions::strict()).unwrap_err();
    assert!(
        matches!(&error, Error::Record { line: 18992, reason, .. } if reason == "field `prompt` is empty"),
        "{error}"
    );
    // …or they are skipped and counted
    let read = read_records::<PromptRecord>(&path, &ReadOptions::skipping()).unwrap();
    assert_eq!(read.layout, Layout::JsonArray);
    assert_eq!((read.records.len(), read.skipped_count()), (11_997, 3));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines = text.lines().collect::<Vec<_>>();
    for skipped in &read.skipped {
        assert_eq!(lines[skipped.line - 1].trim(), "{", "a record opens at line {}", skipped.line);
        assert_eq!(lines[skipped.line].trim(), "\"prompt\": \"\"");
    }
}
