"""PEFT-made LoRA adapters on the tiny checkpoints of hf_model_fixtures.py, with their outputs.

Writes crates/transformer/tests/fixtures/peft/<name>/ for each adapter below: what
`PeftModel.save_pretrained` writes (adapter_config.json, adapter_model.safetensors) and

  expected.safetensors  input_ids int64 (2, 9) from the base folder's expected.safetensors;
                        logits float32 (2, 9, vocab) = the base with the adapter, eval mode;
                        merged_logits float32 = the same after merge_and_unload().
  expected.json         the base folder (relative to fixtures/hf_models), versions, notes.

The adapters start from `init_lora_weights=False` (A and B both random), so the adapter changes the
logits before any training; each adapter's weights are then scaled so that the change is visible
but does not swamp the base.

Adapters:
  gpt2_qkv        GPT-2 (gpt2_kogpt2_keys): r 4, alpha 8, target c_attn (Conv1D: fan_in_fan_out)
  gpt2_all_rslora GPT-2: r 8, alpha 16, rsLoRA, targets c_attn, c_proj, c_fc (every Conv1D)
  llama_qv        Llama (llama): r 4, alpha 16, targets q_proj, v_proj
  llama_mlp_regex Llama: r 2, alpha 4, target_modules as a regex on the MLP of layer 1 only

Run (from anywhere):  python3 benches/reference/peft_fixtures.py
"""
import json
import pathlib
import shutil

import peft
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MODELS = ROOT / "crates/transformer/tests/fixtures/hf_models"
OUT = ROOT / "crates/transformer/tests/fixtures/peft"
SEED = 20261207

ADAPTERS = {
    "gpt2_qkv": ("gpt2_kogpt2_keys", dict(r=4, lora_alpha=8, target_modules=["c_attn"], fan_in_fan_out=True)),
    "gpt2_all_rslora": ("gpt2_kogpt2_keys", dict(r=8, lora_alpha=16, use_rslora=True,
                                                 target_modules=["c_attn", "c_proj", "c_fc"], fan_in_fan_out=True)),
    "llama_qv": ("llama", dict(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"])),
    "llama_mlp_regex": ("llama", dict(r=2, lora_alpha=4, target_modules=r".*layers\.1\.mlp\.(gate|up|down)_proj")),
}


def build(name: str, base: str, options: dict) -> None:
    torch.manual_seed(SEED + sum(map(ord, name)))
    model = AutoModelForCausalLM.from_pretrained(MODELS / base, attn_implementation="eager").eval()
    config = LoraConfig(task_type="CAUSAL_LM", lora_dropout=0.0, init_lora_weights=False, **options)
    model = get_peft_model(model, config)
    with torch.no_grad():
        for key, value in model.named_parameters():
            if "lora_B" in key:
                value.mul_(0.5)
    model.eval()
    out = OUT / name
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out)
    (out / "README.md").unlink()  # PEFT's empty model card, naming this machine's path
    # the folder names the base by where it lies in this repository, not by a hub id
    config_path = out / "adapter_config.json"
    saved = json.loads(config_path.read_text())
    saved["base_model_name_or_path"] = f"../hf_models/{base}"
    config_path.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")

    ids = load_file(MODELS / base / "expected.safetensors")["input_ids"]
    reloaded = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(MODELS / base, attn_implementation="eager"), out).eval()
    with torch.no_grad():
        logits = reloaded(ids).logits.float()
        with reloaded.disable_adapter():
            plain = reloaded(ids).logits.float()
        merged = reloaded.merge_and_unload()(ids).logits.float()
    change = (logits - plain).abs().max().item()
    assert change > 1e-2, f"{name}: the adapter barely changes the logits ({change})"
    assert (merged - logits).abs().max().item() < 1e-4, f"{name}: merged logits differ"
    save_file({"input_ids": ids.contiguous(), "logits": logits.contiguous(), "merged_logits": merged.contiguous()},
              out / "expected.safetensors")
    (out / "expected.json").write_text(json.dumps({
        "base": base,
        "options": options,
        "largest_change_from_base": change,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
        "notes": "logits of the base with the adapter (eval); merged_logits after merge_and_unload()",
    }, indent=2, sort_keys=True) + "\n")
    print(f"{name}: {sum(v.numel() for v in load_file(out / 'adapter_model.safetensors').values())} adapter "
          f"weights, largest logit change {change:.3f}")


if __name__ == "__main__":
    for name, (base, options) in ADAPTERS.items():
        build(name, base, options)
