//! The API against a server on an ephemeral loopback port: non-streamed and streamed replies,
//! every knob reaching the generator, the sentiment endpoint and the errors.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use malmoi_playground::{Limits, Models, router, serve};
use serde_json::{Value, json};

fn models() -> Models {
    static MODELS: OnceLock<Models> = OnceLock::new();
    MODELS
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
            Models::load(&[root.join("gpt")], Some(&root.join("sentiment"))).expect("the shipped models load")
        })
        .clone()
}

/// Starts a server with `limits` and returns its base URL.
async fn start(limits: Limits) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, router(models(), limits)));
    format!("http://{address}")
}

async fn server() -> String {
    start(Limits::default()).await
}

async fn post(base: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new().post(format!("{base}/v1/chat/completions")).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// A one-turn chat with extra fields.
fn chat(extra: Value) -> Value {
    let mut body = json!({"messages": [{"role": "user", "content": "영화가"}]});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    body
}

async fn text(base: &str, extra: Value) -> String {
    let (status, body) = post(base, chat(extra)).await;
    assert_eq!(status, 200, "{body}");
    body["choices"][0]["message"]["content"].as_str().unwrap().to_string()
}

fn assert_error(status: u16, body: &Value, want_status: u16, param: Option<&str>) {
    assert_eq!(status, want_status, "{body}");
    let error = &body["error"];
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(error["type"].is_string(), "{body}");
    assert!(error.get("code").is_some() && error.get("param").is_some(), "{body}");
    if let Some(param) = param {
        assert_eq!(error["param"], param, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_streamed_reply_has_openai_shape_and_usage() {
    let base = server().await;
    let (status, body) = post(&base, chat(json!({"model": "gpt", "temperature": 0, "max_tokens": 12}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["model"], "gpt");
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert!(!choice["message"]["content"].as_str().unwrap().is_empty());
    assert!(["stop", "length"].contains(&choice["finish_reason"].as_str().unwrap()));
    assert!(choice["logprobs"].is_null());
    let usage = &body["usage"];
    let (prompt, completion) = (usage["prompt_tokens"].as_u64().unwrap(), usage["completion_tokens"].as_u64().unwrap());
    assert!(prompt >= 1 && (1..=12).contains(&completion), "{usage}");
    assert_eq!(usage["total_tokens"].as_u64().unwrap(), prompt + completion);
    assert_eq!(body["prompt_truncated"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn temperature_zero_is_greedy_and_deterministic() {
    let base = server().await;
    let a = text(&base, json!({"temperature": 0, "max_tokens": 20, "seed": 1})).await;
    let b = text(&base, json!({"temperature": 0, "max_tokens": 20, "seed": 2})).await;
    assert_eq!(a, b);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_and_the_temperature_reach_the_sampler() {
    let base = server().await;
    let knobs = |seed: u64, temperature: f32| json!({"temperature": temperature, "max_tokens": 20, "seed": seed});
    let first = text(&base, knobs(7, 1.0)).await;
    assert_eq!(first, text(&base, knobs(7, 1.0)).await, "same seed, same text");
    let mut others = Vec::new();
    for seed in 8..12 {
        others.push(text(&base, knobs(seed, 1.0)).await);
    }
    assert!(others.iter().any(|t| *t != first), "other seeds should sample other texts");
    assert_ne!(first, text(&base, knobs(7, 2.0)).await, "a hotter temperature changes the draws");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tiny_top_p_keeps_only_the_best_token() {
    let base = server().await;
    let greedy = text(&base, json!({"temperature": 0, "max_tokens": 20})).await;
    for seed in 0..3 {
        assert_eq!(
            text(&base, json!({"temperature": 1.5, "top_p": 0.001, "max_tokens": 20, "seed": seed})).await,
            greedy
        );
    }
}

/// The log-probabilities of a greedy reply's tokens.
async fn greedy_logprobs(base: &str, extra: Value) -> Vec<f64> {
    let mut knobs = json!({"temperature": 0, "max_tokens": 6, "logprobs": true});
    knobs.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let (status, body) = post(base, chat(knobs)).await;
    assert_eq!(status, 200, "{body}");
    body["choices"][0]["logprobs"]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["logprob"].as_f64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn penalties_reach_the_logits() {
    let base = server().await;
    let plain = greedy_logprobs(&base, json!({})).await;
    for knob in ["frequency_penalty", "presence_penalty"] {
        let penalised = greedy_logprobs(&base, json!({knob: 2})).await;
        // the first token has nothing to penalise; later ones see the earlier tokens pushed down
        assert_eq!(penalised[0], plain[0], "{knob}");
        assert!(penalised.iter().zip(&plain).skip(1).any(|(a, b)| a != b), "{knob}: {penalised:?} vs {plain:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn max_tokens_and_stop_sequences_end_the_reply() {
    let base = server().await;
    let (_, long) = post(&base, chat(json!({"temperature": 0, "max_tokens": 30}))).await;
    let long_text = long["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    let (_, short) = post(&base, chat(json!({"temperature": 0, "max_tokens": 3}))).await;
    assert_eq!(short["usage"]["completion_tokens"], 3, "{short}");
    assert_eq!(short["choices"][0]["finish_reason"], "length");
    assert!(long_text.starts_with(short["choices"][0]["message"]["content"].as_str().unwrap()));

    let chars: Vec<char> = long_text.chars().collect();
    let stop =
        chars[chars.len() / 2..].iter().find(|c| !c.is_whitespace()).expect("a character to stop at").to_string();
    let (_, stopped) = post(&base, chat(json!({"temperature": 0, "max_tokens": 30, "stop": stop}))).await;
    assert_eq!(stopped["choices"][0]["message"]["content"], long_text[..long_text.find(&stop).unwrap()]);
    assert_eq!(stopped["choices"][0]["finish_reason"], "stop");
    let (_, listed) = post(&base, chat(json!({"temperature": 0, "max_tokens": 30, "stop": ["@@@", stop]}))).await;
    assert_eq!(listed["choices"][0]["message"]["content"], stopped["choices"][0]["message"]["content"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn logprobs_give_each_token_and_its_alternatives() {
    let base = server().await;
    let (status, body) =
        post(&base, chat(json!({"temperature": 0, "max_tokens": 8, "logprobs": true, "top_logprobs": 3}))).await;
    assert_eq!(status, 200, "{body}");
    let content = body["choices"][0]["logprobs"]["content"].as_array().unwrap();
    assert_eq!(content.len() as u64, body["usage"]["completion_tokens"].as_u64().unwrap());
    let mut bytes = Vec::new();
    for token in content {
        let top = token["top_logprobs"].as_array().unwrap();
        assert_eq!(top.len(), 3);
        let lps: Vec<f64> = top.iter().map(|t| t["logprob"].as_f64().unwrap()).collect();
        assert!(lps.windows(2).all(|w| w[0] >= w[1]) && lps[0] <= 0.0, "{lps:?}");
        // greedy: the chosen token is the best alternative
        assert_eq!(token["logprob"].as_f64().unwrap(), lps[0]);
        assert_eq!(token["token"], top[0]["token"]);
        bytes.extend(token["bytes"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8));
    }
    let text = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(String::from_utf8_lossy(&bytes).starts_with(text), "token bytes spell the reply");
}

/// The `data:` payloads of a server-sent-event body.
fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| event.lines().find_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:"))))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamed_reply_matches_the_whole_one() {
    let base = server().await;
    let knobs = json!({"temperature": 0, "max_tokens": 20});
    let (_, whole) = post(&base, chat(knobs.clone())).await;
    let mut streamed = chat(knobs);
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let response =
        reqwest::Client::new().post(format!("{base}/v1/chat/completions")).json(&streamed).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let events = sse_data(&response.text().await.unwrap());
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    assert!(chunks.len() >= 4, "role, content, finish and usage chunks: {chunks:?}");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[0]["object"], "chat.completion.chunk");
    assert!(chunks.iter().all(|c| c["id"] == chunks[0]["id"]));
    let text: String =
        chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect::<Vec<_>>().concat();
    assert_eq!(text, whole["choices"][0]["message"]["content"].as_str().unwrap());
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], whole["choices"][0]["finish_reason"]);
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"].as_array().unwrap().len(), 0);
    assert_eq!(usage["usage"], whole["usage"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_longer_than_the_context_is_truncated_and_says_so() {
    let base = server().await;
    let long = "영화가 정말 재미있었고 배우들 연기도 좋았다. ".repeat(12);
    let (status, body) =
        post(&base, json!({"messages": [{"role": "user", "content": long}], "temperature": 0, "max_tokens": 5})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["prompt_truncated"], true);
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 64);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_openai_error_bodies() {
    let base = start(Limits { max_body_bytes: 2048, max_tokens: 100, ..Limits::default() }).await;
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/chat/completions");
    let raw = |body: String| {
        let request = client.post(&url).header("content-type", "application/json").body(body);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = raw("{\"messages\": [".into()).await;
    assert_error(status, &body, 400, None);
    let (status, body) = raw(json!({"messages": [], "temprature": 1}).to_string()).await;
    assert_error(status, &body, 400, None);
    assert!(body["error"]["message"].as_str().unwrap().contains("temprature"), "{body}");
    assert_eq!(body["error"]["param"], "temprature");
    assert_eq!(body["error"]["code"], "unknown_field");
    let (status, body) = raw(json!({"messages": [{"role": "user", "content": "x", "extra": 1}]}).to_string()).await;
    assert_error(status, &body, 400, None);
    let (status, body) = raw(chat(json!({"pad": "x".repeat(4096)})).to_string()).await;
    assert_error(status, &body, 413, None);

    for (knobs, param) in [
        (json!({"temperature": 2.5}), "temperature"),
        (json!({"temperature": -0.1}), "temperature"),
        (json!({"top_p": 0}), "top_p"),
        (json!({"top_p": 1.5}), "top_p"),
        (json!({"frequency_penalty": 3}), "frequency_penalty"),
        (json!({"presence_penalty": -2.5}), "presence_penalty"),
        (json!({"max_tokens": 0}), "max_tokens"),
        (json!({"max_tokens": 101}), "max_tokens"),
        (json!({"stop": ["a", "b", "c", "d", "e"]}), "stop"),
        (json!({"stop": [""]}), "stop"),
        (json!({"top_logprobs": 2}), "top_logprobs"),
        (json!({"logprobs": true, "top_logprobs": 21}), "top_logprobs"),
        (json!({"n": 2}), "n"),
        (json!({"stream_options": {"include_usage": true}}), "stream_options"),
    ] {
        let (status, body) = post(&base, chat(knobs)).await;
        assert_error(status, &body, 400, Some(param));
    }
    let (status, body) = post(&base, json!({"messages": []})).await;
    assert_error(status, &body, 400, Some("messages"));
    let (status, body) = post(&base, chat(json!({"model": "nope"}))).await;
    assert_error(status, &body, 404, Some("model"));
    let (status, body) = post(&base, chat(json!({"model": "sentiment"}))).await;
    assert_error(status, &body, 400, Some("model"));
    let response = client.get(format!("{base}/v1/nothing")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.json::<Value>().await.unwrap()["error"]["message"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_concurrency_cap_of_zero_refuses_with_429() {
    let base = start(Limits { max_concurrent: 0, ..Limits::default() }).await;
    let (status, body) = post(&base, chat(json!({"max_tokens": 2}))).await;
    assert_error(status, &body, 429, None);
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
}

/// Sends a streamed request for a very long reply and returns the open response after its
/// first content chunk.
async fn open_long_stream(base: &str) -> reqwest::Response {
    let body = chat(json!({"max_tokens": 100_000, "stream": true, "temperature": 1, "seed": 3}));
    let mut response =
        reqwest::Client::new().post(format!("{base}/v1/chat/completions")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut seen = String::new();
    while sse_data(&seen).len() < 3 {
        seen.push_str(&String::from_utf8_lossy(&response.chunk().await.unwrap().expect("more events")));
    }
    response
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_server_says_429_and_a_client_that_leaves_frees_its_slot() {
    let base = start(Limits { max_concurrent: 1, max_queued: 0, max_tokens: 100_000, ..Limits::default() }).await;
    let running = open_long_stream(&base).await;
    let (status, body) = post(&base, chat(json!({"max_tokens": 2}))).await;
    assert_error(status, &body, 429, None);
    drop(running);
    // the generation stops when its client is gone, and the slot opens again
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = post(&base, chat(json!({"max_tokens": 2}))).await;
        if status == 200 {
            break;
        }
        assert_error(status, &body, 429, None);
        assert!(Instant::now() < deadline, "the abandoned generation never stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_request_waits_for_a_slot() {
    let base = start(Limits { max_concurrent: 1, max_queued: 1, ..Limits::default() }).await;
    let ((a, _), (b, _)) =
        tokio::join!(post(&base, chat(json!({"max_tokens": 10}))), post(&base, chat(json!({"max_tokens": 10}))));
    assert_eq!((a, b), (200, 200));
}

#[tokio::test(flavor = "multi_thread")]
async fn models_are_listed() {
    let base = server().await;
    let body: Value = reqwest::get(format!("{base}/v1/models")).await.unwrap().json().await.unwrap();
    assert_eq!(body["object"], "list");
    let data = body["data"].as_array().unwrap();
    let gpt = data.iter().find(|m| m["id"] == "gpt").expect("the shipped GPT");
    assert_eq!(gpt["object"], "model");
    assert_eq!(gpt["kind"], "text-generation");
    assert_eq!(gpt["context_length"], 64);
    assert!(data.iter().any(|m| m["id"] == "sentiment" && m["kind"] == "sentiment"));
    let one: Value = reqwest::get(format!("{base}/v1/models/gpt")).await.unwrap().json().await.unwrap();
    assert_eq!(one["id"], "gpt");
}

#[tokio::test(flavor = "multi_thread")]
async fn sentiment_gives_probabilities() {
    let base = server().await;
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/sentiment");
    let body: Value = client
        .post(&url)
        .json(&json!({"input": ["영화 정말 재밌다 최고의 명작", "너무 지루하고 최악이다 시간 아까움"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{body}");
    let positive: Vec<f64> = data.iter().map(|d| d["positive"].as_f64().unwrap()).collect();
    assert!(positive[0] > 0.5 && positive[1] < 0.5, "{body}");
    assert_eq!(data[0]["label"], "positive");
    assert!((data[1]["positive"].as_f64().unwrap() + data[1]["negative"].as_f64().unwrap() - 1.0).abs() < 1e-6);
    let one: Value = client.post(&url).json(&json!({"input": "hello"})).send().await.unwrap().json().await.unwrap();
    assert_eq!(one["data"][0]["caveat"], "no Korean words");
    let response = client.post(&url).json(&json!({"input": [], "x": 1})).send().await.unwrap();
    assert_eq!(response.status(), 400);
}
#[tokio::test(flavor = "multi_thread")]
async fn the_page_is_served_with_a_strict_content_security_policy() {
    let base = server().await;
    let response = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = response.text().await.unwrap();
    assert!(html.contains("app.js") && html.contains("<textarea"));
    let script = reqwest::get(format!("{base}/app.js")).await.unwrap().text().await.unwrap();
    assert!(!script.contains("innerHTML"), "model output must never be inserted as HTML");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tuned_model_directory_is_served_through_its_template() {
    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/gpt");
    let root = tempfile::tempdir().unwrap();
    let tuned = root.path().join("sft");
    std::fs::create_dir(&tuned).unwrap();
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(shipped.join(file), tuned.join(file)).unwrap();
    }
    malmoi_rlhf::PromptTemplate::default().save(&tuned).unwrap();
    let models = Models::load(&[shipped, tuned], None).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, router(models, Limits::default())));

    let list: Value = reqwest::get(format!("{base}/v1/models")).await.unwrap().json().await.unwrap();
    let ids: Vec<(&str, bool)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["chat_template"] == true))
        .collect();
    assert_eq!(ids, [("gpt", false), ("sft", true)]);

    let (_, plain) = post(&base, chat(json!({"model": "gpt", "max_tokens": 1}))).await;
    let (status, templated) = post(&base, chat(json!({"model": "sft", "max_tokens": 1}))).await;
    assert_eq!(status, 200, "{templated}");
    let tokens = |body: &Value| body["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(tokens(&templated) > tokens(&plain) + 5, "the template wraps the prompt: {templated} vs {plain}");

    // a plain model continues an assistant turn; a tuned one answers the user's
    let continued = json!({"messages": [{"role": "user", "content": "영화"}, {"role": "assistant", "content": "정말"}], "max_tokens": 1});
    assert_eq!(post(&base, continued.clone()).await.0, 200);
    let mut tuned_request = continued;
    tuned_request["model"] = json!("sft");
    let (status, body) = post(&base, tuned_request).await;
    assert_error(status, &body, 400, Some("messages"));
}
