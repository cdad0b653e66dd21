//! Train a GPT-2 style byte-level BPE tokenizer on a corpus, save it as a Hugging Face
//! `tokenizer.json`, and show how it encodes a few lines.
//!
//! ```text
//! cargo run --release --example bpe -- CORPUS [--vocab-size 8000] [--min-frequency 2]
//!     [--lines N] [--out tokenizer.json]
//! cargo run --release --example bpe -- ../shared/data/nsmc/reviews_unlabeled.txt --lines 100000
//! ```
//!
//! CORPUS is a UTF-8 text file, one document per line. The saved file loads in Python with
//! `tokenizers.Tokenizer.from_file("tokenizer.json")`.

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use clap::Parser;
use clap::builder::RangedU64ValueParser;
use malmoi::tokenize::bpe::BpeTrainer;
use malmoi::tokenize::tokenizer::Tokenizer;

/// The special tokens every trained vocabulary starts with (after the 256 byte tokens).
const SPECIAL_TOKENS: [&str; 4] = ["<pad>", "<unk>", "</s>", "<mask>"];
/// Smallest `--vocab-size`: the 256 byte tokens, the special tokens and at least one merge.
const MIN_VOCAB_SIZE: u64 = 256 + SPECIAL_TOKENS.len() as u64 + 1;
/// Largest `--vocab-size` (the largest vocabularies in use have about 256k tokens); each token is one merge.
const MAX_VOCAB_SIZE: u64 = 262_144;

/// Trains a byte-level BPE tokenizer and saves it as a Hugging Face `tokenizer.json`.
#[derive(Parser)]
struct Args {
    /// UTF-8 text file, one document per line.
    corpus: String,
    /// Tokens in the trained vocabulary, 261 (256 bytes, 4 special tokens, one merge) to 262144.
    #[arg(long, default_value_t = 8000, value_parser = RangedU64ValueParser::<usize>::new().range(MIN_VOCAB_SIZE..=MAX_VOCAB_SIZE))]
    vocab_size: usize,
    /// Pairs seen fewer times are not merged.
    #[arg(long, default_value_t = 2)]
    min_frequency: u64,
    /// Lines of the corpus used (all by default).
    #[arg(long, default_value_t = usize::MAX, hide_default_value = true)]
    lines: usize,
    /// Where the tokenizer is saved.
    #[arg(long, default_value = "tokenizer.json")]
    out: String,
}

/// Each token of `text` as the text it stands for, joined with `|` (a token that ends
/// inside a multi-byte character shows that character's bytes as `�`).
fn show(tokenizer: &Tokenizer, text: &str) -> Result<String, Box<dyn Error>> {
    let ids = tokenizer.encode_ids(text, true)?;
    let pieces: Result<Vec<String>, _> = ids.iter().map(|&id| tokenizer.decode(&[id], false)).collect();
    Ok(format!("{} tokens: {}\n    ids: {:?}", ids.len(), pieces?.join("|"), ids))
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    malmoi::fs::check_writable(Path::new(&args.out)).map_err(|e| format!("--out {}: {e}", args.out))?;
    let text = std::fs::read_to_string(&args.corpus).map_err(|e| format!("{}: {e}", args.corpus))?;
    let lines: Vec<&str> = text.lines().take(args.lines).collect();
    println!("corpus: {} lines, {} bytes", lines.len(), lines.iter().map(|l| l.len()).sum::<usize>());

    let start = Instant::now();
    let tokenizer = BpeTrainer::new()
        .vocab_size(args.vocab_size)
        .min_frequency(args.min_frequency)
        .special_tokens(SPECIAL_TOKENS)
        .show_progress(true)
        .train(lines.iter().copied())?;
    println!("trained {} tokens in {:.2} s", tokenizer.vocab_size(), start.elapsed().as_secs_f64());
    if tokenizer.vocab_size() < args.vocab_size {
        println!(
            "stopped below --vocab-size {}: no pair left that occurs --min-frequency {} times in the corpus",
            args.vocab_size, args.min_frequency
        );
    }
    tokenizer.save(&args.out)?;
    println!("saved {}", args.out);

    for line in lines.iter().take(3).chain(&["아버지가방에들어가신다 😀 GPT-2 style BPE</s>"]) {
        println!("\n{line}\n    {}", show(&tokenizer, line)?);
    }

    let start = Instant::now();
    let encoded = tokenizer.encode_batch_ids(&lines, true)?;
    let seconds = start.elapsed().as_secs_f64();
    let tokens: usize = encoded.iter().map(Vec::len).sum();
    println!(
        "\nencode_batch: {tokens} tokens in {seconds:.2} s = {:.0} tokens/s on {} threads ({:.2} bytes/token)",
        tokens as f64 / seconds,
        rayon::current_num_threads(),
        lines.iter().map(|l| l.len()).sum::<usize>() as f64 / tokens as f64
    );
    Ok(())
}
