"""NumPy fixture for the formulas of malmoi-rlhf (crates/rlhf/src/losses.rs, data.rs).

Computes, for the fixed small inputs below, each objective straight from its formula:

  pairwise       reward model loss            mean(-log sigmoid(c - r))
  dpo            DPO sigmoid loss             mean(-log sigmoid(beta ((pi_c - pi_r) - (ref_c - ref_r))))
  ppo_policy     PPO clipped surrogate        masked mean of max(-A ratio, -A clip(ratio, 1-eps, 1+eps)),
                                              ratio = exp(new - old), and its clip fraction
  ppo_value      clipped value loss           0.5 masked mean of max((V-R)^2, (Vclip-R)^2),
                                              Vclip = old + clip(V - old, -eps, eps), and its clip fraction
  gae            generalised advantages       A_t = sum_l (gamma lambda)^l delta_{t+l} (the closed form,
                                              not the recursion malmoi uses), delta_t = r_t + gamma V_{t+1} - V_t,
                                              V = 0 after the last token; returns = A + V
  masked_mean    mean over a mask
  sft_loss       masked cross-entropy         mean over response tokens of -log softmax(logits)[target];
                                              targets -100 (PyTorch's ignore index) do not count
  grpo_advantages  group-normalised advantages  A_i = (r_i - mean_group) / (std + 1e-4), std unbiased (torch.std,
                                              as TRL's GRPOTrainer), per group ("group"), over the batch ("batch")
                                              or none ("none"); checked against torch when it is installed
  grpo_k3        Schulman's k3 KL estimator     exp(ref - logp) - (ref - logp) - 1
  grpo_loss      GRPO's objective (TRL's)      per token -min(ratio A, clip(ratio, 1-eps, 1+eps) A) + beta k3,
                                              ratio = exp(new - old), averaged as loss_type says: "dapo" over the
                                              masked tokens, "grpo" per sequence then over sequences, "dr_grpo"
                                              over B * max_completion_length; clip fraction (TRL's clip_ratio:
                                              ratio < 1-eps with A < 0 or ratio > 1+eps with A > 0) and mean k3
  pairs          preference pairs of a ranking  ranking[i] = rank of completion i (0 = best); the pairs
                                              in rank order (best>middle, best>worst, middle>worst),
                                              checked to be the same set the KoChatGPT tutorial builds
                                              by comparing completions 0v1, 0v2, 1v2

and writes them with their inputs to crates/rlhf/tests/fixtures/formulas.json, which
crates/rlhf/tests/formulas.rs checks malmoi against (no Python needed there).

Run from the repository root:  python3 benches/reference/rlhf_fixtures.py
"""

import itertools
import json
import pathlib

import numpy as np

OUT = pathlib.Path("crates/rlhf/tests/fixtures/formulas.json")
IGNORE = -100


def log_sigmoid(x):
    # log sigmoid(x) = -log(1 + e^-x), stable on both sides
    return -np.logaddexp(0.0, -x)


def pairwise(chosen, rejected):
    c, r = np.asarray(chosen, np.float64), np.asarray(rejected, np.float64)
    return float(np.mean(-log_sigmoid(c - r)))


def dpo(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
    pc, pr, rc, rr = (np.asarray(x, np.float64) for x in (policy_chosen, policy_rejected, reference_chosen, reference_rejected))
    logits = beta * ((pc - pr) - (rc - rr))
    return float(np.mean(-log_sigmoid(logits)))


def ppo_policy(new_logprobs, old_logprobs, advantages, mask, clip):
    new, old, a, m = (np.asarray(x, np.float64) for x in (new_logprobs, old_logprobs, advantages, mask))
    eps = clip
    ratio = np.exp(new - old)
    unclipped = -a * ratio
    clipped = -a * np.clip(ratio, 1 - eps, 1 + eps)
    loss = np.sum(np.maximum(unclipped, clipped) * m) / np.sum(m)
    fraction = np.sum((clipped > unclipped) * m) / np.sum(m)
    return float(loss), float(fraction)


def ppo_value(values, old_values, returns, mask, clip):
    eps = clip
    v, old, ret, m = (np.asarray(x, np.float64) for x in (values, old_values, returns, mask))
    v_clipped = old + np.clip(v - old, -eps, eps)
    unclipped = (v - ret) ** 2
    clipped = (v_clipped - ret) ** 2
    loss = 0.5 * np.sum(np.maximum(unclipped, clipped) * m) / np.sum(m)
    fraction = np.sum((clipped > unclipped) * m) / np.sum(m)
    return float(loss), float(fraction)


def gae(rewards, values, gamma, lam):
    r, v = np.asarray(rewards, np.float64), np.asarray(values, np.float64)
    n = len(r)
    next_values = np.append(v[1:], 0.0)
    delta = r + gamma * next_values - v
    # closed form: A_t = sum_{l >= 0} (gamma lambda)^l delta_{t+l}
    advantages = np.array([sum((gamma * lam) ** l * delta[t + l] for l in range(n - t)) for t in range(n)])
    return advantages.tolist(), (advantages + v).tolist()


def masked_mean(x, mask):
    x, m = np.asarray(x, np.float64), np.asarray(mask, np.float64)
    return float(np.sum(x * m) / np.sum(m))


def sft_loss(logits, targets):
    logits = np.asarray(logits, np.float64)
    targets = np.asarray(targets)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    counted = targets != IGNORE
    picked = np.take_along_axis(log_probs, np.where(counted, targets, 0)[..., None], axis=-1)[..., 0]
    return float(-(picked * counted).sum() / counted.sum())


def grpo_advantages(rewards, group_size, scale):
    r = np.asarray(rewards, np.float64)
    grouped = r.reshape(-1, group_size)
    centred = (grouped - grouped.mean(axis=1, keepdims=True)).reshape(-1)
    std = {
        "group": np.repeat(grouped.std(axis=1, ddof=1), group_size),
        "batch": np.full(len(r), r.std(ddof=1)),
    }.get(scale)
    advantages = centred if std is None else centred / (std + 1e-4)
    try:  # TRL's own arithmetic, when torch is at hand
        import torch

        t = torch.tensor(r).view(-1, group_size)
        mean = t.mean(dim=1).repeat_interleave(group_size)
        spread = {"group": t.std(dim=1).repeat_interleave(group_size), "batch": t.reshape(-1).std().expand(len(r))}
        expected = torch.tensor(r) - mean
        if scale != "none":
            expected = expected / (spread[scale] + 1e-4)
        assert np.allclose(expected.numpy(), advantages, atol=1e-12), (scale, expected, advantages)
    except ImportError:
        pass
    return advantages.tolist()


def k3(logprobs, reference):
    d = np.asarray(reference, np.float64) - np.asarray(logprobs, np.float64)
    return np.exp(d) - d - 1


def grpo_loss(new_logprobs, old_logprobs, reference, advantages, mask, epsilon, beta, loss_type, max_completion_length):
    new, old, ref, m = (np.asarray(x, np.float64) for x in (new_logprobs, old_logprobs, reference, mask))
    a = np.asarray(advantages, np.float64)[:, None]
    ratio = np.exp(new - old)
    per_token = -np.minimum(ratio * a, np.clip(ratio, 1 - epsilon, 1 + epsilon) * a)
    kl = k3(new, ref)
    if beta != 0.0:
        per_token = per_token + beta * kl
    if loss_type == "grpo":
        loss = np.mean((per_token * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0))
    elif loss_type == "dapo":
        loss = (per_token * m).sum() / max(m.sum(), 1.0)
    elif loss_type == "dr_grpo":
        loss = (per_token * m).sum() / (m.shape[0] * max_completion_length)
    else:
        raise ValueError(loss_type)
    clipped = ((ratio < 1 - epsilon) & (a < 0)) | ((ratio > 1 + epsilon) & (a > 0))
    return float(loss), float((clipped * m).sum() / m.sum()), float((kl * m).sum() / m.sum())


def pairs(completions, ranking):
    order = sorted(range(len(ranking)), key=lambda i: ranking[i])
    ranked = [(completions[a], completions[b]) for i, a in enumerate(order) for b in order[i + 1 :]]
    # the tutorial: compare every two completions by index, the lower rank is chosen
    by_index = set()
    for i, j in itertools.combinations(range(len(completions)), 2):
        chosen, rejected = (i, j) if ranking[i] < ranking[j] else (j, i)
        by_index.add((completions[chosen], completions[rejected]))
    assert set(ranked) == by_index, (ranking, ranked, by_index)
    return [{"chosen": c, "rejected": r} for c, r in ranked]


def main():
    fixture = {}

    chosen = [1.5, -0.3, 0.2, 2.0, -1.2]
    rejected = [0.5, 0.4, 0.2, -1.0, -3.5]
    fixture["pairwise"] = {"chosen": chosen, "rejected": rejected, "loss": pairwise(chosen, rejected)}

    dpo_inputs = {
        "policy_chosen": [-12.5, -30.2, -7.75, -18.0],
        "policy_rejected": [-14.0, -28.9, -9.5, -18.0],
        "reference_chosen": [-13.0, -29.5, -8.25, -17.5],
        "reference_rejected": [-13.5, -29.0, -9.0, -19.25],
    }
    fixture["dpo"] = [
        {**dpo_inputs, "beta": beta, "loss": dpo(**dpo_inputs, beta=beta)} for beta in (0.1, 0.5)
    ]

    # ratios inside and outside [1 - eps, 1 + eps] for positive and negative advantages; one
    # masked-out position whose (large) terms must not count
    mask = [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0]]
    policy = {
        "new_logprobs": [[-0.9, -2.5, -0.4, -1.0], [-0.75, -1.05, -2.0, -0.2]],
        "old_logprobs": [[-1.0, -2.0, -0.5, -1.0], [-0.7, -1.5, -3.0, -0.9]],
        "advantages": [[0.5, -1.0, 2.0, 0.3], [1.5, -0.3, 0.8, 5.0]],
        "mask": mask,
        "clip": 0.2,
    }
    value = {
        "values": [[0.1, 0.9, -0.4, 0.0], [0.5, -0.6, 1.3, 2.0]],
        "old_values": [[0.0, 0.5, 0.0, 0.0], [0.4, 0.0, 1.0, 0.0]],
        "returns": [[1.0, 0.0, -1.0, 0.0], [0.2, 0.3, 0.9, -4.0]],
        "mask": mask,
        "clip": 0.2,
    }
    for name, inputs, formula in (("ppo_policy", policy, ppo_policy), ("ppo_value", value, ppo_value)):
        loss, fraction = formula(**inputs)
        fixture[name] = {**inputs, "loss": loss, "clip_fraction": fraction}

    fixture["gae"] = []
    for rewards, vals, gamma, lam in [
        ([0.0, 0.0, 0.0, 0.0, 1.25], [0.1, 0.3, -0.2, 0.5, 0.4], 1.0, 0.95),
        ([-0.02, -0.01, 0.03, -0.05, 0.8], [0.2, 0.1, 0.4, 0.3, 0.6], 0.9, 0.95),
        ([1.0, 0.0, 2.0], [0.5, 0.25, 1.0], 0.99, 0.0),
    ]:
        adv, ret = gae(rewards, vals, gamma, lam)
        fixture["gae"].append(
            {"rewards": rewards, "values": vals, "gamma": gamma, "lambda": lam, "advantages": adv, "returns": ret}
        )

    x = [[0.5, -1.0, 2.0, 4.0], [1.5, 3.0, -0.25, 100.0]]
    fixture["masked_mean"] = {"x": x, "mask": mask, "mean": masked_mean(x, mask)}

    # a batch of two rows of five positions over a vocabulary of six: the first two targets of
    # each row are prompt tokens and the last of the second row is padding, all ignored
    rng = np.random.default_rng(11)
    logits = np.round(rng.normal(0.0, 2.0, size=(2, 5, 6)), 4)
    targets = [[IGNORE, IGNORE, 3, 0, 5], [IGNORE, IGNORE, 1, 4, IGNORE]]
    fixture["sft_loss"] = {
        "logits": logits.tolist(),
        "targets": targets,
        "ignore_index": IGNORE,
        "loss": sft_loss(logits, targets),
        "loss_without_mask": sft_loss(logits, np.where(np.asarray(targets) == IGNORE, 2, targets)),
    }

    # three groups of four answers; the last group's answers tie (advantages 0)
    rewards = [0.9, 0.1, 0.4, 0.6, -1.0, 2.0, 0.5, 0.25, 0.3, 0.3, 0.3, 0.3]
    fixture["grpo_advantages"] = [
        {"rewards": rewards, "group_size": 4, "scale_rewards": scale, "advantages": grpo_advantages(rewards, 4, scale)}
        for scale in ("group", "batch", "none")
    ]
    logprobs = [-0.5, -2.0, -3.25, -1.0]
    reference = [-0.75, -1.5, -3.25, -0.1]
    fixture["grpo_k3"] = {"logprobs": logprobs, "reference": reference, "k3": k3(logprobs, reference).tolist()}
    # ratios inside and outside [1 - eps, 1 + eps] for positive and negative advantages; rows of
    # different lengths (so the three averages differ) and masked-out positions with large terms
    grpo_inputs = {
        "new_logprobs": [[-0.9, -2.5, -0.4, -1.0, -0.3], [-0.75, -1.9, -2.0, -0.2, -4.0], [-1.2, -0.1, -0.6, -2.2, -0.9]],
        "old_logprobs": [[-1.0, -2.0, -0.5, -1.0, -0.3], [-0.7, -1.5, -3.0, -0.9, -0.1], [-1.0, -0.1, -0.9, -2.0, -0.1]],
        "reference": [[-1.1, -2.2, -0.45, -0.8, -0.2], [-0.9, -1.2, -2.5, -0.4, -0.1], [-1.3, -0.3, -0.6, -1.9, -0.1]],
        "advantages": [0.8, -1.2, 1.5],
        "mask": [[1.0, 1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0]],
        "epsilon": 0.2,
        "max_completion_length": 6,
    }
    fixture["grpo_loss"] = []
    for beta in (0.0, 0.04, 0.5):
        for loss_type in ("dapo", "grpo", "dr_grpo"):
            loss, fraction, kl = grpo_loss(**grpo_inputs, beta=beta, loss_type=loss_type)
            fixture["grpo_loss"].append(
                {**grpo_inputs, "beta": beta, "loss_type": loss_type, "loss": loss, "clip_fraction": fraction, "kl": kl}
            )

    completions = ["A", "B", "C"]
    fixture["pairs"] = [
        {"prompt": "질문", "completions": completions, "ranking": list(ranking), "pairs": pairs(completions, ranking)}
        for ranking in itertools.permutations(range(3))
    ]
    four = ["가", "나", "다", "라"]
    fixture["pairs"].append({"prompt": "네 답", "completions": four, "ranking": [3, 1, 0, 2], "pairs": pairs(four, [3, 1, 0, 2])})

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
    for name in ("pairwise", "ppo_policy", "ppo_value", "masked_mean", "sft_loss"):
        entry = fixture[name]
        print(name, {k: v for k, v in entry.items() if k in ("loss", "clip_fraction", "mean", "loss_without_mask")})
    print("dpo", [d["loss"] for d in fixture["dpo"]])
    print("grpo", [(g["beta"], g["loss_type"], round(g["loss"], 6)) for g in fixture["grpo_loss"]])
    print("grpo clip fraction", fixture["grpo_loss"][0]["clip_fraction"], "k3", fixture["grpo_loss"][0]["kl"])


if __name__ == "__main__":
    main()
