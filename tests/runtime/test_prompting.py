"""One prompt, everywhere: the message layout shared by baseline, training and eval."""

import pytest

from ftc.runtime.prompting import Example, baseline_prompt, pick_shots, prompt_text, to_example, tuned_prompt
from ftc.shared.errors import FtcError

SYS = "You triage support tickets."


def test_chat_row_gets_the_plans_system_prompt_and_last_assistant_turn_is_the_completion():
    fields = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "my order is late"},
            {"role": "assistant", "content": '{"category": "shipping"}'},
        ]
    }
    ex = to_example(fields, "chat", SYS)
    assert ex.prompt[0] == {"role": "system", "content": SYS}
    assert [m["role"] for m in ex.prompt] == ["system", "user", "assistant", "user"]
    assert ex.completion == '{"category": "shipping"}'


def test_a_rows_own_system_message_wins():
    fields = {
        "messages": [
            {"role": "system", "content": "row system"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a"},
        ]
    }
    assert to_example(fields, "chat", SYS).prompt[0]["content"] == "row system"


def test_instruction_and_completion_formats():
    ins = to_example({"instruction": "Translate", "input": "chat", "output": "cat"}, "instruction", SYS)
    assert ins.prompt == [{"role": "system", "content": SYS}, {"role": "user", "content": "Translate\n\nchat"}]
    assert ins.completion == "cat"
    bare = to_example({"instruction": "Say hi", "input": "", "output": "hi"}, "instruction", SYS)
    assert bare.prompt[1]["content"] == "Say hi"
    comp = to_example({"prompt": "2+2=", "completion": "4"}, "completion", SYS)
    assert comp == Example([{"role": "system", "content": SYS}, {"role": "user", "content": "2+2="}], "4")


def test_a_preference_pair_is_its_prompt_with_the_chosen_answer():
    """What SFT learns and what eval scores against when a recipe has nothing but pairs."""
    pair = to_example({"prompt": "x", "chosen": "a", "rejected": "b"}, "preference", SYS)
    assert pair == Example([{"role": "system", "content": SYS}, {"role": "user", "content": "x"}], "a")
    turns = {
        "prompt": [{"role": "system", "content": "own"}, {"role": "user", "content": "q"}],
        "chosen": [{"role": "assistant", "content": "good"}],
        "rejected": [{"role": "assistant", "content": "bad"}],
    }
    assert to_example(turns, "preference", SYS) == Example(turns["prompt"], "good")


def test_unsupported_format_and_missing_answer_are_user_errors():
    with pytest.raises(FtcError, match="documents"):
        to_example({"text": "x"}, "documents", SYS)
    with pytest.raises(FtcError, match="no assistant turn"):
        to_example({"messages": [{"role": "user", "content": "q"}]}, "chat", SYS)


def test_baseline_prompt_is_system_then_shots_then_question_and_tuned_prompt_matches_training():
    shots = [to_example({"prompt": f"q{i}", "completion": f"a{i}"}, "completion", SYS) for i in range(2)]
    ex = to_example({"prompt": "q", "completion": "a"}, "completion", SYS)
    msgs = baseline_prompt(ex, shots)
    assert [(m["role"], m["content"]) for m in msgs] == [
        ("system", SYS),
        ("user", "q0"),
        ("assistant", "a0"),
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q"),
    ]
    assert tuned_prompt(ex) == ex.prompt
    assert baseline_prompt(ex, []) == ex.prompt
    text = prompt_text(SYS, shots)
    assert text.startswith(f"[system]\n{SYS}") and "[assistant]\na1" in text


def test_pick_shots_is_deterministic_by_seed():
    train = [to_example({"prompt": f"q{i}", "completion": f"a{i}"}, "completion", SYS) for i in range(20)]
    assert pick_shots(train, 3, seed=7) == pick_shots(train, 3, seed=7)
    assert len(pick_shots(train, 3, seed=7)) == 3
    assert pick_shots(train, 0, seed=7) == [] and len(pick_shots(train[:2], 5, seed=1)) == 2
