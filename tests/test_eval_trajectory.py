"""Trajectory evals: the calls a run made against the calls a case expects, in the four modes of
agentevals and the argument modes; verdicts say why, naming the calls."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentlab.errors import AgentlabError
from agentlab.evals.trajectory import (
    Call,
    Expected,
    Match,
    arguments_match,
    match_trajectory,
    none_called,
    parse_expected,
)

SEARCH = Call("search_customers", {"email": "a@x"})
DELETE = Call("delete_customer", {"customer_id": 3})
NOTIFY = Call("notify", {"to": "a@x", "body": "done"})


def exactly(call: Call) -> Expected:
    return Expected(call.tool, dict(call.arguments))


def failed(match: Match) -> str:
    assert not match.ok, match.reason
    return match.reason


# Argument modes


def test_exact_arguments_compare_numbers_by_value_and_nested_values_by_structure() -> None:
    expected = Expected("pay", {"amount": 1, "lines": [{"sku": "a", "qty": 2.0}], "tags": ("x",)})
    actual = {"amount": 1.0, "lines": [{"qty": 2, "sku": "a"}], "tags": ["x"]}
    assert arguments_match(expected, actual) is None


def test_exact_arguments_name_the_value_that_differs() -> None:
    why = arguments_match(Expected("pay", {"amount": 5}), {"amount": 50})
    assert why == "amount: expected 5, got 50"


def test_exact_arguments_name_a_missing_and_an_unexpected_argument() -> None:
    why = arguments_match(Expected("pay", {"amount": 5}), {"note": "hi"})
    assert why == "amount: missing (expected 5); note: not expected (got 'hi')"


def test_exact_arguments_compare_nested_values_deeply() -> None:
    why = arguments_match(Expected("pay", {"lines": [{"qty": 2}]}), {"lines": [{"qty": 3}]})
    assert why == "lines: expected [{'qty': 2}], got [{'qty': 3}]"


def test_a_boolean_is_not_a_number() -> None:
    assert arguments_match(Expected("flag", {"on": True}), {"on": 1}) == "on: expected True, got 1"
    assert arguments_match(Expected("flag", {"n": 0}), {"n": False}) is not None


def test_ignore_checks_the_tool_only() -> None:
    expected = Expected("delete_customer", {"customer_id": 3}, "ignore")
    assert arguments_match(expected, {"customer_id": 99, "force": True}) is None
    assert match_trajectory([DELETE], [expected]).ok
    assert "expected delete_customer(...)" in failed(match_trajectory([SEARCH], [expected]))


def test_no_arguments_checks_the_tool_only() -> None:
    assert arguments_match(Expected("delete_customer"), {"customer_id": 99}) is None


def test_subset_arguments_allow_arguments_the_case_did_not_list() -> None:
    expected = Expected("notify", {"to": "a@x"}, "subset")
    assert arguments_match(expected, {"to": "a@x", "body": "done"}) is None


def test_subset_arguments_require_every_listed_argument() -> None:
    expected = Expected("notify", {"to": "a@x", "body": "done"}, "subset")
    assert arguments_match(expected, {"to": "a@x"}) == "body: missing (expected 'done')"
    assert arguments_match(expected, {"to": "b@x", "body": "done"}) == (
        "to: expected 'a@x', got 'b@x'"
    )


def test_superset_arguments_allow_leaving_listed_arguments_out() -> None:
    expected = Expected("notify", {"to": "a@x", "body": "done"}, "superset")
    assert arguments_match(expected, {"to": "a@x"}) is None
    assert arguments_match(expected, {}) is None


def test_superset_arguments_refuse_an_argument_the_case_did_not_list() -> None:
    expected = Expected("notify", {"to": "a@x"}, "superset")
    assert (
        arguments_match(expected, {"to": "a@x", "cc": "boss@x"})
        == "cc: not expected (got 'boss@x')"
    )
    assert arguments_match(expected, {"to": "b@x"}) == "to: expected 'a@x', got 'b@x'"


PASSING = [
    ({"eq": 1}, 1.0),
    ({"ne": 1}, 2),
    ({"lt": 100}, 99.5),
    ({"le": 100}, 100),
    ({"gt": 0}, 1),
    ({"ge": 0}, 0),
    ({"in": ["card", "cash"]}, "cash"),
    ({"not_in": ["card", "cash"]}, "cheque"),
    ({"matches": r"@example\.com$"}, "ann@example.com"),
    ({"contains": "refund"}, "a refund, please"),
    ({"contains": 3}, [1, 2, 3]),
    ({"exists": True}, None),
    ({"gt": "2024-01-01"}, "2024-06-30"),
]
FAILING = [
    ({"eq": 1}, 2, "x: expected == 1, got 2"),
    ({"ne": 1}, 1.0, "x: expected != 1, got 1.0"),
    ({"lt": 100}, 100, "x: expected < 100, got 100"),
    ({"le": 100}, 101, "x: expected <= 100, got 101"),
    ({"gt": 0}, 0, "x: expected > 0, got 0"),
    ({"ge": 0}, -1, "x: expected >= 0, got -1"),
    ({"lt": 100}, "50", "x: expected < 100, got '50'"),
    ({"in": ["card", "cash"]}, "cheque", "x: expected in ['card', 'cash'], got 'cheque'"),
    ({"not_in": ["card"]}, "card", "x: expected not in ['card'], got 'card'"),
    (
        {"matches": r"@example\.com$"},
        "a@b.org",
        r"x: expected matches '@example\\.com$', got 'a@b.org'",
    ),
    ({"matches": "a"}, 1, "x: expected matches 'a', got 1"),
    ({"contains": "refund"}, "thanks", "x: expected contains 'refund', got 'thanks'"),
    ({"contains": 4}, [1, 2, 3], "x: expected contains 4, got [1, 2, 3]"),
    ({"exists": False}, 0, "x: expected absent, got 0"),
    ({"gt": 0, "lt": 10}, 10, "x: expected < 10, got 10"),
]


@pytest.mark.parametrize(("operators", "value"), PASSING)
def test_a_predicate_operator_passes(operators: dict[str, Any], value: Any) -> None:
    assert arguments_match(Expected("t", {"x": operators}, "predicate"), {"x": value}) is None


@pytest.mark.parametrize(("operators", "value", "why"), FAILING)
def test_a_predicate_operator_fails_saying_what_it_wanted(
    operators: dict[str, Any], value: Any, why: str
) -> None:
    assert arguments_match(Expected("t", {"x": operators}, "predicate"), {"x": value}) == why


def test_a_predicate_fails_a_missing_argument_unless_it_must_be_absent() -> None:
    wanted = Expected("refund", {"reason": {"contains": "refund"}}, "predicate")
    assert arguments_match(wanted, {}) == "reason: missing (expected contains 'refund')"
    absent = Expected("refund", {"override": {"exists": False}}, "predicate")
    assert arguments_match(absent, {"amount": 5}) is None


def test_a_predicate_ignores_arguments_it_does_not_name() -> None:
    expected = Expected("refund", {"amount": {"lt": 100}}, "predicate")
    assert arguments_match(expected, {"amount": 5, "email": "a@x"}) is None


def test_a_predicate_names_every_argument_that_fails() -> None:
    expected = Expected(
        "refund",
        {
            "amount": {"lt": 100},
            "email": {"matches": r"@example\.com$"},
            "reason": {"contains": "refund"},
        },
        "predicate",
    )
    why = arguments_match(expected, {"amount": 150, "email": "a@example.com"})
    assert why == "amount: expected < 100, got 150; reason: missing (expected contains 'refund')"


def small_refund(arguments: Mapping[str, Any]) -> bool:
    return bool(arguments["amount"] < 100)


def test_a_callable_is_a_predicate_over_all_the_arguments_whatever_the_mode() -> None:
    expected = Expected("refund", small_refund, "exact")
    assert expected.mode == "predicate"
    assert arguments_match(expected, {"amount": 5}) is None
    assert arguments_match(expected, {"amount": 500}) == (
        "predicate small_refund rejected the arguments"
    )


def test_a_callable_that_raises_fails_the_call_saying_so() -> None:
    why = arguments_match(Expected("refund", small_refund), {})
    assert why == "predicate small_refund raised KeyError('amount')"


# Trajectory modes


def test_strict_passes_the_same_calls_in_the_same_order() -> None:
    match = match_trajectory([SEARCH, DELETE], [exactly(SEARCH), exactly(DELETE)], "strict")
    assert match == Match(True, "the 2 calls match the expected ones in order")


def test_strict_fails_another_order_naming_the_first_difference() -> None:
    why = failed(match_trajectory([DELETE, SEARCH], [exactly(SEARCH), exactly(DELETE)]))
    assert why.startswith(
        "call 1: expected search_customers(email='a@x'), got delete_customer(customer_id=3); "
        "calls were: delete_customer(customer_id=3), search_customers(email='a@x')"
    )


def test_strict_fails_different_arguments_saying_which() -> None:
    actual = [SEARCH, Call("delete_customer", {"customer_id": 4})]
    why = failed(match_trajectory(actual, [exactly(SEARCH), exactly(DELETE)], "strict"))
    assert why.startswith(
        "call 2: expected delete_customer(customer_id=3), got delete_customer(customer_id=4) "
        "(customer_id: expected 3, got 4)"
    )


def test_strict_fails_an_extra_call() -> None:
    why = failed(match_trajectory([SEARCH, DELETE], [exactly(SEARCH)], "strict"))
    assert why.startswith(
        "expected 1 call, the run made 2; call 2 delete_customer(customer_id=3) was not expected"
    )


def test_strict_fails_a_missing_call() -> None:
    why = failed(match_trajectory([SEARCH], [exactly(SEARCH), exactly(DELETE)], "strict"))
    assert why == (
        "expected 2 calls, the run made 1; expected delete_customer(customer_id=3) was not "
        "called; calls were: search_customers(email='a@x')"
    )


def test_unordered_passes_the_same_calls_in_another_order() -> None:
    match = match_trajectory([DELETE, SEARCH], [exactly(SEARCH), exactly(DELETE)], "unordered")
    assert match == Match(True, "the 2 calls match the 2 expected calls in some order")


def test_unordered_counts_repeated_calls() -> None:
    why = failed(match_trajectory([SEARCH], [exactly(SEARCH), exactly(SEARCH)], "unordered"))
    assert why.startswith(
        "expected search_customers(email='a@x') was called too few times (its calls fit other "
        "expected calls)"
    )


def test_unordered_fails_an_extra_call() -> None:
    why = failed(match_trajectory([SEARCH, NOTIFY], [exactly(SEARCH)], "unordered"))
    assert why.startswith("call 2 notify(to='a@x', body='done') was not expected; calls were:")


def test_subset_passes_a_run_that_did_less_than_the_reference() -> None:
    match = match_trajectory([SEARCH], [exactly(SEARCH), exactly(DELETE)], "subset")
    assert match == Match(True, "each of the 1 call matches its own of the 2 expected calls")


def test_subset_fails_a_call_outside_the_reference() -> None:
    why = failed(match_trajectory([SEARCH, DELETE], [exactly(SEARCH)], "subset"))
    assert why == (
        "call 2 delete_customer(customer_id=3) was not expected; calls were: "
        "search_customers(email='a@x'), delete_customer(customer_id=3)"
    )


def test_superset_passes_a_run_that_did_more_than_the_reference() -> None:
    match = match_trajectory([SEARCH, NOTIFY, DELETE], [exactly(DELETE)], "superset")
    assert match == Match(True, "each of the 1 expected call was made, among 3 calls")


def test_superset_fails_a_missing_call_naming_the_calls_made() -> None:
    why = failed(match_trajectory([SEARCH, NOTIFY], [exactly(DELETE)], "superset"))
    assert why == (
        "expected delete_customer(customer_id=3) was not called; calls were: "
        "search_customers(email='a@x'), notify(to='a@x', body='done')"
    )


def test_superset_shows_the_near_miss_of_a_call_with_other_arguments() -> None:
    why = failed(
        match_trajectory(
            [Call("delete_customer", {"customer_id": 4})], [exactly(DELETE)], "superset"
        )
    )
    assert why.startswith(
        "expected delete_customer(customer_id=3) was not called (delete_customer(customer_id=4): "
        "customer_id: expected 3, got 4)"
    )


def test_no_calls_are_said_so() -> None:
    assert failed(match_trajectory([], [exactly(SEARCH)], "superset")).endswith(
        "no calls were made"
    )


@pytest.mark.parametrize("mode", ["unordered", "subset", "superset"])
def test_calls_are_paired_by_a_maximum_matching_not_greedily(mode: Any) -> None:
    # Greedy pairing gives the first refund to "any refund", leaving amount=5 with amount=7.
    expected = [Expected("refund"), Expected("refund", {"amount": 5})]
    actual = [Call("refund", {"amount": 5}), Call("refund", {"amount": 7})]
    assert match_trajectory(actual, expected, mode).ok


def test_an_unknown_trajectory_mode_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown trajectory mode 'loose'; valid trajectory modes"):
        match_trajectory([], [], "loose")  # type: ignore[arg-type]


def test_long_values_are_cut_in_reasons() -> None:
    why = failed(match_trajectory([Call("note", {"text": "x" * 500})], [], "subset"))
    assert "x" * 56 + "..." in why
    assert "x" * 60 not in why


def test_control_characters_in_calls_are_shown_not_obeyed() -> None:
    why = failed(match_trajectory([Call("evil\x1b[2J", {"a": 1})], [], "subset"))
    assert "\x1b" not in why
    assert "evil\\x1b[2J(a=1)" in why


def test_none_called_passes_a_run_that_kept_away() -> None:
    match = none_called([SEARCH, NOTIFY], ["delete_customer", "drop_table"])
    assert match == Match(True, "none of delete_customer, drop_table was called")


def test_none_called_fails_naming_the_forbidden_calls() -> None:
    why = failed(none_called([SEARCH, DELETE], ["delete_customer", "drop_table"]))
    assert why == (
        "called delete_customer(customer_id=3) (call 2), though none of delete_customer, "
        "drop_table may be called"
    )


def test_none_called_refuses_a_bare_string() -> None:
    with pytest.raises(TypeError):
        none_called([SEARCH], "delete_customer")


# Parsing a case file


def test_parse_expected_defaults_to_exact_arguments() -> None:
    assert parse_expected({"tool": "search", "arguments": {"q": "x"}}) == Expected(
        "search", {"q": "x"}, "exact"
    )
    assert parse_expected({"tool": "search"}) == Expected("search")


def test_parse_expected_reads_the_arguments_mode() -> None:
    data = {"tool": "refund", "arguments": {"amount": {"lt": 100}}, "arguments_mode": "predicate"}
    expected = parse_expected(data)
    assert expected.mode == "predicate"
    assert arguments_match(expected, {"amount": 5}) is None


BAD = [
    ({"arguments": {}}, "tool: needs a tool name"),
    ({"tool": 3}, "tool: needs a tool name"),
    ({"tool": " "}, "tool: needs a tool name"),
    ({"tool": "t", "arguments": [1]}, "arguments: needs a mapping"),
    ({"tool": "t", "arguments": {1: "x"}}, "arguments: needs a mapping of argument names"),
    ({"tool": "t", "arguments_mode": "fuzzy"}, "arguments_mode: unknown argument mode 'fuzzy'"),
    ({"tool": "t", "argument_mode": "subset"}, "argument_mode: unknown field 'argument_mode'"),
    ({"tool": "t", "arguments_mode": "predicate"}, "arguments: predicate mode needs"),
    (
        {"tool": "t", "arguments": {"amount": 5}, "arguments_mode": "predicate"},
        "arguments.amount: needs {operator: value}, got 5",
    ),
    (
        {"tool": "t", "arguments": {"amount": {"less": 5}}, "arguments_mode": "predicate"},
        "arguments.amount: unknown operator 'less'; valid operators: eq, ne, lt, le, gt, ge, in, "
        "not_in, matches, contains, exists",
    ),
    (
        {"tool": "t", "arguments": {"e": {"matches": "("}}, "arguments_mode": "predicate"},
        "arguments.e.matches: is not a valid regular expression",
    ),
    (
        {"tool": "t", "arguments": {"e": {"in": "ab"}}, "arguments_mode": "predicate"},
        "arguments.e.in: needs a list of values, got 'ab'",
    ),
    (
        {"tool": "t", "arguments": {"e": {"exists": "yes"}}, "arguments_mode": "predicate"},
        "arguments.e.exists: needs true or false",
    ),
    (
        {"tool": "t", "arguments": {"e": {"lt": None}}, "arguments_mode": "predicate"},
        "arguments.e.lt: needs a number or a string",
    ),
]


@pytest.mark.parametrize(("data", "message"), BAD)
def test_parse_expected_names_the_bad_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_expected(data)
    assert str(raised.value).startswith(message)
    assert isinstance(raised.value, AgentlabError)  # the CLI shows it without a traceback


def test_parse_expected_refuses_what_is_not_a_mapping() -> None:
    with pytest.raises(ValueError, match="an expected call is a mapping"):
        parse_expected(["tool", "t"])  # type: ignore[arg-type]


def test_an_unknown_operator_is_refused_when_the_expectation_is_made() -> None:
    with pytest.raises(ValueError, match="unknown operator 'like'"):
        Expected("t", {"x": {"like": "a%"}}, "predicate")


# Properties

tools = st.sampled_from(["a", "b"])
arguments = st.dictionaries(st.sampled_from(["x", "y"]), st.integers(0, 2), max_size=2)
calls = st.lists(st.builds(Call, tools, arguments), max_size=5)
plain = st.builds(
    Expected,
    tools,
    st.none() | arguments,
    st.sampled_from(["exact", "ignore", "subset", "superset"]),
)
bounded = st.builds(
    lambda tool, name, top: Expected(tool, {name: {"le": top}}, "predicate"),
    tools,
    st.sampled_from(["x", "y"]),
    st.integers(0, 2),
)
expectations = st.lists(plain | bounded, max_size=5)
fast = settings(max_examples=100, deadline=None)


def fits(expected: Expected, call: Call) -> bool:
    return call.tool == expected.tool and arguments_match(expected, call.arguments) is None


def injects(left: Sequence[Any], right: Sequence[Any], fit: Any) -> bool:
    """Brute force: whether each of ``left`` pairs with its own of ``right``."""
    return any(
        all(fit(item, right[j]) for item, j in zip(left, choice, strict=True))
        for choice in itertools.permutations(range(len(right)), len(left))
    )


@fast
@given(calls, expectations)
def test_strict_implies_unordered(actual: list[Call], expected: list[Expected]) -> None:
    if match_trajectory(actual, expected, "strict").ok:
        assert match_trajectory(actual, expected, "unordered").ok


@fast
@given(calls, expectations)
def test_unordered_is_subset_and_superset(actual: list[Call], expected: list[Expected]) -> None:
    unordered = match_trajectory(actual, expected, "unordered").ok
    subset = match_trajectory(actual, expected, "subset").ok
    superset = match_trajectory(actual, expected, "superset").ok
    assert unordered == (subset and superset)


@fast
@given(calls, expectations, st.randoms(use_true_random=False))
def test_unordered_does_not_depend_on_the_order_of_calls(
    actual: list[Call], expected: list[Expected], random: Any
) -> None:
    shuffled = random.sample(actual, len(actual))
    assert (
        match_trajectory(shuffled, expected, "unordered").ok
        == match_trajectory(actual, expected, "unordered").ok
    )


@fast
@given(calls)
def test_a_permutation_of_the_calls_matches_them_unordered(actual: list[Call]) -> None:
    reference = [exactly(call) for call in actual]
    assert match_trajectory(actual, reference, "strict").ok
    assert match_trajectory(list(reversed(actual)), reference, "unordered").ok


@fast
@given(calls, st.builds(Call, st.just("z"), arguments))
def test_an_extra_call_keeps_superset_and_breaks_subset(actual: list[Call], extra: Call) -> None:
    reference = [exactly(call) for call in actual]
    assert match_trajectory([*actual, extra], reference, "superset").ok
    assert not match_trajectory([*actual, extra], reference, "subset").ok


@fast
@given(calls, expectations)
def test_the_matching_finds_a_pairing_whenever_one_exists(
    actual: list[Call], expected: list[Expected]
) -> None:
    assert match_trajectory(actual, expected, "superset").ok == injects(expected, actual, fits)
    assert match_trajectory(actual, expected, "subset").ok == injects(
        actual, expected, lambda call, wanted: fits(wanted, call)
    )


@fast
@given(arguments, arguments)
def test_exact_arguments_are_subset_and_superset(
    wanted: dict[str, int], got: dict[str, int]
) -> None:
    exact = arguments_match(Expected("t", wanted, "exact"), got) is None
    subset = arguments_match(Expected("t", wanted, "subset"), got) is None
    superset = arguments_match(Expected("t", wanted, "superset"), got) is None
    assert exact == (subset and superset)
