//! Chat templates rendered as `transformers`' `apply_chat_template(tokenize=False)` renders
//! them (benches/reference/chat_template_fixtures.py): Llama 3, Qwen2.5 (ChatML with its
//! default system message and tools), Llama 2 (`[INST]`, `<<SYS>>`, role alternation raised),
//! EXAONE 3 and Gemma (no system role) over Korean conversations, with and without the
//! generation prompt; the conversations a template refuses are refused here too.

use std::path::PathBuf;

use malmoi_tokenize::chat_template::{ChatTemplate, ChatTemplateError, SpecialTokens, TokenizerConfig};
use serde_json::Value;

/// The cases, each message list and tool list kept as its JSON text (key order matters to
/// `tojson`).
fn cases() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chat_templates/cases.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

type RawCase = std::collections::HashMap<String, Box<serde_json::value::RawValue>>;

/// Each case's fields as the fixture file writes them, keys in the file's order.
fn raw_cases() -> Vec<RawCase> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chat_templates/cases.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn special(case: &Value) -> SpecialTokens {
    ["bos_token", "eos_token"]
        .iter()
        .filter_map(|k| case[*k].as_str().map(|v| (k.to_string(), v.to_string())))
        .collect()
}

#[test]
fn every_case_renders_as_transformers() {
    let cases = cases();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let raw = raw_cases();
    let (mut rendered, mut refused) = (0, 0);
    for (i, case) in cases.iter().enumerate() {
        let template = ChatTemplate::new(case["template"].as_str().unwrap()).unwrap();
        let add = case["add_generation_prompt"].as_bool().unwrap();
        let field = |key: &str| raw[i].get(key).map(|v| v.get());
        let (messages, tools) = (field("messages").unwrap(), field("tools"));
        let out = template.render_json(messages, tools, add, &special(case));
        let name = case["template_name"].as_str().unwrap();
        if case.get("error").and_then(Value::as_bool) == Some(true) {
            let err = out.expect_err(&format!("case {i} ({name}) must be refused"));
            assert!(matches!(err, ChatTemplateError::Render(_)), "case {i}: {err}");
            refused += 1;
        } else {
            assert_eq!(out.unwrap(), case["expected"].as_str().unwrap(), "case {i} ({name})");
            rendered += 1;
        }
    }
    assert!(rendered > 0 && refused > 0);
}

#[test]
fn tokenizer_config_reads_templates_and_special_tokens() {
    let json: Value = serde_json::json!({
        "chat_template": [{"name": "default", "template": "{{ bos_token }}"}, {"name": "tool_use", "template": "T"}],
        "bos_token": {"content": "<s>", "lstrip": false},
        "eos_token": "</s>",
        "add_bos_token": true,
        "model_max_length": 1e30,
    });
    let config = TokenizerConfig::from_json(&json).unwrap();
    assert_eq!(config.special_tokens["bos_token"], "<s>");
    assert_eq!(config.add_bos_token, Some(true));
    let rendered = config.template(None).unwrap().render(&[], false, &config.special_tokens).unwrap();
    assert_eq!(rendered, "<s>");
    assert_eq!(config.template(Some("tool_use")).unwrap().source(), "T");
    assert!(matches!(config.template(Some("rag")), Err(ChatTemplateError::Missing(_))));
    let bad = serde_json::json!({"chat_template": 3});
    assert!(TokenizerConfig::from_json(&bad).unwrap_err().contains("chat_template"));
    assert!(matches!(ChatTemplate::new("{% for %}"), Err(ChatTemplateError::Syntax(_))));
}

#[test]
fn a_directory_with_chat_template_jinja_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tokenizer_config.json"), r#"{"eos_token": "<|im_end|>"}"#).unwrap();
    std::fs::write(dir.path().join("chat_template.jinja"), "{{ messages[0].content }}{{ eos_token }}").unwrap();
    let config = TokenizerConfig::from_dir(dir.path()).unwrap();
    let messages = [malmoi_tokenize::chat_template::ChatMessage::user("안녕")];
    assert_eq!(
        config.template(None).unwrap().render(&messages, false, &config.special_tokens).unwrap(),
        "안녕<|im_end|>"
    );
    std::fs::write(dir.path().join("tokenizer_config.json"), "{").unwrap();
    let err = TokenizerConfig::from_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("tokenizer_config.json"), "{err}");
}
