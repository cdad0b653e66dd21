"""The chat example's models load in transformers and measure the same there.

Loads OUT/rm-model as GPT2ForSequenceClassification and OUT/{ppo,dpo,sft}-model as
GPT2LMHeadModel (tokenizer.json through `tokenizers`), scores the held-out ranking pairs of
OUT/rm_test.json exactly as malmoi encodes them (template-rendered prompt, answer +
<|endoftext|>, answer cut to the context) and prints the held-out pair accuracy next to the one
malmoi reported in OUT/summary.json; then lets the tuned policy answer one held-out prompt.

Run:  python benches/reference/rlhf_roundtrip.py target/chat
"""
import json
import pathlib
import sys

import torch
from tokenizers import Tokenizer
from transformers import GPT2ForSequenceClassification, GPT2LMHeadModel


def encode(tokenizer, template, prompt, answer, block, eos):
    prompt_ids = tokenizer.encode(template.replace("{prompt}", prompt)).ids
    if len(prompt_ids) >= block:
        return None
    answer_ids = (tokenizer.encode(answer).ids + [eos])[: block - len(prompt_ids)]
    return prompt_ids + answer_ids


def main():
    out = pathlib.Path(sys.argv[1])
    rm = GPT2ForSequenceClassification.from_pretrained(out / "rm-model", torch_dtype=torch.float32).eval()
    tokenizer = Tokenizer.from_file(str(out / "rm-model" / "tokenizer.json"))
    template = (out / "sft-model" / "prompt_template.txt").read_text()
    eos, block = tokenizer.token_to_id("<|endoftext|>"), rm.config.n_positions
    right = total = 0
    for record in json.loads((out / "rm_test.json").read_text()):
        answers = [record[f"completion_{i}"] for i in range(len(record["ranking"]))]
        order = sorted(range(len(answers)), key=lambda i: record["ranking"][i])
        for a in range(len(order)):
            for b in order[a + 1:]:
                chosen = encode(tokenizer, template, record["prompt"], answers[order[a]], block, eos)
                rejected = encode(tokenizer, template, record["prompt"], answers[b], block, eos)
                if chosen is None or rejected is None:
                    continue
                with torch.no_grad():
                    scores = [float(rm(torch.tensor([ids])).logits[0, 0]) for ids in (chosen, rejected)]
                right += scores[0] > scores[1]
                total += 1
    summary = json.loads((out / "summary.json").read_text())
    print(f"transformers: held-out pair accuracy {right / total:.4f} over {total} pairs; "
          f"malmoi reported {summary['rm_accuracy_after']:.4f}")
    for name in ("ppo-model", "dpo-model", "sft-model"):
        if (out / name).exists():
            policy = GPT2LMHeadModel.from_pretrained(out / name, torch_dtype=torch.float32).eval()
            prompt = template.replace("{prompt}", "불고기용 고기 한우에요?")
            ids = torch.tensor([tokenizer.encode(prompt).ids])
            answer = policy.generate(ids, max_new_tokens=32, do_sample=False, eos_token_id=eos, pad_token_id=eos)
            print(f"{name} in transformers, greedy: {tokenizer.decode(answer[0, ids.shape[1]:].tolist())!r}")
            break


if __name__ == "__main__":
    main()
