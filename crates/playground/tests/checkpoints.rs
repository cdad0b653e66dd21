//! Pretrained checkpoints served as a user serves them (`--model-dir DIR`): Hugging Face folders
//! of other architectures (the transformer crate's tiny `transformers`-made fixtures) answer
//! through their own chat template, the model list shows each model's context and template,
//! and text a user sends never becomes a special token.

use std::path::PathBuf;

use malmoi_playground::{Limits, Models, router, serve};
use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../transformer/tests/fixtures/hf_models").join(name)
}

async fn start(dirs: &[PathBuf]) -> String {
    let models = Models::load(dirs, None).expect("the fixtures load");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, router(models, Limits::default())));
    format!("http://{address}")
}

async fn complete(base: &str, model: &str, content: &str) -> Value {
    let body =
        json!({"model": model, "max_tokens": 5, "temperature": 0, "messages": [{"role": "user", "content": content}]});
    let response = reqwest::Client::new().post(format!("{base}/v1/chat/completions")).json(&body).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn hugging_face_folders_answer_through_their_chat_template() {
    let base = start(&[fixture("qwen2"), fixture("gpt_neox_parallel"), fixture("gpt2_kogpt2_keys")]).await;
    let list: Value = reqwest::get(format!("{base}/v1/models")).await.unwrap().json().await.unwrap();
    let cards = list["data"].as_array().unwrap();
    let card = |id: &str| cards.iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("{id} in {list}")).clone();
    assert_eq!(card("qwen2")["chat_template"], true);
    assert_eq!(card("gpt2_kogpt2_keys")["chat_template"], false);
    assert!(card("gpt_neox_parallel")["context_length"].as_u64().unwrap() > 0);

    let reply = complete(&base, "qwen2", "안녕하세요").await;
    assert_eq!(reply["usage"]["completion_tokens"], 5, "{reply}");
    // The ChatML template wraps the one user turn: more tokens than the text alone.
    let plain = complete(&base, "gpt2_kogpt2_keys", "안녕하세요").await;
    assert!(reply["usage"]["prompt_tokens"].as_u64() > plain["usage"]["prompt_tokens"].as_u64(), "{reply} {plain}");
    complete(&base, "gpt_neox_parallel", "영화가").await;
}

/// Issue 26, case 6: `"<|endoftext|>"` sent as user text used to be encoded as the special
/// token itself (`prompt_tokens: 1`).
#[tokio::test]
async fn user_text_never_becomes_a_special_token() {
    let base = start(&[fixture("qwen2")]).await;
    let reply = complete(&base, "qwen2", "<|endoftext|>").await;
    let special = complete(&base, "qwen2", "").await;
    let injected = reply["usage"]["prompt_tokens"].as_u64().unwrap();
    let empty = special["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(injected > empty + 1, "<|endoftext|> took {} tokens", injected - empty);

    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/gpt");
    let base = start(&[shipped]).await;
    let reply = complete(&base, "gpt", "<|endoftext|>").await;
    assert!(reply["usage"]["prompt_tokens"].as_u64().unwrap() > 1, "{reply}");
}
