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
use std::time::Instant;

use clap::Parser;
use malmoi::tokenize::bpe::{BpeTrainer, ByteLevelBpe};

/// Trains a byte-level BPE tokenizer and saves it as a Hugging Face `tokenizer.json`.
#[derive(Parser)]
struct Args {
    /// UTF-8 text file, one document per line.
    corpus: String,
    /// Tokens in the trained vocabulary.
    #[arg(long, default_value_t = 8000)]
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
fn show(tokenizer: &ByteLevelBpe, text: &str) -> Result<String, Box<dyn Error>> {
    let ids = tokenizer.encode_ids(text)?;
    let pieces: Result<Vec<String>, _> = ids.iter().map(|&id| tokenizer.decode(&[id])).collect();
    Ok(format!("{} tokens: {}\n    ids: {:?}", ids.len(), pieces?.join("|"), ids))
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.corpus).map_err(|e| format!("{}: {e}", args.corpus))?;
    let lines: Vec<&str> = text.lines().take(args.lines).collect();
    println!("corpus: {} lines, {} bytes", lines.len(), lines.iter().map(|l| l.len()).sum::<usize>());

    let start = Instant::now();
    let tokenizer = BpeTrainer::new()
        .vocab_size(args.vocab_size)
        .min_frequency(args.min_frequency)
        .special_tokens(["<pad>", "<unk>", "</s>", "<mask>"])
        .show_progress(true)
        .train(lines.iter().copied())?;
    println!("trained {} tokens in {:.2} s", tokenizer.vocab_size(), start.elapsed().as_secs_f64());
    tokenizer.save(&args.out)?;
    println!("saved {}", args.out);

    for line in lines.iter().take(3).chain(&["아버지가방에들어가신다 😀 GPT-2 style BPE</s>"]) {
        println!("\n{line}\n    {}", show(&tokenizer, line)?);
    }

    let start = Instant::now();
    let encoded = tokenizer.encode_batch_ids(&lines)?;
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
