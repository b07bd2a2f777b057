"""A measured device profile (`ftc device profile`) replaces the reference machine's constants in a
CPU plan's estimates; a broken profile file is not used and the plan says why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ftc.compiler.plan import costs, estimates
from ftc.compiler.plan.compile import compile_recipe
from ftc.runtime.executor import plan_hash
from ftc.shared import device_profile

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "recipes" / "quickstart.ftr"
# A machine exactly half as fast as the reference at everything the cost model times.
HALF = {
    "version": 1,
    "kind": "cpu",
    "measured_at": "2026-12-01T10:00:00Z",
    "processor": "Test CPU",
    "threads": 2,
    "train_flops_per_s": costs.CPU_PEAK_FLOPS * costs.CPU_UTILISATION / 2,
    "prefill_flops_per_s": costs.CPU_PEAK_FLOPS * costs.CPU_PREFILL_UTILISATION / 2,
    "decode_bytes_per_s": costs.CPU_DECODE_BANDWIDTH / 2,
    "row_step": costs.CPU_ROW_STEP,
    "model_load_s": 2 * costs.MODEL_LOAD_S,
    "import_s": 0.0,
}


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _plan(monkeypatch: pytest.MonkeyPatch, profile: str) -> dict:
    monkeypatch.setenv(device_profile.ENV, profile)
    return compile_recipe(QUICKSTART).plan


def test_a_profile_of_a_machine_half_as_fast_doubles_every_timed_estimate(tmp_path, monkeypatch):
    reference = _plan(monkeypatch, "off")
    profiled = _plan(monkeypatch, str(_write(tmp_path / "cpu.json", HALF)))
    ref, got = reference["estimates"]["seconds_breakdown"], profiled["estimates"]["seconds_breakdown"]
    assert set(ref) == set(got) and {"train", "inference", "eval", "prompt_search", "lr_probe", "data"} <= set(ref)
    for step in ("train", "inference", "eval", "lr_probe"):
        assert got[step] == pytest.approx(2 * ref[step], rel=0.01, abs=0.1), step
    # the search embeds the train rows for its nearest shots first: loading the embedder is not profiled
    load = estimates.EMBEDDER_LOAD_S
    assert got["prompt_search"] - load == pytest.approx(2 * (ref["prompt_search"] - load), rel=0.01)
    assert got["data"] == ref["data"], "the data steps are not timed by the profile"
    device = profiled["device"]
    assert device["profile"]["sha256"] == device_profile.parse((tmp_path / "cpu.json").read_bytes(), "x").sha256
    assert device["peak_flops"] == HALF["train_flops_per_s"] and device["utilisation"] == 1.0
    assert "CPU profiled on this machine (Test CPU, 2 threads, 2026-12-01" in device["assumption"]
    assert "profile" not in reference["device"]
    assert "`ftc device profile` measures this machine" in reference["device"]["assumption"]
    # The same work: the same run folder, whatever the machine measured.
    assert plan_hash(profiled) == plan_hash(reference)
    assert profiled["steps"] == reference["steps"]


def test_a_runs_imports_are_counted_once_in_its_first_model_step(tmp_path, monkeypatch):
    quick = _plan(monkeypatch, str(_write(tmp_path / "a.json", HALF)))["estimates"]["seconds_breakdown"]
    slow = _plan(monkeypatch, str(_write(tmp_path / "b.json", {**HALF, "import_s": 12.0})))
    got = slow["estimates"]["seconds_breakdown"]
    assert got["inference"] == pytest.approx(quick["inference"] + 12.0, abs=0.11)
    assert {k: v for k, v in got.items() if k != "inference"} == {k: v for k, v in quick.items() if k != "inference"}
    assert "imports 12.0 s" in slow["device"]["assumption"]


def test_the_default_profile_lives_in_ftc_home_and_is_read_when_present(tmp_path, monkeypatch):
    monkeypatch.setenv("FTC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(device_profile.ENV, raising=False)
    assert device_profile.load() == (None, None), "no profile yet: the reference, silently"
    target = device_profile.default_path()
    assert target == tmp_path / "home" / "device" / "cpu.json"
    target.parent.mkdir(parents=True)
    _write(target, HALF)
    found, problem = device_profile.load()
    assert problem is None and found is not None and found.path == str(target)
    monkeypatch.setenv(device_profile.ENV, "off")
    assert device_profile.load() == (None, None)


def _broken(tmp_path: Path) -> list[tuple[str, bytes, str]]:
    def with_(**changes: object) -> bytes:
        return json.dumps({**HALF, **changes}).encode()

    return [
        ("not json", b"{train: fast}", "not JSON"),
        ("a list", b"[1, 2]", "not a JSON object"),
        ("another version", with_(version=2), "version 2"),
        ("a GPU profile", with_(kind="cuda"), "kind 'cuda'"),
        ("a rate as text", with_(prefill_flops_per_s="fast"), "'prefill_flops_per_s' is \"fast\""),
        ("a boolean", with_(threads=True), "'threads' is true"),
        ("missing", json.dumps({k: v for k, v in HALF.items() if k != "row_step"}).encode(), "'row_step' is null"),
        ("zero", with_(decode_bytes_per_s=0), "'decode_bytes_per_s' = 0 is outside"),
        ("negative", with_(model_load_s=-1), "'model_load_s' = -1 is outside"),
        ("absurd", with_(train_flops_per_s=1e30), "outside"),
        ("infinite", b'{"version": 1, "kind": "cpu", "train_flops_per_s": Infinity}', "is Infinity"),
        ("no date", with_(measured_at=""), "'measured_at' is missing"),
        ("binary", b"\xff\xfe\x00garbage", "not JSON"),
    ]


def test_a_broken_profile_is_not_used_and_the_plan_says_why(tmp_path, monkeypatch):
    reference = _plan(monkeypatch, "off")["estimates"]["seconds_breakdown"]
    for name, raw, why in _broken(tmp_path):
        path = tmp_path / f"{name}.json"
        path.write_bytes(raw)
        monkeypatch.setenv(device_profile.ENV, str(path))
        found, problem = device_profile.load()
        assert found is None and problem is not None and why in problem and str(path) in problem, (name, problem)
        plan = compile_recipe(QUICKSTART).plan
        assert plan["estimates"]["seconds_breakdown"] == reference, name
        assert "was not used" in plan["device"]["assumption"] and "ftc device profile" in plan["device"]["assumption"]


def test_a_missing_or_oversized_profile_named_by_the_environment_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv(device_profile.ENV, str(tmp_path / "nowhere.json"))
    found, problem = device_profile.load()
    assert found is None and "could not be read" in problem
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (device_profile.MAX_BYTES + 1))
    monkeypatch.setenv(device_profile.ENV, str(big))
    assert "larger than 64 KB" in device_profile.load()[1]


def test_a_processor_name_with_control_characters_is_shown_printable():
    raw = json.dumps({**HALF, "processor": "Evil\x1b[2JCPU\n"}).encode()
    assert device_profile.parse(raw, "p.json").processor == "Evil?[2JCPU"


def test_a_gpu_plan_never_reads_the_cpu_profile(tmp_path, monkeypatch):
    text = QUICKSTART.read_text(encoding="utf-8").replace("device = cpu", "device = cuda")
    assert "device = cuda" in text
    for name in ("data/tickets.jsonl", "schemas/ticket.json"):  # what the quickstart reads, copied
        (tmp_path / name).parent.mkdir()
        shutil.copy(QUICKSTART.parent / name, tmp_path / name)
    recipe = tmp_path / "gpu.ftr"
    recipe.write_text(text, encoding="utf-8")
    monkeypatch.setenv(device_profile.ENV, str(_write(tmp_path / "cpu.json", HALF)))
    plan = compile_recipe(recipe).plan
    assert plan["device"]["kind"] == "cuda" and "profile" not in plan["device"]
    assert "profiled" not in plan["device"]["assumption"]
    reference = costs.device_facts("cuda")
    assert plan["device"]["peak_flops"] == reference.peak_flops


def test_a_relative_ftc_home_is_the_folder_under_where_ftc_started(tmp_path, monkeypatch):
    """A relative FTC_HOME names one folder for the whole run: what ftc links or hands to another
    process (a launched rank, the benchmark's symlinked home) must not resolve it elsewhere."""
    from ftc.shared.paths import ftc_home, model_cache

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FTC_HOME", "home")
    assert ftc_home() == tmp_path / "home" and ftc_home().is_absolute()
    assert model_cache("m") == tmp_path / "home" / "models" / "m"
