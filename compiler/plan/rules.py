"""The decision rules (R-...), as data: `ftc rules` lists them, `ftc explain R-...` prints one,
and the planner records every rule it applied (with the evidence, in words and numbers) in the plan.

The logic that applies them lives in ``compiler.plan.planner`` and its decision modules; a rule
here is its documentation and its source. Its thresholds are read from
``compiler.lang.thresholds``, as the planner reads them, so the statement shows the numbers used.
The diagnostics the planner reports (FTR3xx) are registered with every other code in
``compiler.lang.codes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftc.compiler.lang.thresholds import (
    FULL_MIN_EXAMPLES,
    GAINS_CLEAR,
    MIN_EXAMPLES,
    NEAR_BUDGET,
    NEAR_MEMORY,
    SMALL_DATA,
)
from ftc.shared import hparams
from ftc.shared.hparams import DEFAULTS


@dataclass(frozen=True)
class DecisionRule:
    id: str
    title: str
    statement: str
    evidence: str  # the facts it reads
    effect: str  # what it changes in the plan
    source: str  # the guidance or paper it comes from


DECISION_RULES: tuple[DecisionRule, ...] = (
    DecisionRule(
        "R-PROMPT-FIRST",
        "A prompted baseline first",
        "A prompted baseline (the plan's system prompt + k few-shot examples from the train split) is always planned "
        "and measured first. Training, DPO and distillation steps carry the guard baseline_misses_bar: they are skipped "
        "when the baseline already meets every expect.",
        "the recipe's expects",
        "a baseline step; the guard on train, dpo, distill and eval",
        'OpenAI fine-tuning guide ("first try prompt engineering"); Anthropic/Google prompting guides',
    ),
    DecisionRule(
        "R-ONE-PROMPT",
        "One prompt everywhere",
        "The system prompt and few-shot count are fixed once in the plan and used identically by the baseline, the "
        "training rows, the eval and the exported prompt.",
        "the goal text or the recipe's system prompt",
        "the plan's prompt section",
        "ftc design section 5: a tune trained under one system prompt and evaluated under another measures the skew",
    ),
    DecisionRule(
        "R-KNOWLEDGE-RETRIEVE",
        "Knowledge goals retrieve",
        "A knowledge goal is served by retrieval (RAG) over the documents source, not by fine-tuning: fine-tuning "
        "stores new facts poorly and raises hallucination. A knowledge goal without a documents source is an error.",
        "goal kind, documents sources",
        "strategy gains rag; an index step before the baseline; retrieval on",
        "Ovadia et al. 2023, Fine-Tuning or Retrieval?; Gekhman et al. 2024, Does Fine-Tuning LLMs on New Knowledge "
        "Encourage Hallucinations?",
    ),
    DecisionRule(
        "R-BEHAVIOR-FINETUNE",
        "Behaviour goals fine-tune when the data allows",
        f"A behaviour goal fine-tunes when there are at least {MIN_EXAMPLES} training examples; under {SMALL_DATA} "
        "it warns 'small data'.",
        "rows in the train sources",
        "strategy gains finetune; a guarded train step",
        f"OpenAI fine-tuning guide ({MIN_EXAMPLES} examples minimum, clear gains from {SMALL_DATA}-{GAINS_CLEAR}); "
        "Google Vertex AI tuning guide (100-500)",
    ),
    DecisionRule(
        "R-TOO-FEW-EXAMPLES",
        "Too few examples: prompt only",
        f"With fewer than {MIN_EXAMPLES} training examples a fine-tune cannot be trusted: the plan prompts only and says so.",
        "rows in the train sources",
        "strategy prompt (and rag) only; method none",
        f"OpenAI fine-tuning guide (minimum of {MIN_EXAMPLES} examples)",
    ),
    DecisionRule(
        "R-SYNTHESIZE",
        "Too few examples and a synthesize block: the teacher writes more",
        f"With fewer than {SMALL_DATA} training examples and a `synthesize` block, a guarded synthesize step runs "
        "before training: the teacher writes a new input seeded by the goal and a few real train examples (never "
        "holdout rows), then answers it prompted with those examples. A row is kept only if it passes its format's "
        "schema and every single-answer expect (json_valid, json_schema, regex, contains), is no exact or "
        "near-duplicate (MinHash, Jaccard 0.85) of a real or earlier synthetic row, and shares no near-duplicate or "
        "13-gram with the holdout. The holdout stays real rows only. The synthetic rows count towards "
        f"R-TOO-FEW-EXAMPLES' minimum of {MIN_EXAMPLES}.",
        "rows in the train sources, the synthesize block",
        "a guarded synthesize step after the baseline; train (or distill) learns real + kept synthetic rows",
        "Wang et al. 2023, Self-Instruct; Taori et al. 2023, Alpaca; Lee et al. 2022 (near-duplicate removal); "
        "Brown et al. 2020 (13-gram decontamination)",
    ),
    DecisionRule(
        "R-RAFT",
        "Behaviour plus knowledge: tune on retrieved context",
        "A goal with both behaviour and knowledge retrieves and fine-tunes on examples with retrieved context in "
        "the prompt (RAFT-style), so the tune learns to use, and to ignore, retrieved passages.",
        "goal kind both, documents and training sources",
        "strategy prompt, rag, finetune; train.retrieval_context",
        "Zhang et al. 2024, RAFT; Balaguer et al. 2024, RAG vs Fine-tuning (gains stack)",
    ),
    DecisionRule(
        "R-DPO-AFTER-SFT",
        "Preference pairs: DPO after SFT",
        f"Chosen/rejected pairs add a DPO stage after supervised fine-tuning (beta {DEFAULTS['dpo_beta']}, lr "
        f"{hparams.short(hparams.DPO_LR)}; `dpo_beta` and `dpo_lr` in the train block override them). "
        "Without other training data the SFT stage learns the chosen responses, and a share of the pairs is held "
        "out so that baseline and tune are scored on their prompts (chosen = the reference).",
        "preference sources",
        "strategy gains dpo; a guarded dpo step after train",
        "Rafailov et al. 2023, Direct Preference Optimization; Tunstall et al. 2023, Zephyr (SFT then DPO)",
    ),
    DecisionRule(
        "R-OBJECTIVE",
        "The preference objective from the data, or as the recipe sets it",
        "Rows labelled desirable or not (a boolean label: format = kto, or completion rows carrying one) train "
        "with KTO; preference pairs train with DPO after SFT. `train { objective = orpo }` trains the pairs with "
        "ORPO instead: the SFT loss plus an odds-ratio term, one stage with no reference model, after an SFT on "
        "the instruction data only when there is some. `objective = kto` also unpairs preference pairs (chosen: "
        "desirable, rejected: undesirable). KTO and DPO hold a reference model: the SFT model when one was "
        "trained (merged, frozen), else the base with the adapter disabled. Labelled rows are never trained as "
        "plain SFT targets: an objective that cannot use them is an error (FTR321).",
        "preference and kto sources, train.objective",
        "strategy gains dpo, orpo or kto; a guarded step of that kind after train, or alone",
        "Rafailov et al. 2023 (DPO); Hong et al. 2024, ORPO: Monolithic Preference Optimization without "
        "Reference Model; Ethayarajh et al. 2024, KTO: Model Alignment as Prospect Theoretic Optimization",
    ),
    DecisionRule(
        "R-DISTILL-KIND",
        "Logit distillation when teacher and student share a tokenizer",
        "Distillation matches the teacher's next-token distributions on the data's answers (forward KL at "
        "temperature T, weighted alpha against the SFT loss) when the teacher's and the student's tokenizers have "
        "the same vocabulary (compared token by token from their tokenizer.json files) and the teacher fits in "
        "memory beside the training student; otherwise (different or unknown vocabularies, or no room) the "
        "student learns the teacher's generated answers (sequence-level). `distill { kind = ... }` sets it; "
        "logits with vocabularies not shown to be the same is an error (FTR324).",
        "the two models' tokenizer.json, vocab sizes, device memory, distill.kind",
        "the distill step's kind, temperature and alpha; the memory estimate holds the teacher for logits",
        "Hinton et al. 2015, Distilling the Knowledge in a Neural Network; Kim and Rush 2016, Sequence-Level "
        "Knowledge Distillation",
    ),
    DecisionRule(
        "R-STUDENT-LAYERS",
        "A student cut from the base by layers",
        "`distill { student_layers = N }` (or a list of indices) makes the student the base with only those "
        "decoder layers, each initialised from the base's weights; a count keeps N evenly spaced layers with the "
        "first and the last (the layers whose removal costs most). A cut model's layers no longer see the inputs "
        "they were trained on, so every weight retrains (method full; LoRA on a cut model is an error, FTR327). "
        "The bounds, the memory model, the time estimate and the latency estimate are the student's. The prompted "
        "base breaks the bound the student is cut to meet, so the prompt is never the deliverable: the guard "
        "baseline_misses_bar does not skip this distillation.",
        "distill.student_layers, the base's layer count",
        "the distill step's student_layers; method full; the student's parameters in the plan's model section",
        "Sanh et al. 2019, DistilBERT (a student initialised from every other teacher layer); Kim et al. 2024, "
        "Shortened LLaMA; Men et al. 2024, ShortGPT; Muralidharan et al. 2024, Compact Language Models via Pruning "
        "and Knowledge Distillation (Minitron)",
    ),
    DecisionRule(
        "R-DISTILL",
        "Distil when a bound excludes the teacher",
        "A teacher model plus a latency, size or cost bound that the teacher breaks: the teacher generates responses "
        "for the training prompts and the student (the base) learns them. A teacher no bound excludes is not used.",
        "teacher, constraints.latency, constraints.max_params, budget",
        "strategy gains distill; a guarded distill step",
        "Hinton et al. 2015, Distilling the Knowledge in a Neural Network; Kim and Rush 2016, Sequence-Level "
        "Knowledge Distillation",
    ),
    DecisionRule(
        "R-METHOD-BY-MEMORY",
        "Method by the memory model",
        "The method is the least lossy one that fits on one device: LoRA (16-bit base), then QLoRA (4-bit base, CUDA "
        "only). Full ~16 B/param (fp32 master weights, gradients and AdamW states, compute autocast to bf16); LoRA "
        "~2 B/param frozen + ~16 B per adapter parameter; QLoRA ~0.52 B/param + adapters; plus activations. "
        "The plan lists what each alternative needs. Nothing fits: FSDP across gpus when there is more than one, "
        "else an error naming the options (a smaller base, QLoRA on CUDA, a shorter max_length).",
        "model parameters, layers, hidden, vocab; max_length; batch; device memory",
        "method, estimates.peak_memory_bytes, estimates.alternatives",
        "Hu et al. 2021, LoRA; Dettmers et al. 2023, QLoRA; Hugging Face transformers docs, Model training anatomy",
    ),
    DecisionRule(
        "R-FULL-NEEDS-REASON",
        "Full fine-tuning needs a reason",
        f"Parameter-efficient tuning is the default. A full tune is planned only when the recipe asks for it or "
        f"there are at least {FULL_MIN_EXAMPLES} training examples, and it fits (on one device, or sharded with "
        "FSDP over the granted GPUs).",
        "rows in the train sources, train.method",
        "method full",
        "Hu et al. 2021 (LoRA matches full tuning on most tasks); Biderman et al. 2024, LoRA Learns Less and Forgets Less",
    ),
    DecisionRule(
        "R-FSDP",
        "Shard across GPUs when one cannot hold the job",
        "When no method fits on one device and the recipe grants more than one GPU, the plan shards weights, "
        "gradients and optimizer states with FSDP, launched by `accelerate launch` (never a home-made engine). "
        "A full tune that R-FULL-NEEDS-REASON chose for a large dataset is sharded too when only sharding makes "
        "it fit, rather than falling back to LoRA on one device.",
        "constraints.gpus, the memory model",
        "plan.distributed",
        "Zhao et al. 2023, PyTorch FSDP; Hugging Face accelerate FSDP guide",
    ),
    DecisionRule(
        "R-DISTRIBUTED",
        "Processes, strategy and the global batch",
        "Every training job states how many processes run and how: one process when one device is granted; "
        "data parallel (DDP) over every granted device when the job fits one (throughput); FSDP when it does not "
        "(FULL_SHARD, or SHARD_GRAD_OP when the parameters fit one device unsharded). The global batch the rules "
        "chose is kept and split as micro-batch x accumulation x processes; the time estimate divides by the "
        "processes that run, less a communication overhead. Launched by `accelerate launch` (torch.distributed).",
        "constraints.device, gpus, processes, nodes; the memory model",
        "plan.distributed",
        "Li et al. 2020, PyTorch Distributed: Data Parallel; Zhao et al. 2023, PyTorch FSDP; accelerate docs",
    ),
    DecisionRule(
        "R-TEACHER-PLACEMENT",
        "Load a big teacher so it fits",
        "A teacher that fits one device in 16 bits (fp32 on cpu) loads whole; one that does not is spread over "
        'the node\'s GPUs (`device_map="auto"`) when their memory holds it, else loaded 4-bit NF4 (bitsandbytes, '
        "CUDA) when that fits one device; otherwise the plan fails with FTR317.",
        "model.teacher_params, constraints.device, gpus, gpu_memory",
        "plan.distributed.teacher",
        "Dettmers et al. 2023, QLoRA (NF4); Hugging Face accelerate, big model inference",
    ),
    DecisionRule(
        "R-HPARAM-DEFAULTS",
        "Hyper-parameter defaults",
        f"LoRA r={DEFAULTS['lora_r']}, alpha = 2r (scale 2 whatever the rank), dropout {DEFAULTS['lora_dropout']} (0 on a "
        "CPU, where the masks took ~40% of a LoRA step for the same holdout loss) on "
        f"all linear layers, plain (not rs-) LoRA; {hparams.LR_SCHEDULER} schedule, {hparams.WARMUP_RATIO:.0%} warmup, "
        f"AdamW ({DEFAULTS['optimizer']}), weight decay {DEFAULTS['weight_decay']:g}, gradient clipping at "
        f"{hparams.MAX_GRAD_NORM:g}, precision {DEFAULTS['precision']} (bf16 on a GPU that has it; fp32 weights with "
        f"bf16 autocast on a CPU that has it), TF32 left to torch; a checkpoint every {hparams.SAVE_STEPS} steps; "
        f"micro-batch {hparams.CPU_BATCH} on CPU, {hparams.GPU_BATCH} on GPU (lowered when memory requires), "
        "accumulation up to the effective batch of R-EPOCHS-BY-SIZE; the lr is R-LR's; the chat template is the "
        "model's own. A train { } override wins; the plan notes what the rule would have chosen.",
        "method, rows",
        "hyperparameters",
        "Hu et al. 2021; Dettmers et al. 2023; Raschka 2023, Practical Tips for Finetuning LLMs Using LoRA",
    ),
    DecisionRule(
        "R-LR",
        "Learning rate by model width",
        f"Full fine-tuning lr = {hparams.short(hparams.FULL_LR_REF)} at hidden width {hparams.REF_WIDTH} (a 7B-class "
        f"model), scaled as 1/width; LoRA (and QLoRA, DoRA) lr = {hparams.LORA_LR_FACTOR:g}x the full one, whatever the "
        f"rank; clamped to {hparams.short(hparams.LR_MIN)}..{hparams.short(hparams.LR_MAX)}. So LoRA "
        f"{hparams.short(hparams.lora_lr(4096))} at width 4096 (7B), {hparams.short(hparams.lora_lr(8192))} at 8192 "
        f"(70B), {hparams.short(hparams.lora_lr(576))} at 576 (SmolLM2-135M). `lr = auto` (or no lr) also plans "
        "R-LR-PROBE; a number in the recipe is used as is.",
        "model.hidden, method, train.lr",
        "hyperparameters.lr",
        "Yang et al. 2022, Tensor Programs V (muP: hidden-layer Adam lr ~ 1/width); Biderman et al. 2024, LoRA Learns "
        "Less and Forgets Less (best LoRA lr ~10x full fine-tuning's); Schulman et al. 2025, LoRA Without Regret "
        "(optimal LoRA lr ~10x FullFT, nearly independent of rank); Dettmers et al. 2023, QLoRA (2e-4 at 7B-13B, 1e-4 "
        "at 33B-65B); Touvron et al. 2023, Llama 2 (full SFT 2e-5 at 7B). Measured here (bench/lr_study.py, LoRA r16 "
        "on SmolLM2-135M, 160 rows, 60 updates): exact match 0.20 at 2e-4, 0.875 at 1e-3, 0.95 at 3e-3",
    ),
    DecisionRule(
        "R-LR-PROBE",
        "A measured learning-rate probe",
        f"When the recipe leaves lr to the rules and the budget allows, a guarded lr_probe step checks that R-LR's lr "
        f"is stable on this data: a short run ({hparams.PROBE_STEPS} updates, constant lr) at the rule's lr, scored by "
        f"the loss on a validation slice of train (its last {hparams.PROBE_VAL_ROWS} rows at most, never the holdout). "
        f"The run is stable when it lowers the untrained model's validation loss by at least "
        f"{hparams.PROBE_MIN_GAIN:.0%}; if not (or its loss is not finite), the probe steps down to the rule's lr x "
        + ", ".join(f"{x:.3g}" for x in hparams.PROBE_FACTORS[1:])
        + " and keeps the first stable one. It never steps up: a short run's loss favours lower learning rates "
        "(measured here on the labels2 shape: 4.7e-4 had the lower loss after 12 updates, 0.17 against 0.25, yet the "
        "full run reached exact match 0.898 against 1.000 at the rule's 1.4e-3). The train step uses the chosen lr. "
        "Over the budget with the probe: the rule's lr is used and the plan says so.",
        "train.lr, constraints.budget, the time estimate",
        "an lr_probe step before train (guarded like train)",
        "Smith 2017, Cyclical Learning Rates (a short range test finds where training becomes unstable); Wu et al. "
        "2018, Understanding Short-Horizon Bias in Stochastic Meta-Optimization (short runs prefer too-small lrs); "
        "ftc design section 4",
    ),
    DecisionRule(
        "R-PROMPT-SEARCH",
        "The strongest reasonable prompt as the baseline",
        "The prompted baseline is the best of a small search: "
        + "/".join(str(k) for k in hparams.SEARCH_SHOTS)
        + " shots x "
        + " / ".join(hparams.SEARCH_SELECTIONS)
        + f" selection (nearest: the train rows closest to the input by the embedded all-MiniLM-L6-v2), scored on "
        f"{hparams.SEARCH_VAL_ROWS} validation rows of train (shots drawn from the rest of train) by the mean of the "
        "rate expects. Candidates that do not fit the context or the budget are left out. The winner is scored on the "
        "holdout, is what the gate compares a tune against, and is the prompt exported when nothing is trained. "
        "A few_shot set in the recipe fixes the prompt (random shots) instead.",
        "train rows, max_length, model context, budget",
        "the baseline step's prompt_search config",
        "Liu et al. 2022, What Makes Good In-Context Examples for GPT-3? (nearest-neighbour shots beat random ones); "
        "Brown et al. 2020 (0/few-shot); Khattab et al. 2023, DSPy (choose the prompt on a validation set)",
    ),
    DecisionRule(
        "R-EPOCHS-BY-SIZE",
        "Effective batch and epochs by data size",
        f"Effective batch {hparams.EFFECTIVE_BATCH_SMALL} under {hparams.LARGE_DATA_ROWS:,} train rows, else "
        f"{hparams.EFFECTIVE_BATCH}; epochs = enough for {hparams.MIN_UPDATES} optimizer updates, at most 3 under "
        f"{hparams.LARGE_DATA_ROWS:,} rows, 2 under 10,000, else 1. Early stopping only from "
        f"{hparams.EARLY_STOPPING_MIN_ROWS:,} train rows: on a short run its validation slice takes rows from training "
        "and restoring the best checkpoint discards the last updates.",
        "rows in the train sources",
        "hyperparameters.epochs, grad_accum, early_stopping",
        "OpenAI fine-tuning guide (default 3 epochs, fewer for large sets); Zhou et al. 2023, LIMA. Measured here: "
        "a hand-written TRL script with batch 8 (twice the updates of effective batch 16) beat ftc's old plan on a "
        "few hundred rows; 60 updates at batch 8 reached 0.95 on labels8 (bench/lr_study.py)",
    ),
    DecisionRule(
        "R-MAX-LENGTH-FROM-DATA",
        "max_length from the data",
        "max_length covers the longest sampled row (or the p99 when the longest is over twice the p99: an "
        "outlier), +10% when counted as chars/4, plus the system prompt and chat template, rounded up to a "
        "multiple of 64 (at least 128, at most the model's context); rows above it are handled by the source's "
        "`overlong` setting. Rows that carry retrieved context (R-RAFT) also cover it: the documents' top-k longest "
        "chunks as the prompt shows them, +10% (a long document is read for its first chunks only). Packing (padding-free) is on when the median row is under half of max_length.",
        "token-length sample (tokenizer or chars/4)",
        "hyperparameters.max_length, hyperparameters.packing",
        "torchtune #2830 (long unfiltered rows OOM mid-run); ftc design section 6 (padding-free packing 1.27x)",
    ),
    DecisionRule(
        "R-DATA-HYGIENE",
        "Clean, deduplicate, split without leaks",
        "Every plan cleans, removes exact and near-duplicates (MinHash LSH, Jaccard 0.85) and splits by seed so that "
        "no near-duplicate crosses train and holdout, with a 13-gram overlap report.",
        "data sources, eval block",
        "clean, dedup and split steps",
        "Lee et al. 2022, Deduplicating Training Data Makes Language Models Better; Brown et al. 2020 (13-gram "
        "decontamination)",
    ),
    DecisionRule(
        "R-TIME-COST",
        "Time and cost against the budget",
        f"Training FLOPs ~ 6 N tokens (full) or 4 N tokens (LoRA/QLoRA), inference 2 N per token, over the device's "
        f"peak at a stated utilisation. Over the budget is an error; from {NEAR_BUDGET:.0%} a warning. Peak memory "
        f"over the device's memory is an error; from {NEAR_MEMORY:.0%} a warning.",
        "train tokens, model parameters, device",
        "estimates.train_flops, seconds, cost",
        "Kaplan et al. 2020 (6N FLOPs per token); Chowdhery et al. 2022 (model FLOPs utilisation)",
    ),
    DecisionRule(
        "R-GATE",
        "Promote only what beats the baseline",
        "A tuned model is promoted only if it meets every expect and beats the prompted baseline by the recipe's "
        "margin, on the leak-free holdout, beyond the noise: on rates the 95% interval of the paired per-row "
        "difference (seeded bootstrap; McNemar's test for 0/1 scores) must clear the margin, else the verdict says "
        "'not significant on N rows'. `ftc plan` warns (FTR318) when the holdout is too small to ever show the margin.",
        "eval expects, beat baseline by, holdout size",
        "the gate step",
        "ftc design section 1: a tune that never proved it beats the prompted baseline is not shipped; "
        "Dror et al. 2018, The Hitchhiker's Guide to Testing Statistical Significance in NLP (paired bootstrap, McNemar)",
    ),
    DecisionRule(
        "R-LATENCY-MEASURED",
        "Measure the latency a bound or expect asks for",
        "A latency bound (constraints.latency) or a latency expect (latency_p50, latency_p95) is measured on the "
        "run, not only estimated: the baseline and eval steps time a few holdout requests one at a time (batch 1, "
        "greedy, the plan's max_new_tokens, the run's device, after one untimed warm-up); the gate holds "
        "`expect latency_p95 <= 300ms` against the measured figure (a bar, never a margin), and the report shows "
        "it beside the cost model's estimate. The time estimate counts those requests; a retrieving request's "
        "prompt holds its retrieved chunks.",
        "constraints.latency, eval expects on latency",
        "baseline and eval configs gain latency_requests; estimates gain latency",
        "latency is a property of the served model on its device: a FLOP or bandwidth estimate is a plan, a "
        "measurement is evidence (MLPerf Inference reports per-query p90/p99 latency at batch 1 in its single-stream "
        "scenario)",
    ),
)

BY_ID: dict[str, DecisionRule] = {r.id: r for r in DECISION_RULES}


def fired(rule_id: str, because: str) -> dict[str, Any]:
    """The record of one applied rule, as it appears in the plan."""
    rule = BY_ID[rule_id]
    return {"id": rule.id, "because": because, "source": rule.source}


def explain(rule_id: str) -> str | None:
    """The `ftc explain R-...` text; None for an unknown rule id."""
    rule = BY_ID.get(rule_id.strip().upper())
    if rule is None:
        return None
    return (
        f"{rule.id}: {rule.title}\n\n{rule.statement}\n\n"
        f"Evidence: {rule.evidence}\nEffect:   {rule.effect}\nSource:   {rule.source}\n"
    )
