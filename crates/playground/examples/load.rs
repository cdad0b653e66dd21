//! A bounded load test of the playground on loopback: N clients stream chat completions
//! back to back for a fixed time; prints latency percentiles, tokens/s, errors and peak memory.
//!
//! ```text
//! cargo run --release -p malmoi-playground --example load                 # in-process server
//! cargo run --release -p malmoi-playground --example load -- --url http://127.0.0.1:8080 --pid 1234
//! ```
//!
//! With no `--url` the server runs inside this process (the shipped GPT, the given caps) and
//! the peak RSS reported is this process's, clients included; with `--url` and `--pid` it is
//! the server process's.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use malmoi_playground::{Limits, Models, router, serve};
use serde_json::{Value, json};

/// Streams chat completions from many clients at once and reports how the server held up.
#[derive(Parser)]
struct Cli {
    /// A running server's base URL; without it a server is started in this process.
    #[arg(long)]
    url: Option<String>,
    /// The server's process id, to read its peak memory (with --url).
    #[arg(long)]
    pid: Option<u32>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// How long to send requests, in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// max_tokens of each request.
    #[arg(long, default_value_t = 32)]
    max_tokens: usize,
    /// In-process server: generations running at once.
    #[arg(long, default_value_t = Limits::default().max_concurrent)]
    max_concurrent: usize,
    /// In-process server: generations queued before 429.
    #[arg(long, default_value_t = Limits::default().max_queued)]
    max_queued: usize,
}

/// One finished request.
struct Outcome {
    latency: Duration,
    first_token: Option<Duration>,
    tokens: u64,
    error: Option<String>,
}

async fn one_request(client: &reqwest::Client, url: &str, body: &Value) -> Outcome {
    let start = Instant::now();
    let failed = |error: String| Outcome { latency: start.elapsed(), first_token: None, tokens: 0, error: Some(error) };
    let mut response = match client.post(url).json(body).send().await {
        Ok(response) => response,
        Err(e) => return failed(format!("send: {e}")),
    };
    if !response.status().is_success() {
        return failed(format!("status {}", response.status()));
    }
    let (mut buffer, mut first_token, mut tokens, mut done) = (String::new(), None, 0, false);
    loop {
        match response.chunk().await {
            Ok(Some(bytes)) => buffer.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(None) => break,
            Err(e) => return failed(format!("read: {e}")),
        }
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")).map(str::trim_start) else { continue };
            if data == "[DONE]" {
                done = true;
                continue;
            }
            let Ok(chunk) = serde_json::from_str::<Value>(data) else { return failed(format!("bad chunk {data}")) };
            if chunk.get("error").is_some() {
                return failed(format!("stream error {data}"));
            }
            if chunk["choices"][0]["delta"]["content"].as_str().is_some_and(|c| !c.is_empty()) && first_token.is_none()
            {
                first_token = Some(start.elapsed());
            }
            if let Some(n) = chunk["usage"]["completion_tokens"].as_u64() {
                tokens = n;
            }
        }
    }
    if !done {
        return failed("stream ended without [DONE]".into());
    }
    Outcome { latency: start.elapsed(), first_token, tokens, error: None }
}

/// The `q`-quantile (nearest rank) of sorted durations, in milliseconds.
fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

/// Peak resident memory (`VmHWM`) of a process, in MiB.
fn peak_rss_mib(pid: Option<u32>) -> Option<f64> {
    let path = pid.map_or_else(|| "/proc/self/status".to_string(), |p| format!("/proc/{p}/status"));
    let status = std::fs::read_to_string(path).ok()?;
    let kib: f64 =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let base = match &cli.url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/gpt");
            let models = Models::load(&[dir], None)?;
            let limits = Limits { max_concurrent: cli.max_concurrent, max_queued: cli.max_queued, ..Limits::default() };
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let address = listener.local_addr()?;
            tokio::spawn(serve(listener, router(models, limits)));
            format!("http://{address}")
        }
    };
    let url = format!("{base}/v1/chat/completions");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(cli.seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..cli.concurrency)
        .map(|worker| {
            let (client, url) = (client.clone(), url.clone());
            let max_tokens = cli.max_tokens;
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                let mut seed = worker as u64 * 1_000_000;
                while Instant::now() < deadline {
                    let body = json!({
                        "messages": [{"role": "user", "content": "영화가"}],
                        "max_tokens": max_tokens, "temperature": 0.9, "seed": seed,
                        "stream": true, "stream_options": {"include_usage": true},
                    });
                    outcomes.push(one_request(&client, &url, &body).await);
                    seed += 1;
                }
                outcomes
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for worker in workers {
        outcomes.extend(worker.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let errors: Vec<&String> = outcomes.iter().filter_map(|o| o.error.as_ref()).collect();
    let ok: Vec<&Outcome> = outcomes.iter().filter(|o| o.error.is_none()).collect();
    let mut latency: Vec<Duration> = ok.iter().map(|o| o.latency).collect();
    let mut first: Vec<Duration> = ok.iter().filter_map(|o| o.first_token).collect();
    latency.sort();
    first.sort();
    let tokens: u64 = ok.iter().map(|o| o.tokens).sum();
    println!(
        "{} clients, {elapsed:.1} s, max_tokens {}: {} requests, {} errors",
        cli.concurrency,
        cli.max_tokens,
        outcomes.len(),
        errors.len()
    );
    for (name, values) in [("latency", &latency), ("first token", &first)] {
        println!(
            "{name:>12}: p50 {:.0} ms  p95 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
            quantile_ms(values, 0.5),
            quantile_ms(values, 0.95),
            quantile_ms(values, 0.99),
            quantile_ms(values, 1.0)
        );
    }
    println!(
        "tokens: {tokens} generated, {:.1} tokens/s, {:.2} requests/s",
        tokens as f64 / elapsed,
        ok.len() as f64 / elapsed
    );
    if let Some(mib) = peak_rss_mib(cli.pid.filter(|_| cli.url.is_some())) {
        println!(
            "peak RSS: {mib:.0} MiB ({})",
            if cli.url.is_some() { "server process" } else { "this process, server included" }
        );
    }
    if let Some(first_error) = errors.first() {
        println!("first error: {first_error}");
    }
    Ok(())
}
