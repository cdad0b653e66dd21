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

use malmoi::tokenize::bpe::{BpeTrainer, ByteLevelBpe};

/// Command-line settings.
struct Args {
    corpus: String,
    vocab_size: usize,
    min_frequency: u64,
    lines: usize,
    out: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        corpus: String::new(),
        vocab_size: 8000,
        min_frequency: 2,
        lines: usize::MAX,
        out: "tokenizer.json".to_owned(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--vocab-size" => args.vocab_size = value(&arg)?.parse().map_err(|e| format!("--vocab-size: {e}"))?,
            "--min-frequency" => {
                args.min_frequency = value(&arg)?.parse().map_err(|e| format!("--min-frequency: {e}"))?
            }
            "--lines" => args.lines = value(&arg)?.parse().map_err(|e| format!("--lines: {e}"))?,
            "--out" => args.out = value(&arg)?,
            _ if args.corpus.is_empty() && !arg.starts_with("--") => args.corpus = arg,
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    if args.corpus.is_empty() {
        return Err("usage: bpe CORPUS [--vocab-size N] [--min-frequency N] [--lines N] [--out PATH]".to_owned());
    }
    Ok(args)
}

/// Each token of `text` as the text it stands for, joined with `|` (a token that ends
/// inside a multi-byte character shows that character's bytes as `�`).
fn show(tokenizer: &ByteLevelBpe, text: &str) -> Result<String, Box<dyn Error>> {
    let ids = tokenizer.encode_ids(text)?;
    let pieces: Result<Vec<String>, _> = ids.iter().map(|&id| tokenizer.decode(&[id])).collect();
    Ok(format!("{} tokens: {}\n    ids: {:?}", ids.len(), pieces?.join("|"), ids))
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
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
