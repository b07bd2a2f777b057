"""Every number the linter, the planner and `ftc explain` judge a recipe by, named once.

The lint rules (FTR2xx), the decision rules (R-...), the plan-time diagnostics (FTR3xx) and the
docs generated from their registries all read these names and format them into their texts, so a
threshold changes here and everywhere it is stated changes with it. It lives in ``compiler.lang``
because both the language layer and the planner may import it (plan imports lang, never back).
"""

from __future__ import annotations

# --- how much data a fine-tune needs (OpenAI: 10 minimum, clear gains from 50-100) --------------
MIN_EXAMPLES = 10  # below: no fine-tune, the prompted baseline is the result
SMALL_DATA = 50  # below: the fine-tune is planned, with a "small data" warning
GAINS_CLEAR = 100  # from SMALL_DATA to here is where tuning gains usually become clear
FULL_MIN_EXAMPLES = 50_000  # a full tune is planned on its own (not asked for) only with this much data

# --- how close to a limit an estimate may come before the plan warns ----------------------------
NEAR_BUDGET = 0.8  # of the time or money budget
NEAR_MEMORY = 0.9  # of the device's memory

# --- what the front end refuses to read (a recipe is a few KB) ----------------------------------
MAX_DEPTH = 32  # blocks, lists, maps and calls nested deeper than this (FTR008)
MAX_BYTES = 10_000_000  # a file larger than this is not a recipe (FTR010)
MAX_TOKENS = 50_000  # a pure-Python LALR parse of millions of tokens takes minutes (FTR010)
MAX_DIAGNOSTICS = 100  # per file: past this a reader learns nothing more (FTR011)
