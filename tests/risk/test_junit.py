"""The JUnit reader: outcomes, nested suites, property precedence, limits."""

import pytest

from risk import junit
from risk.junit import JUnitError, parse_junit


def test_outcomes_and_property_precedence():
    report = b"""<?xml version="1.0"?>
    <testsuites>
      <properties><property name="kind" value="scenario"/></properties>
      <testsuite name="outer">
        <properties>
          <property name="kind" value="red-team"/>
          <property name="hypothesis">jailbreaks stay blocked</property>
        </properties>
        <testsuite name="inner">
          <testcase classname="rt" name="ok" time="1.5"/>
          <testcase classname="rt" name="boom" time="x">
            <properties><property name="kind" value="edge-case"/></properties>
            <error message="RuntimeError: model server down"/>
          </testcase>
          <testcase name="flaky"><failure>assert 0.12 &lt; 0.1</failure></testcase>
        </testsuite>
      </testsuite>
    </testsuites>"""
    ok, boom, flaky = parse_junit(report)
    assert (ok.name, ok.suite, ok.outcome, ok.duration_seconds) == (
        "rt::ok",
        "inner",
        "passed",
        1.5,
    )
    assert ok.properties == {"kind": "red-team", "hypothesis": "jailbreaks stay blocked"}
    assert (boom.outcome, boom.message, boom.duration_seconds) == (
        "error",
        "RuntimeError: model server down",
        None,
    )
    assert boom.properties["kind"] == "edge-case"
    assert (flaky.name, flaky.outcome, flaky.message) == ("flaky", "failed", "assert 0.12 < 0.1")


def test_a_namespaced_single_suite():
    report = b'<t:testsuite xmlns:t="urn:x"><t:testcase name="a"/></t:testsuite>'
    assert [case.name for case in parse_junit(report)] == ["a"]


def test_too_many_cases(monkeypatch):
    monkeypatch.setattr(junit, "MAX_TEST_CASES", 2)
    report = b"<testsuite>" + b'<testcase name="c"/>' * 3 + b"</testsuite>"
    with pytest.raises(JUnitError, match="More than 2 test cases"):
        parse_junit(report)


def test_charset_parameter_is_accepted(client_for, owner, team, db):
    from tests.risk.factories import make_model, make_version

    version = make_version(make_model(team))
    response = client_for(owner).post(
        f"/api/model-versions/{version.pk}/evaluations?kind=scenario",
        data='<testsuite><testcase name="été"/></testsuite>'.encode(),
        content_type="application/xml; charset=utf-8",
    )
    assert response.status_code == 201, response.json()
    assert response.json()[0]["name"] == "été"
