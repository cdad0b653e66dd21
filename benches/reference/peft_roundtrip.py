"""Adapters saved by malmoi load in PEFT and give malmoi's outputs.

Reads each case folder under DIR, written by crates/transformer/tests/lora.rs
(`write_adapters_for_peft`):

  adapter_config.json, adapter_model.safetensors   malmoi's `save_adapter` (PEFT's layout)
  case.json          {"base": the base model folder, "kind": "causal_lm" or "bert"}
  malmoi.safetensors the inputs (as float32) and `output`: malmoi's logits (B, T, vocab), or
                     BERT's last hidden state (B, T, H)

loads the base with transformers and the adapter with PeftModel.from_pretrained, runs the same
inputs, and prints the largest |PEFT - malmoi| (BERT: over real tokens only), then the same after
PEFT's merge_and_unload(). Exits 1 if a difference reaches 1e-4.

Run:
  MALMOI_PEFT_ROUNDTRIP_DIR=/tmp/peft_roundtrip cargo test -p malmoi-transformer --test lora write_adapters_for_peft
  python3 benches/reference/peft_roundtrip.py /tmp/peft_roundtrip
"""
import json
import pathlib
import sys

import peft
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, BertModel

TOLERANCE = 1e-4


def run(model, kind, inputs):
    with torch.no_grad():
        if kind == "bert":
            return model(input_ids=inputs["input_ids"], token_type_ids=inputs["token_type_ids"],
                         attention_mask=inputs["attention_mask"]).last_hidden_state
        return model(input_ids=inputs["input_ids"]).logits


def check(case: pathlib.Path) -> float:
    spec = json.loads((case / "case.json").read_text())
    kind = spec["kind"]
    saved = load_file(case / "malmoi.safetensors")
    inputs = {k: v.long() for k, v in saved.items() if k != "output"}
    ours = saved["output"]
    if kind == "bert":
        base = BertModel.from_pretrained(spec["base"], attn_implementation="eager")
        keep = inputs["attention_mask"].bool()
    else:
        base = AutoModelForCausalLM.from_pretrained(spec["base"], attn_implementation="eager")
        keep = torch.ones(inputs["input_ids"].shape, dtype=torch.bool)
    model = PeftModel.from_pretrained(base.eval(), case).eval()
    config = model.peft_config["default"]
    adapted = run(model, kind, inputs)
    with model.disable_adapter():
        plain = run(model, kind, inputs)
    merged = run(model.merge_and_unload(), kind, inputs)
    diff = (adapted - ours)[keep].abs().max().item()
    merged_diff = (merged - ours)[keep].abs().max().item()
    change = (adapted - plain)[keep].abs().max().item()
    print(f"{case.name}: r {config.r}, alpha {config.lora_alpha}, rslora {config.use_rslora}, "
          f"{len(load_file(case / 'adapter_model.safetensors'))} tensors; adapter changes the output by up to "
          f"{change:.3f}; max |PEFT - malmoi| = {diff:.2e}, after PEFT's merge_and_unload {merged_diff:.2e}")
    assert change > 1e-2, f"{case.name}: the adapter did not load (output equals the base's)"
    return max(diff, merged_diff)


def main():
    root = pathlib.Path(sys.argv[1])
    cases = sorted(p for p in root.iterdir() if (p / "case.json").is_file())
    if not cases:
        sys.exit(f"no case folders under {root}: run the Rust test with MALMOI_PEFT_ROUNDTRIP_DIR first")
    print(f"peft {peft.__version__}, torch {torch.__version__}")
    worst = max(check(case) for case in cases)
    print(f"largest difference over {len(cases)} adapters: {worst:.2e}")
    sys.exit(0 if worst < TOLERANCE else 1)


if __name__ == "__main__":
    main()
