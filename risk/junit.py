"""Reading JUnit XML, the report pytest (``--junitxml``) and most test runners write.

The body comes from CI over the network, so it is parsed with defusedxml:
DTDs, entity declarations and external references are refused outright,
which rules out entity-expansion ("billion laughs") and external-entity
attacks. Nested ``<testsuite>`` elements are walked; properties of a suite
apply to its test cases unless a test case sets its own.

Outcomes: a ``<failure>`` is "failed", an ``<error>`` is "error", a
``<skipped>`` is "skipped" (recorded, but it never counts as passed: a skipped
test showed nothing), anything else "passed".
"""

from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError

from defusedxml import ElementTree as SafeElementTree
from defusedxml.common import DefusedXmlException

from risk.choices import EvaluationOutcome

MAX_TEST_CASES = 5000
MAX_MESSAGE = 4000


class JUnitError(ValueError):
    """The body is not a JUnit report we can read; the message says why."""


@dataclass
class TestCaseResult:
    name: str
    suite: str
    outcome: str
    message: str = ""
    duration_seconds: float | None = None
    properties: dict[str, str] = field(default_factory=dict)


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _properties(element) -> dict[str, str]:
    values = {}
    for child in element:
        if _local(child.tag) != "properties":
            continue
        for prop in child:
            if _local(prop.tag) != "property":
                continue
            name = (prop.get("name") or "").strip()
            if not name:
                continue
            value = prop.get("value")
            if value is None:
                value = prop.text or ""
            values[name] = value.strip()
    return values


def _duration(value) -> float | None:
    try:
        duration = float(value)
    except (TypeError, ValueError):
        return None
    return duration if duration >= 0 else None


def _outcome(case) -> tuple[str, str]:
    for child in case:
        tag = _local(child.tag)
        if tag in ("failure", "error", "skipped"):
            message = child.get("message") or (child.text or "")
            outcome = {
                "failure": EvaluationOutcome.FAILED,
                "error": EvaluationOutcome.ERROR,
                "skipped": EvaluationOutcome.SKIPPED,
            }[tag]
            return outcome.value, message.strip()[:MAX_MESSAGE]
    return EvaluationOutcome.PASSED.value, ""


def _walk(suite, inherited: dict, results: list) -> None:
    properties = {**inherited, **_properties(suite)}
    suite_name = suite.get("name") or ""
    for child in suite:
        tag = _local(child.tag)
        if tag == "testsuite":
            _walk(child, properties, results)
        elif tag == "testcase":
            if len(results) >= MAX_TEST_CASES:
                raise JUnitError(f"More than {MAX_TEST_CASES} test cases; split the report.")
            name = (child.get("name") or "").strip()
            if not name:
                raise JUnitError(f"A <testcase> in suite {suite_name!r} has no name attribute.")
            classname = (child.get("classname") or "").strip()
            outcome, message = _outcome(child)
            results.append(
                TestCaseResult(
                    name=(f"{classname}::{name}" if classname else name)[:500],
                    suite=suite_name[:500],
                    outcome=outcome,
                    message=message,
                    duration_seconds=_duration(child.get("time")),
                    properties={**properties, **_properties(child)},
                )
            )


def parse_junit(data: bytes | str) -> list[TestCaseResult]:
    """Every test case in a JUnit XML report; ``JUnitError`` naming the problem otherwise."""
    if not data or not data.strip():
        raise JUnitError("The body is empty; send a JUnit XML report.")
    try:
        root = SafeElementTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise JUnitError(f"Refused unsafe XML: {exc}.")
    except ParseError as exc:
        raise JUnitError(f"The XML is not well-formed: {exc}.")
    tag = _local(root.tag)
    if tag not in ("testsuites", "testsuite"):
        raise JUnitError(f"The root element must be <testsuites> or <testsuite>, not <{tag}>.")
    results: list[TestCaseResult] = []
    _walk(root, {}, results)
    if not results:
        raise JUnitError("The report holds no <testcase> elements.")
    return results
