"""docs/import.md, generated from the key tables (a test keeps the file in sync with them)."""

from __future__ import annotations

import yaml

from ftc.compiler.importers import TOOLS, translate
from ftc.compiler.importers.build import render_fetch, render_notes, render_table
from ftc.compiler.importers.common import fetch_commands
from ftc.compiler.importers.core import Carry, Entry, Handle, key_spec

# The example the page shows, translated afresh every time the page is generated: the page can
# never show an output the importer no longer gives.
EXAMPLE = """\
base_model: meta-llama/Llama-3.2-1B-Instruct
datasets:
  - path: data/support.jsonl
    type: alpaca
  - path: mlabonne/FineTome-100k
    type: chat_template
    split: train[:20%]
    field_messages: conversations
val_set_size: 0.05
sequence_len: 2048
adapter: lora
lora_r: 32
lora_alpha: 16
micro_batch_size: 2
gradient_accumulation_steps: 4
num_epochs: 2
learning_rate: 2e-4
optimizer: adamw_8bit
lr_scheduler: cosine
bf16: auto
deepspeed: deepspeed_configs/zero2.json
wandb_project: support-bot
"""

INTRO = """\
# `ftc import`: coming from axolotl, LLaMA-Factory, torchtune or oumi

<!-- Generated from compiler/importers/*.py by compiler/importers/docs.py; do not edit by hand:
     FTC_UPDATE_GOLDEN=1 .venv/bin/pytest tests/cli/test_import.py regenerates it. -->

```sh
ftc import axolotl.yaml -o recipe.ftr          # the tool is detected; --from axolotl|llama-factory|torchtune|oumi
ftc import train.yaml > recipe.ftr              # the recipe on stdout, the key table on stderr
ftc import train.yaml --json                     # recipe, key table, notes, sources, hub fetch commands, lint findings
```

`ftc import` writes a formatted recipe and prints a table of **every key** of the source file, nested
keys by dotted path (`datasets[0].path`, `optimizer.lr`):

- **carried**: the value is written to a recipe key (`learning_rate: 2e-4` -> `train { lr = 0.0002 }`);
- **decided by ftc**: the planner decides it instead; the row names the rule (`ftc explain RULE`) and
  what `ftc plan` will choose (`optimizer: adamw_8bit` -> R-METHOD-BY-MEMORY, AdamW);
- **dropped**: nothing in ftc corresponds, and the row says why. A key the table below does not
  list is dropped as "not a key ftc knows from <tool>": still listed, never silently.

A Hugging Face dataset id becomes a hub source, `path = "hf://owner/name"`, with the
configuration and split the config names (`config = "main"`, `split = "train[:20%]"`, slices
included); a per-dataset sample count becomes `max_rows` and mixture shares (LLaMA-Factory's
`interleave_probs`, oumi's `mixture_proportion`) become each source's `weight`. `ftc plan` reads hub
datasets offline from the local Hugging Face cache (and reports FTR301 for one that is not there), so
the import ends with the `hf download --repo-type dataset ...` commands for those not cached yet,
or `ftc plan RECIPE --allow-download` to let ftc fetch them. Local files keep their paths.

A `!` marks what needs you. A name that is neither a file nor a hub id (a ModelScope-only or
script dataset, an unknown LLaMA-Factory name) gets a placeholder path (`data/<name>.jsonl`) to fill
with that dataset's rows; KTO's unpaired labelled rows are refused and get a placeholder for
prompt/chosen/rejected pairs. The goal cannot be imported: the recipe says `goal = behavior("TODO: ...")` with an `# EDIT` comment above it, and
the command lists it under "Edit the recipe", with the expectations (`expect ...`,
`beat baseline by`) that no source config states. Every import writes `device = cuda` (these tools
train on GPUs) and, when the source holds out nothing, `holdout = 10%`. Multi-GPU settings
(DeepSpeed, FSDP) are decided by R-FSDP, which shards only when one GPU cannot hold the job: the
configs do not say how many GPUs there are, so the recipe asks you to set `gpus`.

Local paths in the source are read relative to the current folder (where the tool ran) and written
relative to the recipe's folder. The exit code is 0 when the written recipe has no lint errors, 1
when some remain (listed, e.g. a local file that does not exist yet), 2 for usage errors
(unreadable YAML, with its line and column; not a mapping; an unknown or mismatched `--from`).
`-o FILE` never overwrites an existing file without `--force`.

When the language gains a key, the entries below that carry to it start carrying (a `Carry` whose
recipe key the language lacks falls back to its "otherwise" until then).
"""


def _what(entry: Entry | str) -> str:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, Carry) and key_spec(entry.target) is None:
        return f"{entry.otherwise.doc()} (`{entry.target}` once the language has it)"
    return entry.doc() if not isinstance(entry, Handle) else entry.what


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def tool_section(name: str) -> str:
    spec = TOOLS[name]
    lines = [f"## {spec.label} (`--from {name}`)", "", "| source key | what happens |", "|---|---|"]
    lines += [f"| `{key}` | {_cell(_what(spec.keys[key]))} |" for key in sorted(spec.keys)]
    if spec.entry_keys:
        lines += ["", "Inside one dataset entry:", "", "| entry key | what happens |", "|---|---|"]
        lines += [f"| `{key}` | {_cell(_what(spec.entry_keys[key]))} |" for key in sorted(spec.entry_keys)]
    if spec.formats:
        lines += ["", "Row shapes:", "", f"| {spec.label} | ftc |", "|---|---|"]
        lines += [f"| `{k}` | {_cell(v)} |" for k, v in spec.formats.items()]
    return "\n".join(lines) + "\n"


def example() -> str:
    """`ftc import lora.yaml -o lora.ftr` on EXAMPLE: the config, the table, the notes, the recipe."""
    result = translate(yaml.safe_load(EXAMPLE), "axolotl", "lora.yaml", "/project", "/project")
    table = render_table(result.rows, "axolotl", "lora.yaml")
    fetch = render_fetch(fetch_commands(result.sources, lambda _repo: False), "lora.ftr")  # as on a fresh machine
    return (
        f"## Example\n\n`lora.yaml` (axolotl):\n\n```yaml\n{EXAMPLE}```\n\n`ftc import lora.yaml -o lora.ftr` prints\n\n"
        f"```text\n{table}\nEdit the recipe:\n{render_notes(result.notes)}{fetch}```\n\nand writes\n\n```hcl\n{result.recipe}```\n"
    )


def docs_page() -> str:
    return INTRO + "\n" + example() + "".join("\n" + tool_section(name) for name in TOOLS)
