//! Where one GPT training step spends its time: forward (with the loss), backward, freeing the
//! graph, AdamW's step and `zero_grad`, each timed on its own over `--steps` steps (medians).
//! For each phase it prints the matrix-product FLOPs counted from the shapes and the GFLOP/s
//! they reach, how many cores were busy (CPU time of every thread of the process over wall
//! time), the GFLOP per CPU-second ("per core", the figure that stays comparable when other
//! processes share the machine) and the megabytes of fresh pages the phase faulted in.
//! `--products` then times every matrix product of the step alone, in the layout the library
//! passes it, to compare with the step.
//!
//! ```text
//! cargo run --release --example gpt_step_profile                 # nanoGPT char, 8 × 256, 2 threads
//! cargo run --release --example gpt_step_profile -- --products --peak-gflops 480
//! cargo run --release --example gpt_step_profile -- --layers 12 --width 768 --heads 12 \
//!     --batch 2 --seq 256 --vocab 50257 --steps 3                # GPT-2 124 M's shape
//! ```
//!
//! The defaults build the model `cargo bench --bench gpt` trains (n_layer 6, n_head 6, n_embd
//! 384, block 256, vocab 65, no dropout, tied head) on the same deterministic ids. For a per-op
//! profile run it under `perf record -e cpu-clock -g --call-graph dwarf` (see
//! `docs/performance.md`, "Where a GPT training step's time goes").
//!
//! FLOPs counted (multiply-add = 2): forward `2 · tokens · ((4 C² + 2 C · inner) · L + C · V)`
//! for the linear layers (inner = 4 C) and the tied head, plus `4 · B · T² · C` per layer for
//! `Q Kᵀ` and `P V`, counted over the full `T × T` square because that is what the attention
//! kernel computes (the causal half would be enough); backward twice the forward (`dX` and `dW`
//! of every linear, `dV`, `dP`, `dQ`, `dK` of attention). AdamW is memory-bound, so its figure
//! is GB/s over the 28 bytes each parameter moves (parameter, gradient, two moments read;
//! parameter and moments written).

use std::error::Error;
use std::fs;
use std::time::{Duration, Instant};

use clap::Parser;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

use malmoi::tensor::nn::Module;
use malmoi::tensor::ops::matmul::gemm;
use malmoi::tensor::optim::{AdamW, Optimizer};
use malmoi::transformer::{Gpt, GptConfig};

/// Any error, sendable out of the rayon pool.
type Failure = Box<dyn Error + Send + Sync>;

#[derive(Parser, Debug)]
#[command(about = "Time the phases of one GPT training step and count their FLOPs.")]
struct Args {
    /// Transformer blocks.
    #[arg(long, default_value_t = 6)]
    layers: usize,
    /// Model width (n_embd).
    #[arg(long, default_value_t = 384)]
    width: usize,
    /// Attention heads.
    #[arg(long, default_value_t = 6)]
    heads: usize,
    /// Sequences per batch.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Tokens per sequence (also the context size).
    #[arg(long, default_value_t = 256)]
    seq: usize,
    /// Vocabulary size.
    #[arg(long, default_value_t = 65)]
    vocab: usize,
    /// Measured steps (after `--warmup` untimed ones).
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Untimed steps first (page faults, AdamW's first-step buffers).
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Rayon threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// The machine's fp32 peak in GFLOP/s for `--threads` cores, to print each phase's share.
    #[arg(long)]
    peak_gflops: Option<f64>,
    /// Also time each matrix product of the step alone, on its own operands, in the layout the
    /// library passes it (transposed views as they are), to compare with its share in the step.
    #[arg(long)]
    products: bool,
}

/// The phases of a step, in the order they run.
const PHASES: [&str; 5] = ["forward + loss", "backward", "free graph", "AdamW step", "zero_grad"];

/// Wall and CPU time of every measured run of each phase.
#[derive(Default)]
struct Timings {
    wall: [Vec<Duration>; 5],
    cpu: [Duration; 5],
    page_faults: [u64; 5],
}

impl Timings {
    /// Runs `f` as phase `phase`, recording its wall time and the process's CPU time.
    fn run<R>(&mut self, phase: usize, f: impl FnOnce() -> R) -> R {
        let (faults, cpu, start) = (minor_faults(), cpu_time(), Instant::now());
        let result = f();
        self.wall[phase].push(start.elapsed());
        if let (Some(before), Some(after)) = (cpu, cpu_time()) {
            self.cpu[phase] += after.saturating_sub(before);
        }
        if let (Some(before), Some(after)) = (faults, minor_faults()) {
            self.page_faults[phase] += after.saturating_sub(before);
        }
        result
    }

    /// Median wall time of `phase`.
    fn median(&self, phase: usize) -> Duration {
        median(&self.wall[phase])
    }

    /// Mean wall time of `phase`.
    fn mean(&self, phase: usize) -> Duration {
        self.wall[phase].iter().sum::<Duration>() / self.wall[phase].len().max(1) as u32
    }

    /// Mean CPU time of one run of `phase`.
    fn cpu_per_step(&self, phase: usize) -> Duration {
        self.cpu[phase] / self.wall[phase].len().max(1) as u32
    }

    /// Minor page faults per run of `phase`: pages the allocator had to map and the kernel to
    /// zero, 4 KiB each.
    fn faults_per_step(&self, phase: usize) -> u64 {
        self.page_faults[phase] / self.wall[phase].len().max(1) as u64
    }

    /// Cores busy on average during `phase`: CPU time over wall time; `None` for phases too
    /// short to tell (the kernel updates an idle-waiting thread's CPU time only at ticks).
    fn cores_busy(&self, phase: usize) -> Option<f64> {
        let wall: Duration = self.wall[phase].iter().sum();
        (wall >= Duration::from_millis(50)).then(|| self.cpu[phase].as_secs_f64() / wall.as_secs_f64())
    }
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

/// CPU time consumed so far by every live thread of this process (`/proc/self/task/*/schedstat`,
/// nanoseconds), or `None` where `/proc` does not have it. Rayon's workers spin briefly before
/// sleeping, so this counts some waiting as busy.
fn cpu_time() -> Option<Duration> {
    let thread_nanos = |task: fs::DirEntry| -> Option<u64> {
        let stat = fs::read_to_string(task.path().join("schedstat")).ok()?;
        stat.split_whitespace().next()?.parse().ok()
    };
    let tasks = fs::read_dir("/proc/self/task").ok()?;
    Some(Duration::from_nanos(tasks.filter_map(|task| thread_nanos(task.ok()?)).sum()))
}

/// Minor page faults of this process so far (`/proc/self/stat`, field 10).
fn minor_faults() -> Option<u64> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name, which may itself hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(7)?.parse().ok()
}

/// Matrix-product FLOPs of one step, counted from the shapes.
struct Flops {
    linear: f64,
    attention: f64,
}

impl Flops {
    fn of(config: &GptConfig, batch: usize, seq: usize) -> Flops {
        let (c, l, v) = (config.n_embd as f64, config.n_layer as f64, config.vocab_size as f64);
        let tokens = (batch * seq) as f64;
        let matmul_params = (4.0 * c * c + 2.0 * c * config.inner_size() as f64) * l + c * v;
        Flops { linear: 2.0 * tokens * matmul_params, attention: 4.0 * batch as f64 * (seq * seq) as f64 * c * l }
    }

    fn forward(&self) -> f64 {
        self.linear + self.attention
    }

    fn backward(&self) -> f64 {
        2.0 * self.forward()
    }
}

fn config(args: &Args) -> GptConfig {
    GptConfig {
        vocab_size: args.vocab,
        block_size: args.seq,
        n_layer: args.layers,
        n_head: args.heads,
        n_embd: args.width,
        dropout: 0.0,
        ..GptConfig::default()
    }
}

/// The deterministic ids `benches/gpt.rs` trains on.
fn ids(batch: usize, len: usize, vocab: usize, salt: usize) -> Array2<u32> {
    Array2::from_shape_fn((batch, len), |(b, t)| ((b * 31 + t * 7 + salt) % vocab) as u32)
}

/// Runs `warmup + steps` training steps, timing the measured ones phase by phase.
fn profile(args: &Args, model: &Gpt) -> Result<Timings, Failure> {
    let mut optimizer = AdamW::new(model.named_parameters(), 3e-4)?;
    let (x, y) = (ids(args.batch, args.seq, args.vocab, 0), ids(args.batch, args.seq, args.vocab, 1));
    let mut timings = Timings::default();
    for step in 0..args.warmup + args.steps {
        let mut scratch = Timings::default();
        let t = if step < args.warmup { &mut scratch } else { &mut timings };
        let (logits, loss) = t.run(0, || model.forward(&x, Some(&y)))?;
        let loss = loss.ok_or("forward with targets returns a loss")?;
        t.run(1, || loss.backward())?;
        t.run(2, || drop((logits, loss)));
        t.run(3, || optimizer.step())?;
        t.run(4, || optimizer.zero_grad());
    }
    Ok(timings)
}

fn report(args: &Args, config: &GptConfig, params: usize, timings: &Timings) {
    let flops = Flops::of(config, args.batch, args.seq);
    let step: Duration = (0..PHASES.len()).map(|p| timings.median(p)).sum();
    let phase_flops = [flops.forward(), flops.backward(), 0.0, 0.0, 0.0];
    println!(
        "GPT {} layers × {} wide, {} heads, vocab {}, {:.2} M parameters; batch {} × {}; {} threads; \
         median of {} steps",
        config.n_layer,
        config.n_embd,
        config.n_head,
        config.vocab_size,
        params as f64 / 1e6,
        args.batch,
        args.seq,
        args.threads,
        args.steps
    );
    println!(
        "matmul FLOPs: forward {:.2} G (linear {:.2} + attention {:.2}, full T×T), backward {:.2} G",
        flops.forward() / 1e9,
        flops.linear / 1e9,
        flops.attention / 1e9,
        flops.backward() / 1e9
    );
    println!(
        "{:<16} {:>10} {:>7} {:>11} {:>9} {:>10} {:>9} {:>12}",
        "phase", "median ms", "share", "cores busy", "GFLOP", "GFLOP/s", "per core", "faults (MB)"
    );
    for (p, name) in PHASES.iter().enumerate() {
        let seconds = timings.median(p).as_secs_f64();
        let rate = if phase_flops[p] > 0.0 { format!("{:.1}", phase_flops[p] / seconds / 1e9) } else { "-".into() };
        let busy = timings.cores_busy(p).map_or("-".into(), |busy| format!("{busy:.2}"));
        let faulted = timings.faults_per_step(p) as f64 * 4096.0 / 1e6;
        let cpu = timings.cores_busy(p).map_or(0.0, |_| timings.cpu_per_step(p).as_secs_f64());
        let core = per_core(phase_flops[p] / 1e9, cpu);
        println!(
            "{name:<16} {:>10.1} {:>6.1}% {busy:>11} {:>9.2} {rate:>10} {core} {faulted:>12.0}",
            seconds * 1e3,
            100.0 * seconds / step.as_secs_f64(),
            phase_flops[p] / 1e9
        );
    }
    let total = flops.forward() + flops.backward();
    let rate = total / step.as_secs_f64() / 1e9;
    let cpu: Duration = (0..PHASES.len()).map(|p| timings.cpu_per_step(p)).sum();
    let mean_wall: Duration = (0..PHASES.len()).map(|p| timings.mean(p)).sum();
    // Too short a run to tell, as for the phases: the CPU times move in scheduler ticks.
    let measured = mean_wall * args.steps as u32 >= Duration::from_millis(50);
    let busy = if measured { format!("{:.2}", cpu.as_secs_f64() / mean_wall.as_secs_f64()) } else { "-".into() };
    println!(
        "{:<16} {:>10.1} {:>7} {busy:>11} {:>9.2} {rate:>10.1} {}",
        "step",
        step.as_secs_f64() * 1e3,
        "",
        total / 1e9,
        per_core(total / 1e9, if measured { cpu.as_secs_f64() } else { 0.0 })
    );
    let adamw = timings.median(3).as_secs_f64();
    println!("AdamW moves {:.0} MB: {:.1} GB/s", params as f64 * 28.0 / 1e6, params as f64 * 28.0 / adamw / 1e9);
    println!("tokens/s: {:.0}", (args.batch * args.seq) as f64 / step.as_secs_f64());
    if let Some(peak) = args.peak_gflops {
        println!("share of the {peak:.0} GFLOP/s peak over the step: {:.1} %", 100.0 * rate / peak);
    }
}

/// One kind of matrix product of the step: `count` products `(m, k) · (k, n)`, each operand
/// stored transposed when the library passes a transposed view (`Wᵀ` in the forward, `dYᵀ` for
/// `dW`, `Kᵀ`, `Pᵀ`, …). Per-head products run serially inside a parallel loop over the
/// `B · heads` pairs, as the attention kernel does; the others use every thread, as `Linear` does.
struct Product {
    label: String,
    m: usize,
    k: usize,
    n: usize,
    a_transposed: bool,
    b_transposed: bool,
    count: usize,
    per_head: bool,
}

impl Product {
    fn flops(&self) -> f64 {
        2.0 * (self.m * self.k * self.n * self.count) as f64
    }

    /// Wall time and process CPU time of all `count` products.
    fn time(&self) -> (Duration, Option<Duration>) {
        let operand = |rows: usize, cols: usize, transposed: bool, salt: usize| {
            let (r, c) = if transposed { (cols, rows) } else { (rows, cols) };
            Array2::from_shape_fn((r, c), |(i, j)| ((i * 131 + j * 71 + salt) % 97) as f32 / 97.0 - 0.5)
        };
        let (a, b) = (operand(self.m, self.k, self.a_transposed, 1), operand(self.k, self.n, self.b_transposed, 2));
        let (a, b) = (oriented(&a, self.a_transposed), oriented(&b, self.b_transposed));
        let size = self.m * self.n;
        // Written before the clock starts, so first-touch page faults are not timed.
        let mut out = vec![1.0f32; size * if self.per_head { self.count } else { 1 }];
        let product = |a: ArrayView2<f32>, b: ArrayView2<f32>, c: &mut [f32], parallel: bool| {
            let mut c = ArrayViewMut2::from_shape((self.m, self.n), c).expect("m × n");
            gemm(a, b, &mut c, false, parallel);
        };
        let (cpu, start) = (cpu_time(), Instant::now());
        if self.per_head {
            out.par_chunks_mut(size).for_each(|c| product(a, b, c, false));
        } else {
            (0..self.count).for_each(|_| product(a, b, &mut out, true));
        }
        let wall = start.elapsed();
        (wall, cpu.zip(cpu_time()).map(|(before, after)| after.saturating_sub(before)))
    }
}

/// `x`, or the transposed view of it.
fn oriented(x: &Array2<f32>, transposed: bool) -> ArrayView2<'_, f32> {
    if transposed { x.t() } else { x.view() }
}

/// Every matrix product of one training step of `config` on `batch × seq` tokens.
fn products(config: &GptConfig, batch: usize, seq: usize) -> Vec<Product> {
    let (c, inner, v, layers) = (config.n_embd, config.inner_size(), config.vocab_size, config.n_layer);
    let (rows, heads, hs) = (batch * seq, batch * config.n_head * layers, config.head_size());
    let linears = [("c_attn", c, 3 * c, layers), ("attn c_proj", c, c, layers), ("c_fc", c, inner, layers)];
    let linears = linears.into_iter().chain([("mlp c_proj", inner, c, layers), ("lm_head", c, v, 1)]);
    let mut list = Vec::new();
    for (name, fan_in, fan_out, count) in linears {
        let product = |label, m, k, n, a_transposed, b_transposed| Product {
            label,
            m,
            k,
            n,
            a_transposed,
            b_transposed,
            count,
            per_head: false,
        };
        let label = |kind: &str| format!("{kind} {name}");
        list.push(product(label("fwd x·Wᵀ"), rows, fan_in, fan_out, false, true));
        list.push(product(label("bwd dX = dY·W"), rows, fan_out, fan_in, false, false));
        list.push(product(label("bwd dW = dYᵀ·X"), fan_out, rows, fan_in, true, false));
    }
    let attention = [
        ("fwd attention Q·Kᵀ", seq, hs, seq, false, true),
        ("fwd attention P·V", seq, seq, hs, false, false),
        ("bwd attention dV = Pᵀ·dO", seq, seq, hs, true, false),
        ("bwd attention dP = dO·Vᵀ", seq, hs, seq, false, true),
        ("bwd attention dQ = dS·K", seq, seq, hs, false, false),
        ("bwd attention dK = dSᵀ·Q", seq, seq, hs, true, false),
    ];
    for (label, m, k, n, a_transposed, b_transposed) in attention {
        let label = label.to_string();
        list.push(Product { label, m, k, n, a_transposed, b_transposed, count: heads, per_head: true });
    }
    list
}

/// Times each product alone (median of `repeats`) and prints its rate.
fn report_products(list: &[Product], repeats: usize) {
    println!("\nEach product alone (median of {repeats}; per core = GFLOP per CPU-second of the process):");
    println!(
        "{:<30} {:>18} {:>6} {:>8} {:>9} {:>9} {:>9}",
        "product", "m × k × n", "count", "GFLOP", "ms", "GFLOP/s", "per core"
    );
    let (mut flops, mut seconds, mut cpu_seconds) = (0.0, 0.0, 0.0);
    for product in list {
        let runs: Vec<(Duration, Option<Duration>)> = (0..repeats).map(|_| product.time()).collect();
        let t = median(&runs.iter().map(|r| r.0).collect::<Vec<_>>()).as_secs_f64();
        let cpu = runs.iter().map(|r| r.1.unwrap_or_default()).sum::<Duration>().as_secs_f64() / repeats as f64;
        let shape = format!("{} × {} × {}", product.m, product.k, product.n);
        let gflop = product.flops() / 1e9;
        println!(
            "{:<30} {shape:>18} {:>6} {gflop:>8.2} {:>9.1} {:>9.1} {}",
            product.label,
            product.count,
            t * 1e3,
            gflop / t,
            per_core(gflop, cpu)
        );
        (flops, seconds, cpu_seconds) = (flops + gflop, seconds + t, cpu_seconds + cpu);
    }
    println!(
        "{:<30} {:>18} {:>6} {flops:>8.2} {:>9.1} {:>9.1} {}",
        "all products",
        "",
        "",
        seconds * 1e3,
        flops / seconds,
        per_core(flops, cpu_seconds)
    );
}

/// `gflop / cpu_seconds` right-aligned in 9 columns, or `-` without a CPU time.
fn per_core(gflop: f64, cpu_seconds: f64) -> String {
    if cpu_seconds > 0.0 && gflop > 0.0 { format!("{:>9.1}", gflop / cpu_seconds) } else { format!("{:>9}", "-") }
}

fn main() -> Result<(), Failure> {
    let args = Args::parse();
    if args.steps == 0 {
        return Err("--steps must be at least 1".into());
    }
    let config = config(&args);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(args.threads).build()?;
    pool.install(|| {
        let model = Gpt::new(config.clone(), 0)?;
        let params = model.named_parameters().iter().map(|(_, p)| p.data().len()).sum();
        let timings = profile(&args, &model)?;
        report(&args, &config, params, &timings);
        if args.products {
            report_products(&products(&config, args.batch, args.seq), args.steps.max(3));
        }
        Ok(())
    })
}
