"""A GPT trained and saved by malmoi loads in transformers: logits for the fixture test.

Loads DIR (config.json, model.safetensors, tokenizer.json written by `gpt --train`) with
transformers.GPT2LMHeadModel.from_pretrained and tokenizers, and writes OUT (JSON): for each
text, the ids (<|endoftext|> first, as malmoi scores a text) and the logits of the last position.
crates/transformer/tests/shipped_gpt.rs compares malmoi's logits with them.

Run:  python benches/reference/gpt_roundtrip.py models/gpt crates/transformer/tests/fixtures/shipped_gpt_logits.json
"""
import json
import sys

import torch
from tokenizers import Tokenizer
from transformers import GPT2LMHeadModel

TEXTS = ["영화가 정말 재밌다", "나는 버스를 탔다", "배우들 연기가 너무 어색해서 몰입이 안 됨"]


def main():
    model_dir, out = sys.argv[1], sys.argv[2]
    model = GPT2LMHeadModel.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    tokenizer = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    eos = tokenizer.token_to_id("<|endoftext|>")
    cases = []
    for text in TEXTS:
        ids = [eos] + tokenizer.encode(text).ids
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1]
        cases.append({"text": text, "ids": ids, "last_logits": [round(float(v), 6) for v in logits]})
    with open(out, "w") as f:
        json.dump({"transformers_model": model_dir, "cases": cases}, f)
    print(f"wrote {out}: {len(cases)} texts")


if __name__ == "__main__":
    main()
