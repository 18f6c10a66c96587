"""Evaluations from CI/CD: JSON, and JUnit XML written by a real pytest run."""

import subprocess
import sys
import textwrap

import pytest
from django.urls import resolve

from accounts.roles import Role
from risk.api.evaluations import ModelVersionEvaluationsView
from risk.models import Evaluation
from tests.conftest import token_client
from tests.factories import UserFactory
from tests.risk.factories import make_model, make_version

pytestmark = pytest.mark.django_db

SMALL_SUITE = textwrap.dedent(
    """
    import pytest


    @pytest.fixture(autouse=True)
    def _describe_suite(record_testsuite_property):
        record_testsuite_property("kind", "adversarial")
        record_testsuite_property(
            "hypothesis", "prompt injection does not reveal the system prompt"
        )


    def test_injection_is_blocked(record_property):
        record_property("success_criterion", "no system prompt in 200 attacks")
        record_property("metric.leak_rate", 0.0)
        assert "system prompt" not in "I cannot help with that."


    def test_roleplay_jailbreak():
        answer = "Sure, here is the system prompt"
        assert "system prompt" not in answer


    @pytest.mark.skip(reason="needs the GPU runner")
    def test_long_context_attack():
        pass
    """
)


@pytest.fixture
def version(team):
    return make_version(make_model(team, name="support-llm"), version="7")


def url(version):
    return f"/api/model-versions/{version.pk}/evaluations"


def run_pytest_for_junit(tmp_path) -> bytes:
    """Run pytest on a small test file and return the JUnit XML it wrote."""
    test_file = tmp_path / "test_adversarial.py"
    test_file.write_text(SMALL_SUITE)
    report = tmp_path / "report.xml"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(test_file),
            f"--junitxml={report}",
            "-o",
            "junit_family=xunit1",
            "-p",
            "no:django",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr  # one test fails
    return report.read_bytes()


def test_junit_report_from_a_real_pytest_run(client_for, owner, version, tmp_path):
    xml = run_pytest_for_junit(tmp_path)
    response = client_for(owner).post(
        url(version) + "?run_reference=ci-run-4711", data=xml, content_type="application/xml"
    )
    assert response.status_code == 201, response.json()
    rows = {row["name"].split("::")[-1]: row for row in response.json()}
    assert set(rows) == {
        "test_injection_is_blocked",
        "test_roleplay_jailbreak",
        "test_long_context_attack",
    }
    blocked = rows["test_injection_is_blocked"]
    assert (blocked["kind"], blocked["outcome"], blocked["passed"]) == (
        "adversarial",
        "passed",
        True,
    )
    assert blocked["hypothesis"] == "prompt injection does not reveal the system prompt"
    assert blocked["success_criterion"] == "no system prompt in 200 attacks"
    assert blocked["metrics"] == {"leak_rate": 0.0}
    assert blocked["run_reference"] == "ci-run-4711"
    assert blocked["submitted_by"] == owner.username
    failed = rows["test_roleplay_jailbreak"]
    assert (failed["outcome"], failed["passed"]) == ("failed", False)
    assert "system prompt" in failed["message"]
    skipped = rows["test_long_context_attack"]
    assert (skipped["outcome"], skipped["passed"]) == ("skipped", False)
    assert Evaluation.objects.filter(model_version=version).count() == 3
    listed = client_for(owner).get(url(version)).json()
    assert listed["count"] == 3


def test_kind_from_the_query_string_when_the_report_has_none(client_for, owner, version):
    xml = b'<testsuite name="s"><testcase classname="edge" name="test_empty_prompt"/></testsuite>'
    client = client_for(owner)
    missing = client.post(url(version), data=xml, content_type="text/xml")
    assert missing.status_code == 400
    assert "kind" in missing.json()["fields"]
    unknown = client.post(url(version) + "?kind=vibes", data=xml, content_type="text/xml")
    assert unknown.status_code == 400 and "unknown kind" in unknown.json()["message"]
    created = client.post(url(version) + "?kind=edge-case", data=xml, content_type="text/xml")
    assert created.status_code == 201
    assert created.json()[0]["kind"] == "edge-case"
    assert created.json()[0]["name"] == "edge::test_empty_prompt"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"<testsuite><testcase name='a'></testsuite>", "not well-formed"),
        (b"", "empty"),
        (b"<html><body/></html>", "root element"),
        (b"<testsuite name='s'></testsuite>", "no <testcase>"),
        (b"<testsuite><testcase/></testsuite>", "no name"),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
            b"<testsuite><testcase name='&lol2;'/></testsuite>",
            "Refused unsafe XML",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b"<testsuite><testcase name='&xxe;'/></testsuite>",
            "Refused unsafe XML",
        ),
    ],
)
def test_malformed_or_unsafe_xml_is_400_naming_the_problem(
    client_for, owner, version, body, fragment
):
    response = client_for(owner).post(
        url(version) + "?kind=adversarial", data=body, content_type="application/xml"
    )
    assert response.status_code == 400
    assert fragment in response.json()["message"]
    assert response.json()["fields"]
    assert not Evaluation.objects.exists()


def test_one_bad_case_writes_nothing(client_for, owner, version):
    xml = (
        b'<testsuites><testsuite name="review"><testcase name="ok"/>'
        b'<testcase name="needs reviewer"><properties>'
        b'<property name="kind" value="human-review"/></properties></testcase>'
        b"</testsuite></testsuites>"
    )
    response = client_for(owner).post(
        url(version) + "?kind=scenario", data=xml, content_type="application/xml"
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "reviewer": ["testcase[1] 'needs reviewer': A human review names its reviewer."]
    }
    assert not Evaluation.objects.exists()


def test_json_evaluation_and_human_review_reviewer(client_for, owner, member, version):
    client = client_for(owner)
    no_reviewer = client.post(url(version), {"kind": "human-review", "passed": True}, format="json")
    assert no_reviewer.status_code == 400
    assert "reviewer" in no_reviewer.json()["fields"]
    created = client.post(
        url(version),
        {
            "kind": "human-review",
            "passed": True,
            "reviewer": member.username,
            "hypothesis": "answers on credit limits are accurate and polite",
            "success_criterion": "2 reviewers agree on 50 sampled conversations",
            "evidence_url": "https://reviews.example.com/7",
            "metrics": {"agreement": 0.94},
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["reviewer"] == member.username
    assert created.json()["name"] == "Human review"
    many = client.post(
        url(version),
        [
            {"kind": "scenario", "name": "a", "outcome": "passed"},
            {"kind": "red-team", "name": "b", "passed": False},
        ],
        format="json",
    )
    assert many.status_code == 201 and [e["passed"] for e in many.json()] == [True, False]
    contradiction = client.post(
        url(version), {"kind": "scenario", "passed": True, "outcome": "failed"}, format="json"
    )
    assert contradiction.status_code == 400


def test_who_may_post_and_read(client_for, owner, member, outsider, team, version):
    body = {"kind": "scenario", "name": "s", "passed": True}
    assert client_for(member).post(url(version), body, format="json").status_code == 201
    # outsiders do not learn the version exists
    assert client_for(outsider).get(url(version)).status_code == 404
    assert client_for(outsider).post(url(version), body, format="json").status_code == 404
    assert client_for(outsider).get("/api/evaluations/").json()["results"] == []
    # a team member without the ml-engineer or pipeline role reads but may not post
    approver = UserFactory(username="alice", groups=[team, Role.APPROVER])
    assert client_for(approver).get(url(version)).status_code == 200
    refused = client_for(approver).post(url(version), body, format="json")
    assert refused.status_code == 403
    assert "ml-engineer or pipeline" in refused.json()["message"]
    pipeline = UserFactory(username="ci-bot", groups=[team, Role.PIPELINE])
    assert client_for(pipeline).post(url(version), body, format="json").status_code == 201
    read_only = token_client(owner, read_only=True)
    assert read_only.post(url(version), body, format="json").status_code == 403
    assert client_for(owner).get("/api/evaluations/?kind=scenario").json()["count"] == 2


def test_route_is_not_shadowed_by_the_registry_router(version):
    match = resolve(f"/api/model-versions/{version.pk}/evaluations")
    assert match.func.view_class is ModelVersionEvaluationsView
    assert resolve(f"/api/model-versions/{version.pk}/").func.cls.__module__.startswith("registry")
