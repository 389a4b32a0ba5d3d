"""The filter expression language compiles to the same filter structure as Api().runs(filters=...)."""

from __future__ import annotations

import pytest

from tunelog.web.expr import ExprError, parse_expression, text_filter


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        (
            'config.hyperparameters.n_epochs >= 3 and state = "finished"',
            {"$and": [{"config.hyperparameters.n_epochs": {"$gte": 3}}, {"state": {"$eq": "finished"}}]},
        ),
        ("summary.loss < 0.25", {"summary.loss": {"$lt": 0.25}}),
        ("summary.loss <= 1e-3", {"summary.loss": {"$lte": 0.001}}),
        ("job_type != 'eval'", {"job_type": {"$ne": "eval"}}),
        (
            '(summary.loss < 0.2 or tags contains "baseline") and not job_type == "eval"',
            {
                "$and": [
                    {"$or": [{"summary.loss": {"$lt": 0.2}}, {"tags": {"$contains": "baseline"}}]},
                    {"$not": {"job_type": {"$eq": "eval"}}},
                ]
            },
        ),
        ('config.base_model in ["a", "b"]', {"config.base_model": {"$in": ["a", "b"]}}),
        ("config.x not in [1, 2.5, null]", {"config.x": {"$nin": [1, 2.5, None]}}),
        ('name ~ "^ft-"', {"name": {"$regex": "^ft-"}}),
        ('name matches "x"', {"name": {"$regex": "x"}}),
        ("summary.valid_loss exists", {"summary.valid_loss": {"$exists": True}}),
        ("summary.valid_loss not exists", {"summary.valid_loss": {"$exists": False}}),
        ("config.`odd key`.b = true", {"config.odd key.b": {"$eq": True}}),
        ('notes = "say \\"hi\\""', {"notes": {"$eq": 'say "hi"'}}),
        ('state = "x" AND group = NULL', {"$and": [{"state": {"$eq": "x"}}, {"group": {"$eq": None}}]}),
    ],
)
def test_expressions_compile_to_the_filter_structure(text: str, expected: dict[str, object]) -> None:
    assert parse_expression(text) == expected


@pytest.mark.parametrize(
    ("text", "position", "says"),
    [
        ("config.x >= and y", 12, "Expected a value"),
        ('state = "finished', 8, "Unterminated string"),
        ("foo = 1", 0, "Unknown filter path"),
        ("state ==", 8, "found the end"),
        ("(state = 1", 10, "Missing ')'"),
        ('name ~ "["', 7, "Invalid regular expression"),
        ("state = 1 state", 10, "join conditions"),
        ("state @ 1", 6, "Unexpected character"),
        ("config.x in 3", 12, "Expected a list"),
        ("config. = 1", 8, "Expected a key"),
    ],
)
def test_bad_expressions_say_what_and_where(text: str, position: int, says: str) -> None:
    with pytest.raises(ExprError) as info:
        parse_expression(text)
    assert info.value.position == position
    assert says in str(info.value)
    # The message shows the expression with a caret under the problem.
    lines = str(info.value).splitlines()
    assert lines[1].strip() == text.strip() and lines[2].index("^") - 2 == position


def test_expressions_run_against_the_store(api: object, sample: object) -> None:
    from tunelog.api import Api

    assert isinstance(api, Api)
    runs = api.runs(
        "tester/ft-demo", parse_expression('config.hyperparameters.n_epochs >= 3 and job_type = "fine-tune"')
    )
    assert sorted(r.id for r in runs) == ["ftjob-0", "ftjob-1"]
    # A value is always a bound parameter: SQL in it matches nothing and breaks nothing.
    assert api.runs("tester/ft-demo", parse_expression('name = "x\' OR 1=1 --"')) == []
    assert api.runs("tester/ft-demo", parse_expression('name = "x\\" OR 1=1 --"')) == []
    found = api.runs("tester/ft-demo", text_filter("SWEEP-1"))
    assert [r.id for r in found] == ["sweep-1"]
    assert api.runs("tester/ft-demo", text_filter("a.*b(")) == []  # regex characters are literal
