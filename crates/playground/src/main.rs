//! `malmoi-playground`: serves the playground page and its OpenAI-shaped API on loopback.
//!
//! ```text
//! cargo run --release -p malmoi-playground                       # http://127.0.0.1:8080/
//! cargo run --release -p malmoi-playground -- --port 9000 --model-dir models/gpt --model-dir runs/sft
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use malmoi_playground::{Limits, Models, router, serve_with};

const SHIPPED_GPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/gpt");
const SHIPPED_SENTIMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/sentiment");

/// A local playground over malmoi's models: a chat page and an OpenAI-compatible API.
#[derive(Parser)]
struct Cli {
    /// Port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to bind; the default keeps the server to this machine.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// A language model directory (GPT, SFT, PPO or DPO); repeat for several. The first is the
    /// default model.
    #[arg(long = "model-dir", value_name = "DIR", default_values = [SHIPPED_GPT])]
    model_dirs: Vec<PathBuf>,
    /// The NSMC sentiment model directory.
    #[arg(long, value_name = "DIR", default_value = SHIPPED_SENTIMENT)]
    sentiment_dir: PathBuf,
    /// Serve no sentiment model (no Korean dictionary needed).
    #[arg(long)]
    no_sentiment: bool,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Largest max_tokens a request may ask for.
    #[arg(long, default_value_t = Limits::default().max_tokens)]
    max_tokens: usize,
    /// Generations running at once (0 refuses all).
    #[arg(long, default_value_t = Limits::default().max_concurrent)]
    max_concurrent: usize,
    /// Generations waiting for a slot before requests get 429.
    #[arg(long, default_value_t = Limits::default().max_queued)]
    max_queued: usize,
    /// Seconds a client may take to send a request's headers (and a keep-alive connection may idle).
    #[arg(long, value_name = "SECONDS", default_value_t = Limits::default().header_read_timeout.as_secs())]
    header_read_timeout: u64,
    /// Seconds a client may take to send a request's body (then 408).
    #[arg(long, value_name = "SECONDS", default_value_t = Limits::default().body_read_timeout.as_secs())]
    body_read_timeout: u64,
    /// Connections open at once (more wait in the listen backlog).
    #[arg(long, default_value_t = Limits::default().max_connections)]
    max_connections: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let sentiment = (!cli.no_sentiment).then_some(cli.sentiment_dir.as_path());
    let models = match Models::load(&cli.model_dirs, sentiment) {
        Ok(models) => models,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let limits = Limits {
        max_body_bytes: cli.max_body_bytes,
        max_tokens: cli.max_tokens,
        max_concurrent: cli.max_concurrent,
        max_queued: cli.max_queued,
        header_read_timeout: Duration::from_secs(cli.header_read_timeout),
        body_read_timeout: Duration::from_secs(cli.body_read_timeout),
        max_connections: cli.max_connections,
        ..Limits::default()
    };
    let listener = match tokio::net::TcpListener::bind((cli.host.as_str(), cli.port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {}:{}: {error}", cli.host, cli.port);
            return ExitCode::FAILURE;
        }
    };
    let address = listener.local_addr().map_or_else(|_| format!("{}:{}", cli.host, cli.port), |a| a.to_string());
    let ids: Vec<&str> =
        models.language.iter().map(|m| m.id.as_str()).chain(models.sentiment.iter().map(|m| m.id.as_str())).collect();
    println!("malmoi playground on http://{address}/ (models: {})", ids.join(", "));
    match serve_with(listener, router(models, limits.clone()), limits).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
