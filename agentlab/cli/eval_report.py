"""What ``agentlab eval`` prints: an eval's results per case with its summary line, and a
comparison of two evals with the gate's verdict."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentlab.cli import common
from agentlab.safe_text import visible

if TYPE_CHECKING:
    from rich.console import Console

    from agentlab.evals.compare import CompareReport
    from agentlab.evals.results import EvalResults


def report(results: EvalResults, where: Path) -> None:
    from rich.table import Table

    console = common.console()
    table = Table(title=f"{visible(results.meta.set_name)} ({visible(results.meta.version)})")
    per_case = results.per_case()
    k = results.meta.repeat
    for column in ("case", "passed", f"pass@{k}", f"pass^{k}", "failed checks"):
        table.add_column(column)
    failed: dict[str, str] = {}
    errors: dict[str, str] = {}
    for row in results.frame.to_dict(orient="records"):
        case = str(row["case"])
        for into, text in ((failed, row["reasons"]), (errors, row["error"])):
            if isinstance(text, str) and text and text not in into.get(case, ""):
                into[case] = "; ".join(filter(None, [into.get(case), text]))
    for data in per_case.to_dict(orient="records"):
        case = str(data["case"])
        why = failed.get(case, "") or ("error: " + errors.get(case, "") if data["errors"] else "")
        table.add_row(
            visible(case),
            f"{data['passed']}/{data['trials']}"
            + (f" ({data['errors']} errors)" if data["errors"] else ""),
            _rate(data.get(f"pass@{k}")),
            _rate(data.get(f"pass^{k}")),
            visible(why[:200]),
        )
    console.print(table)
    s = results.summary()
    console.print(
        f"pass rate {_rate(s['pass_rate'])} over {s['trials'] - s['errors']} trial(s)"
        + (f", {s['errors']} infrastructure error(s) left out" if s["errors"] else "")
        + f"; cost ${s['cost_usd']:.4f}, {s['tokens']} tokens, latency p95 "
        f"{s['latency_p95_s']:.2f}s"
        + (f", {s['escalations']} escalation(s)" if s["escalations"] else "")
        + f"; model: {_source(results)}"
    )
    console.print(f"results: {visible(str(where))} (results.parquet, results.csv)")


def _rate(value: Any) -> str:
    return "-" if value is None or value != value else f"{float(value):.3f}"


def _source(results: EvalResults) -> str:
    models = {str(m) for m in results.frame.get("model", []) if isinstance(m, str)}
    if models and all(m.startswith("scripted") for m in models):
        return "scripted (no LLM was called)"
    return "; ".join(sorted(models)) or "none ran"


def render(report: CompareReport, console: Console) -> None:
    """The comparison for people: the cases that changed, the totals, the verdict."""
    from rich.table import Table

    changed = report.per_case[report.per_case["delta"] != 0]
    if len(changed):
        table = Table(title="cases whose pass rate changed")
        for column in ("case", "trials", "baseline", "candidate", "delta"):
            table.add_column(column)
        for row in changed.itertuples(index=False):
            table.add_row(
                visible(str(row.case)),
                str(row.trials),
                f"{row.baseline:.2f}",
                f"{row.candidate:.2f}",
                f"{row.delta:+.2f}",
            )
        console.print(table)
    else:
        console.print("no case's pass rate changed")
    console.print(f"{visible(report.baseline)} -> {visible(report.candidate)}")
    console.print(report.paired.summary())
    console.print(report.cost.summary())
    console.print(report.latency.summary())
    for warning in report.warnings:
        console.print(f"warning: {visible(warning)}")
    words = {
        "regression": "REGRESSION",
        "inconclusive": "inconclusive (too few pairs to tell; not evidence of no regression)",
        "no regression": "no regression supported",
    }
    console.print(f"verdict: {words[report.verdict]}")
