"""The one registry of diagnostic codes, ruff-style: every code ftc can report, from any phase.

FTR0xx syntax (the file could not be read or parsed), FTR1xx semantic (well-formed but wrong),
FTR2xx lint (what a reviewer would flag), FTR3xx plan (found by the planner). Each entry is the
code, a slug, the default severity, the phase, a one-line summary, a doc, a bad example and what
to write instead. `ftc explain CODE`, SARIF rule metadata and docs/diagnostics.md all come from
here; thresholds are formatted in from ``compiler.lang.thresholds``, never restated.

The implementations live where the phase runs (parser, checks, ``lint_rules``, the planner); a
test checks that every code the code base emits is registered here and has a golden fixture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ftc.compiler.lang.diagnostics import Severity
from ftc.compiler.lang.thresholds import (
    GAINS_CLEAR,
    MAX_BYTES,
    MAX_DEPTH,
    MAX_DIAGNOSTICS,
    MAX_TOKENS,
    MIN_EXAMPLES,
    NEAR_BUDGET,
    NEAR_MEMORY,
    SMALL_DATA,
)

Phase = Literal["syntax", "semantic", "lint", "plan"]

PHASES: dict[Phase, str] = {
    "syntax": "A syntax error: the file could not be read or parsed, so nothing else was checked.",
    "semantic": "A semantic error: the recipe parses but is wrong. Every such error in a file is reported, not only the first.",
    "lint": "A lint finding: `ftc lint` reports it (`--strict` fails on warnings too); `ftc plan` and `ftc run` refuse errors.",
    "plan": "Found by the planner (`ftc plan`, `ftc run`) once it has read the data, the model and the device.",
}


@dataclass(frozen=True)
class Code:
    code: str
    name: str  # a slug: knowledge-without-documents
    severity: Severity  # the default; a few codes report a milder one in some places (say so in doc)
    phase: Phase
    summary: str  # one line
    doc: str  # what it checks and why it matters
    example: str  # what triggers it
    use_instead: str  # what to write instead

    @property
    def lints(self) -> bool:
        """Reported by `ftc lint` (syntax, semantic and lint phases), so listed in its SARIF rules."""
        return self.phase != "plan"


_MB = MAX_BYTES // 1_000_000

CODES: dict[str, Code] = {
    c.code: c
    for c in (
        # --- syntax ---------------------------------------------------------------------------
        Code("FTR001", "cannot-read", "error", "syntax",
             "The recipe file cannot be read: it is missing, a directory or not permitted.",
             "ftc reads the file before anything else; a folder given to `ftc lint` is searched for *.ftr, and a "
             "folder with none is reported here too.",
             "ftc lint recipes/missing.ftr", "ftc lint recipes/quickstart.ftr"),
        Code("FTR002", "not-text", "error", "syntax",
             "The file is not UTF-8 text (binary, NUL bytes or another encoding).",
             "A recipe is UTF-8 text (a BOM is accepted). A binary file or one saved in another encoding is "
             "refused with the position of the first bad byte.",
             "ftc lint model.safetensors", "ftc lint recipes/quickstart.ftr"),
        Code("FTR003", "unexpected-character", "error", "syntax",
             "A character that cannot start any token (`:` `'` `@` ...).",
             "The language has `=` for attributes, double quotes for strings and `#` for comments; YAML or "
             "Python habits show up here first.",
             "format: chat", "format = chat"),
        Code("FTR004", "unexpected-token", "error", "syntax",
             "A token where the grammar expects something else, or an early end of file.",
             "A recipe evaluates nothing: there are no expressions, so arithmetic and stray words are refused "
             "where they stand.",
             "lr = 2e-4 * 2", "lr = 4e-4"),
        Code("FTR005", "unbalanced-brackets", "error", "syntax",
             "A `{`, `[` or `(` that is never closed, or a closer without an opener.",
             "Brackets are matched before parsing so the error points at the bracket left open, not at the end "
             "of the file.",
             'recipe "x" {\n  eval { holdout = 20%\n}', 'recipe "x" {\n  eval { holdout = 20% }\n}'),
        Code("FTR006", "bad-string", "error", "syntax",
             "An unterminated string or an unknown escape (strings take \\\" \\\\ \\n \\t \\r \\uXXXX).",
             "A string ends on the line it starts; a backslash starts an escape, so Windows paths need forward "
             "slashes or doubled backslashes.",
             'path = "C:\\data"', 'path = "data/tickets.jsonl"'),
        Code("FTR008", "too-deep", "error", "syntax",
             f"Nesting deeper than {MAX_DEPTH} levels: no recipe needs it, so the input is refused early.",
             "Refusing deep nesting up front keeps every later walk over the tree shallow and fast, whatever "
             "the input.",
             "x = [[[[[[[[ ... ]]]]]]]]", "x = [1, 2, 3]"),
        Code("FTR009", "foreign-format", "error", "syntax",
             "A JSON or YAML file was given where a .ftr recipe was expected.",
             "Recipes are HCL-flavoured `.ftr` files; a JSON plan or a YAML config of another tool is "
             "recognised and named rather than parsed into a wall of errors.",
             '{"recipe": "x"}', 'recipe "x" {\n  goal = behavior("...")\n}'),
        Code("FTR010", "too-large", "error", "syntax",
             f"The file is larger than {_MB} MB or holds more than {MAX_TOKENS:,} tokens; a recipe is a few KB.",
             "A file this large is data or generated text given by mistake; it is refused before parsing so "
             "linting a folder stays fast.",
             "ftc lint data/train.jsonl   # a 40 MB data file", "ftc data check data/train.jsonl --format chat"),
        Code("FTR011", "too-many-findings", "error", "syntax",
             f"More than {MAX_DIAGNOSTICS} findings in one file: the rest are counted, not shown.",
             "Past this many findings a reader learns nothing more. The note is an error when any of the hidden "
             "findings is an error, otherwise a note.",
             "a = 1\na = 1\n# ... 150 stray lines", 'recipe "x" {\n  # fix the first findings, then lint again\n}'),
        # --- semantic -------------------------------------------------------------------------
        Code("FTR101", "unknown-block", "error", "semantic",
             "A block that does not exist (or is misplaced), with a did-you-mean.",
             "The blocks are recipe, data, documents, constraints, eval, train and export (`ftc explain BLOCK`).",
             'dta "tickets" { ... }', 'data "tickets" { ... }'),
        Code("FTR102", "unknown-key", "error", "semantic",
             "A key that the block does not know, with a did-you-mean; typos never fall back to defaults.",
             "Names other tools use (learning_rate, num_epochs, max_seq_length ...) point at ftc's key "
             "(`ftc explain BLOCK.KEY`).",
             "learning_rate = 2e-4", "lr = 2e-4"),
        Code("FTR103", "wrong-type", "error", "semantic",
             "A value of the wrong type: a string where a name is expected, a float where a whole number is.",
             "Every key has one type (`ftc explain BLOCK.KEY`); choices are bare names, paths are strings.",
             'format = "chat"', "format = chat"),
        Code("FTR104", "bad-unit", "error", "semantic",
             "A missing or wrong unit: sizes need KB..TiB, durations ms..d, parameter counts K M B T.",
             "Units keep values unambiguous: `1B` is a billion parameters and never a byte, `m` is minutes and "
             "`M` millions.",
             "gpu_memory = 24", "gpu_memory = 24GB"),
        Code("FTR105", "out-of-range", "error", "semantic",
             "A value outside its sane range (percentages 0-100, sizes and durations > 0, ...).",
             "Ranges are part of each key's entry in the language table (`ftc explain BLOCK.KEY`).",
             "holdout = 120%", "holdout = 20%"),
        Code("FTR106", "missing-part", "error", "semantic",
             "A required part is missing: goal, base, a data source, an eval block, a source's path or format.",
             "A recipe must say what it wants, from which model, on which data, and how the result is measured.",
             'data "t" { format = chat }', 'data "t" {\n  path   = "data/t.jsonl"\n  format = chat\n}'),
        Code("FTR107", "duplicate", "error", "semantic",
             "A key set twice, a second singleton block, two sources with one name.",
             "The second one would silently win in other tools; here it is an error that points at the first.",
             'data "t" { ... }\ndata "t" { ... }', 'data "t" { ... }\ndata "t-extra" { ... }'),
        Code("FTR108", "file-not-found", "error", "semantic",
             "A data file, folder or schema that does not exist (paths are relative to the recipe), or a "
             "documents folder the run would read no file from.",
             "Paths resolve against the recipe's folder, not the current directory, so a recipe means the same "
             "wherever ftc runs. A documents source reads the files its glob matches, hidden ones left out; "
             "the default glob reads text files only (.md .markdown .txt .rst .text).",
             'path = "data/tickts.jsonl"', 'path = "data/tickets.jsonl"'),
        Code("FTR109", "outside-project", "error", "semantic",
             "A path that leaves the recipe's project (nearest folder with pyproject.toml or .git); allow with --allow-outside.",
             "A reviewed recipe must not read files elsewhere on the machine unless the person running it says so.",
             'path = "../../home/me/data.jsonl"', 'path = "data/tickets.jsonl"'),
        Code("FTR110", "unknown-choice", "error", "semantic",
             "A name that is not one of the allowed choices (format, device, method, goal kind ...).",
             "Each choice key lists its options (`ftc explain BLOCK.KEY`); a near miss gets a did-you-mean.",
             "device = gpu", "device = cuda"),
        Code("FTR111", "bad-metric", "error", "semantic",
             "An unknown metric, wrong metric arguments, a bad regex or schema, or a malformed `beat baseline by`.",
             "Metrics and their arguments are listed under `ftc explain eval`.",
             'expect exact_mach(field = "category") >= 0.8', 'expect exact_match(field = "category") >= 0.8'),
        Code("FTR112", "threshold-range", "error", "semantic",
             "A threshold outside the metric's range (rates 0..1 or 0%..100%, perplexity > 0).",
             "A rate is a fraction of rows; a threshold outside its range is a typo for a percentage or a scale.",
             "expect json_valid >= 1.5", "expect json_valid >= 0.95"),
        Code("FTR113", "unknown-source", "error", "semantic",
             "eval `data` names a data source that the recipe does not define.",
             "The eval data is one of the recipe's own sources, named by its label.",
             'data = "tickets-evl"', 'data = "tickets-eval"'),
        Code("FTR114", "block-name", "error", "semantic",
             "A block's name is missing, not allowed, or not a valid name.",
             "recipe, data and documents take a name; the other blocks take none. Names use letters, digits, "
             "'.', '_' and '-'.",
             "data { path = ... }", 'data "tickets" { path = ... }'),
        Code("FTR115", "misplaced", "error", "semantic",
             "Something outside the one recipe block, a second recipe, or expect/beat outside eval.",
             "One file holds one recipe block, and everything lives inside it.",
             'recipe "a" { ... }\nrecipe "b" { ... }', 'recipe "a" { ... }   # and recipe "b" in b.ftr'),
        Code("FTR116", "bad-columns", "error", "semantic",
             "A columns map names a field that the data format does not have.",
             "The map is canonical field = column in your file; the canonical fields are the format's "
             "(`ftc schema data FORMAT`).",
             'columns = { mesages = "conversation" }', 'columns = { messages = "conversation" }'),
        # --- lint -----------------------------------------------------------------------------
        Code("FTR201", "knowledge-without-documents", "error", "lint",
             "A knowledge goal (or both) with no documents source.",
             "Fine-tuning stores facts poorly and they go stale; ftc answers knowledge goals with retrieval "
             "over documents (R-KNOWLEDGE-RETRIEVE). Without a documents source there is nothing to retrieve "
             "from. The planner applies the same check to recipes built without the linter.",
             'goal = knowledge("Answer questions about our refund policy")',
             'goal = knowledge("Answer questions about our refund policy")\n'
             'documents "policies" { path = "docs/policies" glob = "**/*.md" }'),
        Code("FTR202", "too-few-examples", "warning", "lint",
             f"A fine-tune would have fewer than {MIN_EXAMPLES} training examples after the holdout.",
             f"OpenAI's minimum is {MIN_EXAMPLES} examples; {SMALL_DATA}-{GAINS_CLEAR} well-made examples is where "
             "supervised tuning starts to help and Google suggests 100-500. With fewer, ftc does not fine-tune "
             "and the plan stops at prompting, which is probably not what the recipe intends.",
             'data "tickets" { path = "data/tickets.jsonl"  format = chat }   # 8 rows',
             'data "tickets" { path = "data/tickets.jsonl"  format = chat }   # 300 rows'),
        Code("FTR203", "no-holdout", "warning", "lint",
             "The eval block states neither a holdout nor eval data.",
             "Every promotion decision rests on the held-out split. ftc holds out a default share (`ftc explain "
             "eval.holdout`), but a reviewer should see the split in the recipe rather than guess it.",
             "eval {\n  expect json_valid >= 0.95\n}", "eval {\n  holdout = 20%\n  seed    = 7\n  expect json_valid >= 0.95\n}"),
        Code("FTR204", "no-baseline-margin", "warning", "lint",
             "No `beat baseline by` margin in the eval block.",
             "Prompting is the cheapest experiment and the bar every tune must clear. Without a margin a tune "
             "that merely ties the prompted baseline would be promoted, with its training and serving cost.",
             "eval {\n  holdout = 20%\n}", "eval {\n  holdout = 20%\n  beat baseline by 10%\n}"),
        Code("FTR205", "unused-source", "warning", "lint",
             "A data source that nothing in the plan uses.",
             "A documents source under a behaviour-only goal is never retrieved from; it is usually a leftover "
             "or a goal that should be both(...). Unused sources still cost load time and confuse reviewers.",
             'goal = behavior("Reply as JSON")\ndocuments "handbook" { path = "docs" }',
             'goal = both(behavior = "Reply as JSON", knowledge = "Our product handbook")\n'
             'documents "handbook" { path = "docs" }'),
        Code("FTR206", "unreachable-threshold", "error", "lint",
             "An expectation no score can meet.",
             "`expect json_valid > 1.0`, `expect perplexity < 1` or two expectations on one metric that "
             "contradict each other make the gate fail on every run, so no tune is ever promoted.",
             "expect json_valid >= 0.95\nexpect json_valid <= 0.5", "expect json_valid >= 0.95\nexpect perplexity <= 40"),
        Code("FTR207", "qlora-on-cpu", "error", "lint",
             "QLoRA requested with device = cpu.",
             "QLoRA trains on a 4-bit base through bitsandbytes, which needs CUDA. On a CPU use LoRA (bf16 on a "
             "CPU is a runtime question, not a recipe one). The planner applies the same check to recipes built "
             "without the linter.",
             "train { method = qlora }\nconstraints { device = cpu }", "train { method = lora }\nconstraints { device = cpu }"),
        Code("FTR208", "secret-in-recipe", "error", "lint",
             "A string or comment that looks like a credential (an API key or token, a password, a private key).",
             "Recipes are committed and reviewed; a token in one is a leaked token. Recognised: AWS access key "
             "ids and secret keys, GitHub, Slack, OpenAI, Anthropic, Hugging Face and Google keys, private key "
             "blocks, JSON Web Tokens and bearer tokens, and long values assigned to a password, secret, token or "
             "api_key name. Revoke it and let the tools read credentials from the environment.",
             '# HF_TOKEN = "hf_..."   (a real token)',
             "# the hub token comes from HF_TOKEN in the environment, never from the recipe"),
        Code("FTR209", "train-eval-same-file", "error", "lint",
             "The same file is both training data and eval data.",
             "Scoring a model on rows it trained on measures memorisation, not the task; the gate would promote "
             "a tune that has not proved anything. Turn it off only knowingly with accept_leaks = true.",
             'data "tickets" { path = "data/train.jsonl" ... }\ndata "tickets-eval" { path = "data/train.jsonl" ... }',
             'data "tickets" { path = "data/train.jsonl" ... }\ndata "tickets-eval" { path = "data/eval.jsonl" ... }\n'
             'eval { data = "tickets-eval" }'),
        Code("FTR210", "bidi-control-character", "error", "lint",
             "A bidirectional control character (U+202A-202E, U+2066-2069) in a string or comment.",
             "Trojan Source (CVE-2021-42574): these invisible characters reorder how text is displayed, so a "
             "reviewer reads something other than what ftc parses. An error in a string, a warning in a comment. "
             "Where one is really meant in a string, write it as an escape (\\u202E), which is visible.",
             'system_prompt = "Reply politely<U+202E>"   # the character itself, invisible in a review',
             'system_prompt = "Reply politely"'),
        Code("FTR211", "duplicate-expect", "error", "lint",
             "The same expectation twice in one eval block.",
             "Every expectation is one gate condition with its own identity in the plan and in metrics.json; a "
             "copy (the same metric, arguments, comparison and threshold, however written) is a slip that "
             "would be scored and reported twice.",
             "expect json_valid >= 0.95\nexpect json_valid >= 95%", "expect json_valid >= 0.95"),
        Code("FTR212", "placeholder-goal", "error", "lint",
             "The goal is still the placeholder a generator wrote (TODO, FIXME, TBD, <describe ...>).",
             "`ftc import` and `ftc init` cannot know what the tune is for, so they write a placeholder goal. The "
             "goal becomes the system prompt every stage uses (baseline, training rows, eval, export): a run on "
             "placeholder text would measure and train the wrong thing, so the recipe cannot plan or run until a "
             "person writes it.",
             'goal = behavior("TODO: the behaviour to teach")',
             'goal = behavior("Reply to a support ticket as JSON with keys category and reply")'),
        Code("FTR214", "distill-without-teacher", "warning", "lint",
             "A `distill` block in a recipe that names no teacher.",
             "The `distill` block says how a student learns from its teacher (R-DISTILL-KIND); without "
             "`teacher = model(...)` nothing is distilled, so its settings would be silently unused.",
             "distill { kind = logits }   # no teacher", 'teacher = model("smollm2-1.7b")\ndistill { kind = logits }'),
        # --- plan -----------------------------------------------------------------------------
        Code("FTR213", "cuda-only-setting", "error", "lint",
             "A train setting that only works on CUDA, with device = cpu.",
             "bitsandbytes' 8-bit optimizers (adamw_8bit, paged_adamw_8bit), TF32 matmuls and fp16 mixed "
             "precision need a CUDA GPU: on a CPU the run would fail when the trainer starts. Like QLoRA "
             "(FTR207), it is refused when the recipe is read.",
             "constraints { device = cpu }\ntrain { optimizer = adamw_8bit }",
             "constraints { device = cpu }\ntrain { optimizer = adamw }"),
        Code("FTR301", "unreadable-source", "error", "plan",
             "A data source cannot be read or counted.",
             "The planner counts the rows of every data source and hashes it (the plan's data lock). The file "
             "is missing, unreadable, or not in a format it can count: JSONL (one row per line), a JSON array, "
             "CSV with a header, Parquet, a `datasets` folder, or a documents folder.",
             'data "rows" { path = "data/rows.json"  format = chat }   # a JSON object, not an array',
             'data "rows" { path = "data/rows.jsonl"  format = chat }'),
        Code("FTR302", "unknown-model", "error", "plan",
             "The model cannot be found.",
             "The model is not a local folder with config.json, not in the ftc cache ($FTC_HOME/models/NAME), "
             "not in the Hugging Face cache, and not in the built-in table of common families. The hint suggests "
             "near names from the table.",
             'base = model("smollm-135m-instruct")', 'base = model("smollm2-135m-instruct")'),
        Code("FTR303", "bad-model-config", "error", "plan",
             "A model's config.json cannot be used.",
             "The config.json found for the model lacks hidden_size, num_attention_heads, num_hidden_layers or "
             "vocab_size, or is not JSON; the memory model needs them.",
             'base = model("models/half-downloaded")', 'base = model("models/complete-checkout")'),
        Code("FTR305", "small-data", "warning", "plan",
             f"Fewer than {SMALL_DATA} training examples: the fine-tune is planned, with a warning.",
             f"Gains usually start around {SMALL_DATA}-{GAINS_CLEAR} good examples (R-BEHAVIOR-FINETUNE); check "
             "that the prompted baseline does not already meet the bar.",
             'data "rows" { path = "data/rows.jsonl"  format = chat }   # 15 rows',
             'data "rows" { path = "data/rows.jsonl"  format = chat }   # 200 rows'),
        Code("FTR306", "too-few-to-tune", "warning", "plan",
             f"Fewer than {MIN_EXAMPLES} training examples: no fine-tune is planned.",
             f"With fewer than {MIN_EXAMPLES} examples a fine-tune cannot be trusted; the prompted baseline is the "
             "result (R-TOO-FEW-EXAMPLES).",
             'data "rows" { path = "data/rows.jsonl"  format = chat }   # 4 rows',
             'data "rows" { path = "data/rows.jsonl"  format = chat }   # 200 rows'),
        Code("FTR307", "nothing-fits", "error", "plan",
             "No method fits on the device.",
             "No method fits in the device's memory even at micro-batch 1 with gradient checkpointing, and there "
             "is only one GPU. The message lists what each method needs; the hint names the options: a smaller "
             "base, QLoRA on cuda, a shorter max_length, more GPUs (R-METHOD-BY-MEMORY, R-FSDP).",
             'base = model("llama-3.1-8b")\nconstraints { device = cpu  gpu_memory = 16GB }',
             'base = model("qwen2.5-1.5b")\nconstraints { device = cpu  gpu_memory = 16GB }'),
        Code("FTR309", "over-time-budget", "error", "plan",
             "The estimated time is over the budget.",
             "The estimated wall-clock time (training plus the baseline and eval generations) is over the "
             "recipe's `budget` (R-TIME-COST). Cap the run with max_steps, lower epochs, or pick a smaller base.",
             "constraints { budget = 10s }", "constraints { budget = 30m }"),
        Code("FTR310", "near-time-budget", "warning", "plan",
             f"The estimated time is at least {NEAR_BUDGET:.0%} of the budget.",
             "Estimates are rough (R-TIME-COST), so leave headroom.",
             "constraints { budget = 4m }   # the estimate is 3m30s", "constraints { budget = 10m }"),
        Code("FTR311", "over-money-budget", "error", "plan",
             "The estimated cost is over the budget.",
             "The estimated cost (GPU-hours at the reference GPU's on-demand price) is over the recipe's `budget` "
             "in dollars (R-TIME-COST).",
             "constraints { device = cuda  budget = $0.01 }", "constraints { device = cuda  budget = $20 }"),
        Code("FTR312", "near-money-budget", "warning", "plan",
             f"The estimated cost is at least {NEAR_BUDGET:.0%} of the budget.",
             "Estimates are rough (R-TIME-COST), so leave headroom.",
             "constraints { device = cuda  budget = $0.05 }   # the estimate is $0.045",
             "constraints { device = cuda  budget = $1 }"),
        Code("FTR313", "method-does-not-fit", "error", "plan",
             "The recipe's method does not fit on the device.",
             "`train { method = ... }` asks for a method whose peak memory is over the device's memory "
             "(R-METHOD-BY-MEMORY). The hint names the options.",
             "train { method = full }\nconstraints { device = cuda  gpu_memory = 24GB }",
             "# method left to the rules\nconstraints { device = cuda  gpu_memory = 24GB }"),
        Code("FTR314", "near-memory", "warning", "plan",
             f"The estimated peak memory is at least {NEAR_MEMORY:.0%} of the device's memory.",
             "A long row or fragmentation at run time may not fit. Lower max_length or batch (R-METHOD-BY-MEMORY).",
             "constraints { gpu_memory = 2GB }   # the peak is 1.9 GB", "constraints { gpu_memory = 4GB }"),
        Code("FTR315", "teacher-not-used", "warning", "plan",
             "A teacher is named but no bound excludes it, so it is not used.",
             "Distillation is planned when a latency or max_params bound rules the teacher out (R-DISTILL); "
             "otherwise serve the teacher, or state the bound that rules it out.",
             'teacher = model("qwen2.5-7b")', 'teacher = model("qwen2.5-7b")\nconstraints { max_params = 500M }'),
        Code("FTR316", "base-breaks-bound", "error", "plan",
             "The base (the student) breaks the bound it is meant to meet.",
             "The base is what will be served (prompted, tuned or distilled into: a tune keeps its size), and it "
             "breaks the max_params bound, or, when distillation was asked for (a teacher and a bound), the latency "
             "bound (R-DISTILL).",
             'base = model("qwen2.5-1.5b")\nconstraints { max_params = 1B }',
             'base = model("qwen2.5-0.5b")\nconstraints { max_params = 1B }'),
        Code("FTR317", "teacher-does-not-fit", "error", "plan",
             "The teacher does not fit on the device.",
             "Distillation runs the teacher to generate responses: its weights (16-bit on cuda, fp32 on cpu) "
             "plus overhead must fit in the device's memory (R-DISTILL).",
             'teacher = model("llama-3.1-70b")\nconstraints { device = cuda  gpu_memory = 24GB }',
             'teacher = model("llama-3.1-8b")\nconstraints { device = cuda  gpu_memory = 24GB }'),
        Code("FTR318", "holdout-too-small", "warning", "plan",
             "The holdout is too small for the gate to show the `beat baseline` margin beyond noise.",
             "The gate promotes a tune only when the 95% interval of the paired per-row difference (tuned - "
             "baseline) clears the margin. On n holdout rows that interval is about ±1.96·sqrt(0.5/n) wide for 0/1 "
             "scores (the worst case, p = 1/2): a margin smaller than that cannot be told from chance, and a "
             "gain that reaches it is reported as not significant. The message names the rows needed, "
             "ceil(1.96² · 0.5 / margin²): 193 for a 10% margin, 769 for 5% (R-GATE).",
             'data "rows" { path = "data/rows.jsonl"  format = chat }   # 60 rows\neval { holdout = 20%  beat baseline by 10% }',
             'data "rows" { path = "data/rows.jsonl"  format = chat }   # 1,000 rows\neval { holdout = 20%  beat baseline by 10% }'),
        Code("FTR319", "max-length-below-data", "warning", "plan",
             "The recipe's max_length is below the data's p90 token length.",
             "More than 10% of the rows are overlong and will be dropped or truncated per the source's "
             "`overlong` setting (R-MAX-LENGTH-FROM-DATA).",
             "train { max_length = 16 }", "# max_length left to the rules"),
        Code("FTR320", "processes-over-gpus", "error", "plan",
             "More training processes per node than the node has GPUs.",
             "On cuda every training process drives one GPU, so `processes` (per node) is at most `gpus`; "
             "left out, it is `gpus` (R-DISTRIBUTED).",
             "constraints { device = cuda  gpus = 2  processes = 4 }", "constraints { device = cuda  gpus = 4  processes = 4 }"),
        Code("FTR321", "kto-labels", "error", "plan",
             "KTO data (rows with a boolean `label` or `kto_tag` marking each answer desirable or not) where "
             "the plan cannot train it with KTO.",
             "A label column is used or refused, never ignored: trained as plain SFT the undesirable answers "
             "would be taught as targets. ftc trains labelled rows with KTO (R-OBJECTIVE) when they are read "
             "as `format = kto`, or as `format = completion` (prompt, completion, label: read as kto). Under "
             "chat or instruction, or with `objective = dpo | orpo` (which need pairs), they are refused; the "
             "data step and `ftc data check` refuse each such row in a non-kto format too.",
             'data "feedback" { path = "data/kto.jsonl"  format = chat }   # {"prompt", "completion", "label": false}',
             'data "feedback" { path = "data/kto.jsonl"  format = kto }'),
        Code("FTR322", "unknown-target-module", "error", "plan",
             "`target_modules` names a module the base model does not have.",
             "LoRA adapts the modules named in `target_modules`; PEFT fails at the start of training when a "
             "name matches nothing, and a name that matches only some layers trains less than intended. When "
             "ftc knows the base model's architecture it checks each name against the model's linear modules "
             "(e.g. q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj for the Llama family).",
             'train { target_modules = ["q_proj", "v_prj"] }', 'train { target_modules = ["q_proj", "v_proj"] }'),
        Code("FTR323", "nothing-to-score", "error", "plan",
             "The eval would score no rows: the eval data is empty, or the holdout holds out nothing.",
             "The gate promotes a tune only when it beats the prompted baseline on held-out rows; with none, "
             "baseline and tune are never measured and nothing could be promoted on evidence. A recipe with "
             "nothing but preference pairs holds out a share of the pairs (their prompts are scored against "
             "the chosen answers), so this is about eval data without rows.",
             'data "held" { path = "data/empty.jsonl"  format = chat }\neval { data = "held" }', "eval { holdout = 20% }   # or eval data with rows"),
        Code("FTR324", "distill-logits-impossible", "error", "plan",
             "`distill { kind = logits }` with a teacher whose tokenizer is not the student's, or no room for it.",
             "Logit distillation compares the teacher's and the student's next-token distributions position "
             "by position, so both must map every token to the same id (compared from config.json's vocab size "
             "and both tokenizer.json files), and the teacher stays in memory beside the training student "
             "(R-DISTILL-KIND). Leave `kind` out and the plan picks sequence-level distillation (the student "
             "learns the teacher's generated answers), which works across tokenizers.",
             'teacher = model("llama-3.2-1b")   # base: smollm2-135m-instruct\ndistill { kind = logits }',
             'teacher = model("smollm2-1.7b")   # same tokenizer\ndistill { kind = logits }'),
        Code("FTR325", "objective-one-process", "error", "plan",
             "An ORPO or KTO stage, or logit distillation, in a plan that launches several training processes.",
             "ftc launches SFT and DPO across GPUs (accelerate, R-DISTRIBUTED); the ORPO and KTO stages and the "
             "logit-distillation trainer run in one process, so the plan would fail at that step. Train on one "
             "GPU (`processes = 1`), or use an objective the launcher runs.",
             "constraints { device = cuda  gpus = 2 }   # with KTO data",
             "constraints { device = cuda  gpus = 2  processes = 1 }"),
        Code("FTR326", "gguf-architecture", "error", "plan",
             "`export { gguf = ... }` for a base whose architecture the GGUF writer does not map.",
             "ftc writes GGUF with the gguf package's writer and its tensor-name map, plus the metadata and "
             "weight layout each architecture needs in llama.cpp; it does that for llama-architecture models "
             "(SmolLM2, Llama, and others whose config.json says model_type llama). Other bases are refused at "
             "plan time rather than written as a file llama.cpp would misread.",
             'base = model("qwen2.5-0.5b")\nexport { gguf = f16 }',
             'base = model("qwen2.5-0.5b")\nexport { merged = true }'),
        Code("FTR327", "student-layers", "error", "plan",
             "`distill { student_layers = ... }` that does not cut a trainable, smaller student from the base.",
             "A student cut from the base keeps some of its decoder layers, initialised from the base's weights "
             "(R-STUDENT-LAYERS). The count must be below the base's layer count and every listed index must "
             "exist; a cut needs a teacher to learn from (the base itself can be the teacher); and the cut model "
             "trains all its weights, because its kept layers no longer see the inputs they were trained on, so "
             "LoRA or QLoRA on it is refused.",
             'base = model("smollm2-135m-instruct")   # 30 layers\ndistill { student_layers = 30 }',
             'teacher = model("smollm2-135m-instruct")\ndistill { student_layers = 15 }'),
    )
}  # fmt: skip

# Codes merged into another: `ftc explain` still answers for them, nothing emits them.
RETIRED: dict[str, str] = {
    "FTR304": "FTR201",  # the planner's knowledge-without-documents
    "FTR308": "FTR207",  # the planner's qlora-on-cpu
}


def code(code_id: str) -> Code:
    """The entry of a code the code base emits; KeyError for an unregistered one (a bug)."""
    return CODES[code_id]


def explain(code_id: str) -> str | None:
    """The `ftc explain FTRxxx` text; None when no such code was ever registered."""
    key = code_id.strip().upper()
    if key in RETIRED:
        merged = explain(RETIRED[key])
        assert merged is not None  # a code is retired into a registered one
        return f"{key} was merged into {RETIRED[key]}; nothing reports {key} any more.\n\n" + merged
    c = CODES.get(key)
    if c is None:
        return None
    return (
        f"{c.code} {c.name} ({c.severity})\n\n{c.summary}\n{c.doc}\n{PHASES[c.phase]}\n\n"
        f"Example:\n{_indent(c.example)}\n\nUse instead:\n{_indent(c.use_instead)}\n"
    )


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.split("\n"))


def names() -> list[str]:
    """Every code `ftc explain` answers for (for a did-you-mean)."""
    return [*CODES, *RETIRED]


# --- docs/diagnostics.md ---------------------------------------------------------------------
_HEADINGS: dict[Phase, tuple[str, str]] = {
    "syntax": ("Syntax (FTR0xx)", "The file could not be read or parsed."),
    "semantic": ("Semantic (FTR1xx)", "The recipe parses but is wrong: unknown names, types, units, ranges, files."),
    "lint": ("Lint (FTR2xx)", "What a reviewer would flag in a pull request, beyond syntax and types."),
    "plan": ("Plan (FTR3xx)", "Found by the planner once it has read the data, the model and the device."),
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def docs_page() -> str:
    """The whole of docs/diagnostics.md (a test checks that the checked-in file matches)."""
    out = [
        "# ftc diagnostics",
        "",
        "Generated from `compiler/lang/codes.py`, the one registry of diagnostic codes; regenerate with",
        "`FTC_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/lang/test_registry.py`.",
        "`ftc explain CODE` prints any entry; `ftc lint --strict` fails on warnings too.",
        "",
        "Exit codes: `ftc lint` 0 clean, 1 errors (warnings too with `--strict`), 2 usage or internal error.",
        "`--format text|json|sarif|github`: rustc-style text with a caret excerpt, JSON, SARIF 2.1.0 with every",
        "code below as rule metadata (GitHub code scanning), or GitHub workflow annotations.",
    ]
    for phase, (title, blurb) in _HEADINGS.items():
        entries = [c for c in CODES.values() if c.phase == phase]
        out += ["", f"## {title}", "", blurb, "", "| code | name | severity | what it means |", "|---|---|---|---|"]
        out += [f"| [{c.code}](#{c.code.lower()}) | {c.name} | {c.severity} | {_cell(c.summary)} |" for c in entries]
        for c in entries:
            out += [
                "",
                f"### {c.code}",
                "",
                f"**{c.name}** ({c.severity}). {c.summary}",
                "",
                c.doc,
                "",
                "Example:",
                "",
                "```hcl",
                c.example,
                "```",
                "",
                "Use instead:",
                "",
                "```hcl",
                c.use_instead,
                "```",
            ]
    if RETIRED:
        out += ["", "## Retired codes", ""]
        out += [f"- {old}: merged into {new}." for old, new in RETIRED.items()]
    return "\n".join(out) + "\n"
