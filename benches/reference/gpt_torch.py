"""PyTorch side of `cargo bench --bench gpt`: the same GPT shapes with transformers' GPT2LMHeadModel.

nanoGPT's character-level shape (n_layer 6, n_head 6, n_embd 384, block 256, vocab 65), CPU:
  * training step: forward + backward + AdamW on a batch of 8 x 256 tokens;
  * greedy generation of 128 new tokens after a 16-token prompt, with and without the KV cache.

Run:  python benches/reference/gpt_torch.py [--threads 2]
Prints tokens/s for each, as medians over repeated runs.
"""
import argparse
import statistics
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

BATCH, BLOCK, NEW_TOKENS = 8, 256, 128


def median_seconds(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=65, n_positions=BLOCK, n_embd=384, n_layer=6, n_head=6,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = GPT2LMHeadModel(config)
    params = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}, {args.threads} threads, {params / 1e6:.2f} M parameters")

    x = torch.randint(0, 65, (BATCH, BLOCK))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    model.train()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        optimizer.step()

    seconds = median_seconds(step, args.repeats)
    print(f"train step {BATCH}x{BLOCK}: {seconds * 1e3:.0f} ms, {BATCH * BLOCK / seconds:,.0f} tokens/s")

    model.eval()
    prompt = torch.tensor([[(t * 7) % 65 for t in range(16)]])
    for use_cache in (True, False):
        def generate():
            with torch.no_grad():
                model.generate(prompt, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False,
                               use_cache=use_cache, pad_token_id=0)
        seconds = median_seconds(generate, max(3, args.repeats // 2))
        label = "cached" if use_cache else "recompute"
        print(f"generate {label}: {NEW_TOKENS / seconds:,.0f} tokens/s ({seconds * 1e3:.0f} ms for {NEW_TOKENS})")


if __name__ == "__main__":
    main()
