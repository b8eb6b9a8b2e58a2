"""Which script a trial's turn replays offline.

A turn's script is a file (relative to the set), a script inline, or weighted variants drawn per
trial: a seeded draw, so a noisy model's eval is reproducible. A prompt version's directory may
hold ``scripts/CASE.yaml`` (``CASE@N.yaml`` for turn N > 1): what the model answers under that
version's prompts, in place of the case's own script. A scripted model stands in for a real one;
whatever the script says is what "the model" did (the results say so).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

from agentlab.errors import ScriptError
from agentlab.evals.cases import Case, EvalSetError, ScriptChoice, ScriptRef, ScriptVariant
from agentlab.models.script import SAFE_LOADER, Script, dump_script, script_of


def override_of(prompts_dir: Path | None, case: Case, turn: int) -> Path | None:
    """The prompt version's own script for ``case``'s turn ``turn`` (0-based), if it has one."""
    if prompts_dir is None:
        return None
    scripts = prompts_dir / "scripts"
    name = case.id if turn == 0 else f"{case.id}@{turn + 1}"
    for suffix in (".yaml", ".yml", ".json"):
        if (scripts / (name + suffix)).is_file():
            return scripts / (name + suffix)
    return None


def resolve_script(
    ref: ScriptRef | Path, base: Path, *, seed: int, case: str, trial: int, turn: int
) -> Script:
    """The script a turn replays in this trial: ``ref`` read (relative to ``base``), and a
    variant drawn if it offers several."""
    if isinstance(ref, Path | str):
        path = ref if isinstance(ref, Path) else base / ref
        found = _script_file(path)
        if isinstance(found, Script):
            return found
        return resolve_script(found, path.parent, seed=seed, case=case, trial=trial, turn=turn)
    if isinstance(ref, ScriptChoice) or (isinstance(ref, dict) and "variants" in ref):
        choice = ref if isinstance(ref, ScriptChoice) else ScriptChoice.model_validate(ref)
        variant = draw(choice.variants, seed=seed, case=case, trial=trial, turn=turn)
        return resolve_script(variant.script, base, seed=seed, case=case, trial=trial, turn=turn)
    try:
        return Script.model_validate(ref)
    except ValueError as exc:
        raise ScriptError(f"case {case}: the inline script is not valid: {exc}") from None


def draw(
    variants: list[ScriptVariant], *, seed: int, case: str, trial: int, turn: int
) -> ScriptVariant:
    """One variant, with probability by weight, the same for the same seed, case, trial, turn."""
    rng = random.Random(f"{seed}:{case}:{trial}:{turn}")
    return rng.choices(variants, weights=[v.weight for v in variants])[0]


def _script_file(path: Path) -> Script | ScriptChoice:
    """The script in the file ``path``, or the variants it offers: read and parsed once."""
    try:
        data: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except FileNotFoundError:
        raise ScriptError(f"script file not found: {path}") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ScriptError(f"cannot read script file {path}: {exc}") from None
    if isinstance(data, dict) and "variants" in data and "roles" not in data:
        try:
            return ScriptChoice.model_validate(data)
        except ValueError as exc:
            raise EvalSetError(f"{path}: the variants are not valid: {exc}") from None
    return script_of(data, source=str(path))


def write_script(script: Script, path: Path) -> Path:
    """Save the script a trial replays beside its record (``ModelSpec`` names a file)."""
    path.write_text(dump_script(script), encoding="utf-8")
    return path


__all__ = ["draw", "override_of", "resolve_script", "write_script"]
