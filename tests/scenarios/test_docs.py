"""docs/scenarios.md documents every injection and expectation kind the loader accepts."""

from pathlib import Path

from scenarios.spec import EXPECTS, INJECTS, OPERATOR_ACTIONS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "scenarios.md").read_text()


def test_every_inject_kind_and_its_fields_are_documented():
    for kind, fields in INJECTS.items():
        row = next((line for line in DOC.splitlines() if line.startswith(f"| `{kind}` |")), None)
        assert row is not None, f"inject kind {kind} is not documented"
        for name in fields:
            assert f"`{name}`" in row, f"inject {kind}: field {name} is not documented"


def test_every_expect_kind_is_documented():
    for kind in EXPECTS:
        assert f"| `{kind}` |" in DOC, f"expect kind {kind} is not documented"


def test_every_operator_action_is_documented():
    for action in OPERATOR_ACTIONS:
        assert f"`{action}`" in DOC
