"""The decision rules, as data: `ftc rules` lists them, `ftc explain R-...` prints one, and the
planner records every rule it applied (with the evidence, in words and numbers) in the plan.

The logic that applies them lives in ``compiler.planner``; a rule here is its documentation,
its source and its thresholds, so a threshold is changed in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass

# Thresholds the planner reads (named here so `ftc explain` shows the same numbers it uses).
MIN_EXAMPLES = 10  # below: prompt only
SMALL_DATA = 50  # below: fine-tune, with a warning
FULL_MIN_EXAMPLES = 50_000  # a full tune is planned on its own only with this much data
NEAR_BUDGET = 0.8  # a warning from this fraction of the budget
NEAR_MEMORY = 0.9  # a warning from this fraction of device memory


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    statement: str
    evidence: str  # the facts it reads
    effect: str  # what it changes in the plan
    source: str  # the guidance or paper it comes from


RULES: tuple[Rule, ...] = (
    Rule("R-PROMPT-FIRST", "A prompted baseline first",
         "A prompted baseline (the plan's system prompt + k few-shot examples from the train split) is always planned "
         "and measured first. Training, DPO and distillation steps carry the guard baseline_misses_bar: they are skipped "
         "when the baseline already meets every expect.",
         "the recipe's expects", "a baseline step; the guard on train, dpo, distill and eval",
         "OpenAI fine-tuning guide (\"first try prompt engineering\"); Anthropic/Google prompting guides"),
    Rule("R-ONE-PROMPT", "One prompt everywhere",
         "The system prompt and few-shot count are fixed once in the plan and used identically by the baseline, the "
         "training rows, the eval and the exported prompt.",
         "the goal text or the recipe's system prompt", "the plan's prompt section",
         "ftc design section 5: a tune trained under one system prompt and evaluated under another measures the skew"),
    Rule("R-KNOWLEDGE-RETRIEVE", "Knowledge goals retrieve",
         "A knowledge goal is served by retrieval (RAG) over the documents source, not by fine-tuning: fine-tuning "
         "stores new facts poorly and raises hallucination. A knowledge goal without a documents source is an error.",
         "goal kind, documents sources", "strategy gains rag; an index step before the baseline; retrieval on",
         "Ovadia et al. 2023, Fine-Tuning or Retrieval?; Gekhman et al. 2024, Does Fine-Tuning LLMs on New Knowledge "
         "Encourage Hallucinations?"),
    Rule("R-BEHAVIOR-FINETUNE", "Behaviour goals fine-tune when the data allows",
         f"A behaviour goal fine-tunes when there are at least {MIN_EXAMPLES} training examples; under {SMALL_DATA} "
         "it warns 'small data'.",
         "rows in the train sources", "strategy gains finetune; a guarded train step",
         "OpenAI fine-tuning guide (10 examples minimum, clear gains from 50-100); Google Vertex AI tuning guide (100-500)"),
    Rule("R-TOO-FEW-EXAMPLES", "Too few examples: prompt only",
         f"With fewer than {MIN_EXAMPLES} training examples a fine-tune cannot be trusted: the plan prompts only and says so.",
         "rows in the train sources", "strategy prompt (and rag) only; method none",
         "OpenAI fine-tuning guide (minimum of 10 examples)"),
    Rule("R-RAFT", "Behaviour plus knowledge: tune on retrieved context",
         "A goal with both behaviour and knowledge retrieves and fine-tunes on examples with retrieved context in "
         "the prompt (RAFT-style), so the tune learns to use, and to ignore, retrieved passages.",
         "goal kind both, documents and training sources", "strategy prompt, rag, finetune; train.retrieval_context",
         "Zhang et al. 2024, RAFT; Balaguer et al. 2024, RAG vs Fine-tuning (gains stack)"),
    Rule("R-DPO-AFTER-SFT", "Preference pairs: DPO after SFT",
         "Chosen/rejected pairs add a DPO stage after supervised fine-tuning (beta 0.1, lr 5e-6). Without other "
         "training data the SFT stage learns the chosen responses.",
         "preference sources", "strategy gains dpo; a guarded dpo step after train",
         "Rafailov et al. 2023, Direct Preference Optimization; Tunstall et al. 2023, Zephyr (SFT then DPO)"),
    Rule("R-DISTILL", "Distil when a bound excludes the teacher",
         "A teacher model plus a latency, size or cost bound that the teacher breaks: the teacher generates responses "
         "for the training prompts and the student (the base) learns them. A teacher no bound excludes is not used.",
         "teacher, constraints.latency, constraints.max_params, budget", "strategy gains distill; a guarded distill step",
         "Hinton et al. 2015, Distilling the Knowledge in a Neural Network; Kim and Rush 2016, Sequence-Level "
         "Knowledge Distillation"),
    Rule("R-METHOD-BY-MEMORY", "Method by the memory model",
         "The method is the least lossy one that fits on one device: LoRA (16-bit base), then QLoRA (4-bit base, CUDA "
         "only). Full ~8 B/param on CUDA in bf16 (16-18 B/param with an fp32 master copy, 16 on CPU in fp32); LoRA "
         "~2 B/param frozen + ~16 B per adapter parameter; QLoRA ~0.52 B/param + adapters; plus activations. "
         "The plan lists what each alternative needs. Nothing fits: FSDP across gpus when there is more than one, "
         "else an error naming the options (a smaller base, QLoRA on CUDA, a shorter max_length).",
         "model parameters, layers, hidden, vocab; max_length; batch; device memory",
         "method, estimates.peak_memory_bytes, estimates.alternatives",
         "Hu et al. 2021, LoRA; Dettmers et al. 2023, QLoRA; Hugging Face transformers docs, Model training anatomy"),
    Rule("R-FULL-NEEDS-REASON", "Full fine-tuning needs a reason",
         f"Parameter-efficient tuning is the default. A full tune is planned only when the recipe asks for it or "
         f"there are at least {FULL_MIN_EXAMPLES} training examples, and it fits.",
         "rows in the train sources, train.method", "method full",
         "Hu et al. 2021 (LoRA matches full tuning on most tasks); Biderman et al. 2024, LoRA Learns Less and Forgets Less"),
    Rule("R-FSDP", "Shard across GPUs when one cannot hold the job",
         "When no method fits on one device and the recipe grants more than one GPU, the plan shards weights, "
         "gradients and optimizer states with FSDP, launched by `accelerate launch` (never a home-made engine).",
         "constraints.gpus, the memory model", "plan.distributed",
         "Zhao et al. 2023, PyTorch FSDP; Hugging Face accelerate FSDP guide"),
    Rule("R-HPARAM-DEFAULTS", "Hyper-parameter defaults",
         "LoRA r=16, alpha=32, dropout 0.05 on all linear layers; lr 2e-4 (LoRA/QLoRA) or 2e-5 (full); cosine "
         "schedule, 3% warmup; effective batch 16 (8 for under 160 examples); a train { } override wins.",
         "method, rows", "hyperparameters",
         "Hu et al. 2021; Dettmers et al. 2023; Raschka 2023, Practical Tips for Finetuning LLMs Using LoRA"),
    Rule("R-EPOCHS-BY-SIZE", "Epochs by dataset size",
         "3 epochs under 1,000 examples, 2 under 10,000, else 1: small sets need repeats, large ones overfit on repeats.",
         "rows in the train sources", "hyperparameters.epochs",
         "OpenAI fine-tuning guide (default 3 epochs, fewer for large sets); Zhou et al. 2023, LIMA"),
    Rule("R-MAX-LENGTH-FROM-DATA", "max_length from the data",
         "max_length covers the longest sampled row (or the p99 when the longest is over twice the p99: an "
         "outlier), +10% when counted as chars/4, plus the system prompt and chat template, rounded up to a "
         "multiple of 64 (at least 128, at most the model's context); rows above it are handled by the source's "
         "`overlong` setting. Packing (padding-free) is on when the median row is under half of max_length.",
         "token-length sample (tokenizer or chars/4)", "hyperparameters.max_length, hyperparameters.packing",
         "torchtune #2830 (long unfiltered rows OOM mid-run); ftc design section 6 (padding-free packing 1.27x)"),
    Rule("R-DATA-HYGIENE", "Clean, deduplicate, split without leaks",
         "Every plan cleans, removes exact and near-duplicates (MinHash LSH, Jaccard 0.85) and splits by seed so that "
         "no near-duplicate crosses train and holdout, with a 13-gram overlap report.",
         "data sources, eval block", "clean, dedup and split steps",
         "Lee et al. 2022, Deduplicating Training Data Makes Language Models Better; Brown et al. 2020 (13-gram "
         "decontamination)"),
    Rule("R-TIME-COST", "Time and cost against the budget",
         f"Training FLOPs ~ 6 N tokens (full) or 4 N tokens (LoRA/QLoRA), inference 2 N per token, over the device's "
         f"peak at a stated utilisation. Over the budget is an error; from {NEAR_BUDGET:.0%} a warning. Peak memory "
         f"over the device's memory is an error; from {NEAR_MEMORY:.0%} a warning.",
         "train tokens, model parameters, device", "estimates.train_flops, seconds, cost",
         "Kaplan et al. 2020 (6N FLOPs per token); Chowdhery et al. 2022 (model FLOPs utilisation)"),
    Rule("R-GATE", "Promote only what beats the baseline",
         "A tuned model is promoted only if it meets every expect and beats the prompted baseline by the recipe's "
         "margin, on the leak-free holdout.",
         "eval expects, beat baseline by", "the gate step",
         "ftc design section 1: a tune that never proved it beats the prompted baseline is not shipped"),
)

BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


def fired(rule_id: str, because: str) -> dict:
    """The record of one applied rule, as it appears in the plan."""
    rule = BY_ID[rule_id]
    return {"id": rule.id, "because": because, "source": rule.source}


def explain(rule_id: str) -> str | None:
    rule = BY_ID.get(rule_id.strip().upper())
    if rule is None:
        return None
    return (f"{rule.id}: {rule.title}\n\n{rule.statement}\n\n"
            f"Evidence: {rule.evidence}\nEffect:   {rule.effect}\nSource:   {rule.source}\n")


# --- plan-time diagnostics (FTR3xx) ------------------------------------------------------------
CODES: dict[str, tuple[str, str]] = {
    "FTR301": ("a data source cannot be read",
               "The planner counts the rows of every data source and hashes it (the plan's data lock). The file is "
               "missing, unreadable, or not in a format it can count: JSONL (one row per line), a JSON array, CSV "
               "with a header, Parquet, a `datasets` folder, or a documents folder."),
    "FTR302": ("unknown model",
               "The model is not a local folder with config.json, not in the ftc cache ($FTC_HOME/models/NAME), not "
               "in the Hugging Face cache, and not in the built-in table of common families. The hint suggests near "
               "names from the table."),
    "FTR303": ("a model's config.json cannot be used",
               "The config.json found for the model lacks hidden_size, num_attention_heads, num_hidden_layers or "
               "vocab_size, or is not JSON; the memory model needs them."),
    "FTR304": ("a knowledge goal without documents",
               "Knowledge belongs in retrieval (R-KNOWLEDGE-RETRIEVE): a knowledge or both goal needs a data source "
               "with `format = documents` to index."),
    "FTR305": ("small data (warning)",
               "Fewer than 50 training examples: the fine-tune is planned, but gains usually start around 50-100 "
               "good examples (R-BEHAVIOR-FINETUNE)."),
    "FTR306": ("too few examples to fine-tune (warning)",
               "Fewer than 10 training examples: no fine-tune is planned; the prompted baseline is the result "
               "(R-TOO-FEW-EXAMPLES)."),
    "FTR307": ("nothing fits on the device",
               "No method fits in the device's memory even at micro-batch 1 with gradient checkpointing, and there "
               "is only one GPU. The message lists what each method needs; the hint names the options: a smaller "
               "base, QLoRA on cuda, a shorter max_length, more GPUs (R-METHOD-BY-MEMORY, R-FSDP)."),
    "FTR308": ("QLoRA on CPU",
               "QLoRA needs bitsandbytes' 4-bit CUDA kernels; on cpu use LoRA."),
    "FTR309": ("over the time budget",
               "The estimated wall-clock time (training plus the baseline and eval generations) is over the "
               "recipe's `budget` (R-TIME-COST). Cap the run with max_steps, lower epochs, or pick a smaller base."),
    "FTR310": ("near the time budget (warning)",
               "The estimate is at least 80% of the budget; estimates are rough, so leave headroom."),
    "FTR311": ("over the money budget",
               "The estimated cost (GPU-hours at the reference GPU's on-demand price) is over the recipe's `budget` in dollars."),
    "FTR312": ("near the money budget (warning)", "The estimated cost is at least 80% of the budget."),
    "FTR313": ("the recipe's method does not fit",
               "`train { method = ... }` asks for a method whose peak memory is over the device's memory (peak "
               "memory over gpu_memory is an error, R-TIME-COST). The hint names the options."),
    "FTR314": ("peak memory near the device's memory (warning)",
               "The estimated peak is at least 90% of the device's memory: a long row or fragmentation at run time "
               "may not fit. Lower max_length or batch."),
    "FTR315": ("teacher not used (warning)",
               "A teacher is named but no latency or max_params bound excludes it, so distillation is not planned "
               "(R-DISTILL): serve the teacher, or state the bound that rules it out."),
    "FTR316": ("the base breaks the bound",
               "Distillation was asked for (a teacher and a bound), but the base model itself breaks the latency or "
               "max_params bound it is meant to meet."),
    "FTR317": ("the teacher does not fit",
               "Distillation runs the teacher to generate responses: its weights (16-bit on cuda, fp32 on cpu) plus "
               "overhead must fit in the device's memory."),
    "FTR319": ("max_length below the data (warning)",
               "The recipe's max_length is below the data's p90 token length: more than 10% of the rows are overlong "
               "and will be dropped or truncated per the source's `overlong` setting."),
}


def explain_code(code: str) -> str | None:
    entry = CODES.get(code.strip().upper())
    if entry is None:
        return None
    title, text = entry
    return f"{code.strip().upper()}: {title}\n\n{text}\n"
