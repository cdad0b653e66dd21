//! BERT on NSMC with no weights from outside: pre-train on the unlabelled reviews (masked LM
//! with the 80/10/10 rule + next-sentence prediction on consecutive reviews), then fine-tune a
//! classification head on `ratings_train.txt` and report the accuracy on `ratings_test.txt`.
//!
//! ```text
//! cargo run --release --example bert -- pretrain [--minutes 10] [--out models/bert]
//! cargo run --release --example bert -- finetune [--steps 1500] [--out models/bert]
//! ```
//!
//! The tokenizer is a byte-level BPE (`--vocab`) trained on the same reviews, with `[PAD]`,
//! `[CLS]`, `[SEP]` and `[MASK]` as special tokens; sequences are `[CLS] A [SEP] B [SEP]`, at
//! most `--max-len` tokens. `pretrain` writes `OUT/pretrained/` (Hugging Face's
//! `BertForPreTraining` layout + `tokenizer.json`) and its loss curve; `finetune` reads it and
//! writes `OUT/classifier/` and the test accuracy. Both stop after their time or step budget.

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, Subcommand};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use malmoi::seq::nsmc::read_labeled_tsv;
use malmoi::tensor::clip_grad_norm;
use malmoi::tensor::nn::Module;
use malmoi::tensor::optim::{AdamW, Optimizer, Schedule};
use malmoi::tokenize::BpeTrainer;
use malmoi::tokenize::tokenizer::Tokenizer;
use malmoi::transformer::bert::{
    Bert, BertConfig, BertForPreTraining, BertForSequenceClassification, BertInput, mask_tokens,
};
use malmoi::transformer::plot::line_charts;

const NSMC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/nsmc");
const SPECIALS: [&str; 4] = ["[PAD]", "[CLS]", "[SEP]", "[MASK]"];

#[derive(Parser)]
#[command(about = "Pre-train BERT on NSMC's unlabelled reviews and fine-tune it on NSMC")]
struct Cli {
    #[command(subcommand)]
    stage: Stage,
    /// Directory holding ratings_train.txt, ratings_test.txt and reviews_unlabeled.txt.
    #[arg(long, global = true, default_value = NSMC)]
    data: PathBuf,
    /// Where the models go.
    #[arg(long, global = true, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/models/bert"))]
    out: PathBuf,
    /// Longest sequence, in tokens.
    #[arg(long, global = true, default_value_t = 64)]
    max_len: usize,
    #[arg(long, global = true, default_value_t = 32)]
    batch: usize,
    #[arg(long, global = true, default_value_t = 0)]
    seed: u64,
}

#[derive(Subcommand)]
enum Stage {
    /// Masked LM + next-sentence prediction on the unlabelled reviews.
    Pretrain {
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        #[arg(long, default_value_t = 8000)]
        vocab: usize,
        #[arg(long, default_value_t = 4)]
        layers: usize,
        #[arg(long, default_value_t = 256)]
        hidden: usize,
        #[arg(long, default_value_t = 4)]
        heads: usize,
        #[arg(long, default_value_t = 1e-3)]
        lr: f32,
    },
    /// A classification head on NSMC, then the test accuracy.
    Finetune {
        #[arg(long, default_value_t = 1500)]
        steps: usize,
        #[arg(long, default_value_t = 1e-4)]
        lr: f32,
    },
}

fn main() -> Result<(), Box<dyn Error>> {
    let cli = Cli::parse();
    match cli.stage {
        Stage::Pretrain { minutes, vocab, layers, hidden, heads, lr } => {
            let config = BertConfig {
                vocab_size: 0,
                hidden_size: hidden,
                num_hidden_layers: layers,
                num_attention_heads: heads,
                intermediate_size: 4 * hidden,
                hidden_act: "gelu".into(),
                hidden_dropout_prob: 0.1,
                max_position_embeddings: cli.max_len,
                type_vocab_size: 2,
                layer_norm_eps: 1e-12,
                pad_token_id: 0,
                model_type: "bert".into(),
                rest: Default::default(),
            };
            pretrain(&cli, config, vocab, minutes, lr)
        }
        Stage::Finetune { steps, lr } => finetune(&cli, steps, lr),
    }
}

/// `[CLS] a [SEP] b [SEP]` (or `[CLS] a [SEP]`), the longer part cut first, and its type ids.
fn pair(a: &[u32], b: Option<&[u32]>, max_len: usize, cls: u32, sep: u32) -> (Vec<usize>, Vec<usize>) {
    let budget = max_len - if b.is_some() { 3 } else { 2 };
    let (mut la, mut lb) = (a.len(), b.map_or(0, <[u32]>::len));
    while la + lb > budget {
        if la >= lb { la -= 1 } else { lb -= 1 }
    }
    let mut ids = vec![cls as usize];
    ids.extend(a[..la].iter().map(|&t| t as usize));
    ids.push(sep as usize);
    let mut types = vec![0; ids.len()];
    if let Some(b) = b {
        ids.extend(b[..lb].iter().map(|&t| t as usize));
        ids.push(sep as usize);
        types.resize(ids.len(), 1);
    }
    (ids, types)
}

fn special_ids(tokenizer: &Tokenizer) -> Result<[u32; 4], Box<dyn Error>> {
    let id = |t: &str| tokenizer.token_to_id(t).ok_or_else(|| format!("the tokenizer lacks {t}"));
    Ok([id(SPECIALS[0])?, id(SPECIALS[1])?, id(SPECIALS[2])?, id(SPECIALS[3])?])
}

fn pretrain(cli: &Cli, mut config: BertConfig, vocab: usize, minutes: f64, lr: f32) -> Result<(), Box<dyn Error>> {
    let path = cli.data.join("reviews_unlabeled.txt");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    let lines = &lines[..lines.len().saturating_sub(5000)]; // the LM issue's held-out reviews stay unseen
    let tokenizer = BpeTrainer::new()
        .vocab_size(vocab)
        .special_tokens(SPECIALS)
        .show_progress(true)
        .train(lines.iter().copied())?;
    let [pad, cls, sep, mask] = special_ids(&tokenizer)?;
    let encoded = tokenizer.encode_batch_ids(lines, true)?;
    config.vocab_size = tokenizer.vocab_size();
    config.pad_token_id = pad as usize;
    let model = BertForPreTraining::new(Bert::new(config, cli.seed)?, cli.seed)?;
    eprintln!("BERT: {} parameters, {} reviews", model.num_parameters(), encoded.len());
    let mut optimizer = AdamW::new(model.named_parameters(), lr)?.with_weight_decay(0.01)?;
    let mut rng = StdRng::seed_from_u64(cli.seed);
    let (started, budget) = (Instant::now(), minutes * 60.0);
    let mut curve = Vec::new();
    let mut step = 0;
    while started.elapsed().as_secs_f64() < budget {
        let mut sequences = Vec::with_capacity(cli.batch);
        let (mut labels, mut next) = (Vec::new(), Vec::new());
        for _ in 0..cli.batch {
            let i = rng.random_range(0..encoded.len() - 1);
            let random = rng.random::<bool>();
            let b = if random { rng.random_range(0..encoded.len()) } else { i + 1 };
            let (ids, types) = pair(&encoded[i], Some(&encoded[b]), cli.max_len, cls, sep);
            let special: Vec<bool> = ids.iter().map(|&t| t == cls as usize || t == sep as usize).collect();
            let (masked, label) = mask_tokens(&ids, &special, 0.15, mask as usize, tokenizer.vocab_size(), &mut rng);
            sequences.push((masked, types));
            labels.push(label);
            next.push(usize::from(random));
        }
        let input = BertInput::pad(&sequences, pad as usize)?;
        let width = input.input_ids.ncols();
        let mlm_labels = Array2::from_shape_fn((cli.batch, width), |(r, t)| {
            labels[r].get(t).copied().unwrap_or(malmoi::transformer::IGNORE_INDEX)
        });
        optimizer.set_learning_rate(lr * (step as f32 / 200.0).min(1.0));
        optimizer.zero_grad();
        let (mlm, nsp) = model.losses(&input, &mlm_labels, &next)?;
        let loss = mlm.add(&nsp)?;
        loss.backward()?;
        clip_grad_norm(&model.parameters(), 1.0)?;
        optimizer.step()?;
        step += 1;
        curve.push((step as f64, mlm.item()? as f64, nsp.item()? as f64));
        if step % 100 == 0 {
            let recent = &curve[curve.len() - 100..];
            let mean = |f: fn(&(f64, f64, f64)) -> f64| recent.iter().map(f).sum::<f64>() / recent.len() as f64;
            eprintln!(
                "step {step} ({:.0} s): MLM {:.3}, NSP {:.3}",
                started.elapsed().as_secs_f64(),
                mean(|c| c.1),
                mean(|c| c.2)
            );
        }
    }
    let dir = cli.out.join("pretrained");
    model.save_pretrained(&dir)?;
    tokenizer.save(dir.join("tokenizer.json"))?;
    let mlm: Vec<(f64, f64)> = curve.iter().map(|c| (c.0, c.1)).collect();
    let nsp: Vec<(f64, f64)> = curve.iter().map(|c| (c.0, c.2)).collect();
    line_charts(
        &dir.join("loss.svg"),
        "step",
        &[("masked LM", vec![("train", &mlm)]), ("next sentence", vec![("train", &nsp)])],
    )?;
    println!("pre-trained {step} steps in {:.0} s → {}", started.elapsed().as_secs_f64(), dir.display());
    Ok(())
}

fn finetune(cli: &Cli, steps: usize, lr: f32) -> Result<(), Box<dyn Error>> {
    let pretrained = cli.out.join("pretrained");
    let tokenizer = Tokenizer::from_file(pretrained.join("tokenizer.json"))?;
    let [pad, cls, sep, _] = special_ids(&tokenizer)?;
    let bert = BertForPreTraining::from_pretrained(&pretrained)?.bert;
    let mut model = BertForSequenceClassification::new(bert, 2, cli.seed)?;
    model.set_training(true);
    let train = read_labeled_tsv(cli.data.join("ratings_train.txt"))?;
    let test = read_labeled_tsv(cli.data.join("ratings_test.txt"))?;
    let encode = |doc: &str| -> Result<(Vec<usize>, Vec<usize>), Box<dyn Error>> {
        Ok(pair(&tokenizer.encode_ids(doc, true)?, None, cli.max_len, cls, sep))
    };
    let mut optimizer = AdamW::new(model.named_parameters(), lr)?.with_weight_decay(0.01)?;
    let schedule = Schedule::warmup_linear(steps / 10, steps)?;
    let mut rng = StdRng::seed_from_u64(cli.seed);
    let started = Instant::now();
    let mut curve = Vec::new();
    for step in 0..steps {
        let rows: Vec<usize> = (0..cli.batch).map(|_| rng.random_range(0..train.len())).collect();
        let sequences = rows.iter().map(|&r| encode(&train[r].document)).collect::<Result<Vec<_>, _>>()?;
        let labels = ndarray::Array1::from_iter(rows.iter().map(|&r| train[r].label as usize)).into_dyn();
        optimizer.set_learning_rate(schedule.learning_rate(lr, step));
        optimizer.zero_grad();
        let loss = model.forward(&BertInput::pad(&sequences, pad as usize)?)?.cross_entropy(&labels, None)?;
        loss.backward()?;
        clip_grad_norm(&model.parameters(), 1.0)?;
        optimizer.step()?;
        curve.push((step as f64 + 1.0, loss.item()? as f64));
        if (step + 1) % 100 == 0 {
            let mean = curve[curve.len() - 100..].iter().map(|c| c.1).sum::<f64>() / 100.0;
            eprintln!("step {} ({:.0} s): loss {mean:.4}", step + 1, started.elapsed().as_secs_f64());
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let dir = cli.out.join("classifier");
    model.save_pretrained(&dir)?;
    tokenizer.save(dir.join("tokenizer.json"))?;
    line_charts(&dir.join("loss.svg"), "step", &[("fine-tuning loss", vec![("train", &curve)])])?;
    let accuracy = evaluate(&mut model, &test, encode, pad as usize)?;
    println!(
        "fine-tuned {steps} steps in {seconds:.0} s; NSMC test accuracy {:.2} % ({} reviews)",
        100.0 * accuracy,
        test.len()
    );
    Ok(())
}

fn evaluate(
    model: &mut BertForSequenceClassification,
    test: &[malmoi::seq::nsmc::LabeledText],
    encode: impl Fn(&str) -> Result<(Vec<usize>, Vec<usize>), Box<dyn Error>>,
    pad: usize,
) -> Result<f64, Box<dyn Error>> {
    let mut correct = 0;
    for chunk in test.chunks(256) {
        let sequences = chunk.iter().map(|r| encode(&r.document)).collect::<Result<Vec<_>, _>>()?;
        let probs = model.predict_proba(&BertInput::pad(&sequences, pad)?)?;
        correct += chunk.iter().zip(probs.rows()).filter(|(r, p)| usize::from(p[1] > p[0]) == r.label as usize).count();
    }
    Ok(correct as f64 / test.len() as f64)
}
