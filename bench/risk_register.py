"""Risk register: JUnit XML intake and the heatmap, against plain SQL baselines, same run.

How to run (PostgreSQL on 127.0.0.1:5432 with trust auth):
    .venv/bin/python bench/risk_register.py [--rounds 5] [--per-round 20] [--risks 10000]
        [--cases 100] [--workers 2]

It creates a scratch database ``bench_risk``, migrates it, seeds ``--risks``
risks spread over three teams (random scores on the default 5 x 5 matrix, team
object permissions as the API grants them) and one high-tier model version,
then serves govreg with gunicorn (``--workers`` sync workers, DEBUG off).
The client is sequential and opens a new TCP connection per request
(``requests`` without a Session, ``Connection: close``; see BENCHMARKING.md).
Rounds alternate A and B; the first round is a warm-up and is discarded.

  junit     A  POST /api/model-versions/{id}/evaluations with a pytest-style JUnit
               report of ``--cases`` test cases (failures, skips, properties):
               safe parse, permission check, validation, one row and one
               hash-chained audit event per test case, one transaction.
            B  the same report parsed with defusedxml in the client and its rows
               INSERTed with psycopg ``executemany`` into a plain table with the
               same columns, one transaction (the floor: parse + store).
  heatmap   A  GET /api/risks/heatmap as a board member (every team's risks) and
               as a team member (scoped through the permission tables).
            B  the same two GROUP BY counts in raw SQL over a kept-open
               connection; plus GET /healthz as the HTTP floor.

Prints median, p95 and min-max per operation, the ratios govreg / baseline,
and a one-line summary last; drops the database at the end.
"""

import argparse
import itertools
import random
import sys

import harness
import psycopg
import requests

DB = "bench_risk"
SERVER_ENV = {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
TEAMS = ("credit-risk", "fraud-detection", "customer-support")


def seed(risk_count: int) -> dict:
    """Migrate and fill the scratch database in this process; return tokens and ids."""
    harness.setup_django(DB, **SERVER_ENV)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from guardian.shortcuts import assign_perm

    from accounts.roles import Role
    from accounts.services import issue_token
    from audit.context import acting_as
    from registry.models import ModelVersion
    from registry.services import register_model
    from risk.models import Risk, RiskMatrix

    users = get_user_model().objects
    rng = random.Random(7)
    with acting_as(name="bench setup"):
        teams = [Group.objects.get_or_create(name=name)[0] for name in TEAMS]
        board = users.create_user("bench-board", "board@example.com")
        board.groups.add(Group.objects.get(name=Role.BOARD))
        member = users.create_user("bench-member", "member@example.com")
        member.groups.add(teams[0], Group.objects.get_or_create(name=Role.ML_ENGINEER)[0])
        model = register_model(
            name="bench-llm", team=teams[0], risk_tier="high", description="benchmark"
        )
        version = ModelVersion.objects.create(
            model=model,
            version="1",
            artifact_uri="s3://bench/llm/1",
            artifact_digest="sha256:" + "ab" * 32,
        )
        matrix = RiskMatrix.default()
        owners = {team.pk: member for team in teams}
        for team in teams[1:]:
            owner = users.create_user(f"bench-owner-{team.name}", "o@example.com")
            owner.groups.add(team)
            owners[team.pk] = owner
        rows = []
        for index in range(risk_count):
            team = teams[index % len(teams)]
            scores = [rng.randint(1, 5) for _ in range(4)]
            rows.append(
                Risk(
                    team=team,
                    owner=owners[team.pk],
                    matrix=matrix,
                    title=f"bench risk {index}",
                    category="emergent-behaviour",
                    inherent_likelihood=scores[0],
                    inherent_impact=scores[1],
                    inherent_level=matrix.level(scores[0], scores[1]),
                    residual_likelihood=scores[2],
                    residual_impact=scores[3],
                    residual_level=matrix.level(scores[2], scores[3]),
                    status="closed" if index % 10 == 0 else "open",
                    next_review_date="2027-01-01",
                )
            )
        Risk.objects.bulk_create(rows, batch_size=2000)
        for team in teams:
            assign_perm("risk.view_risk", team, Risk.objects.filter(team=team))
    from django.db import connection

    with connection.cursor() as cursor:
        # Planner statistics as a live database has them; right after a bulk load they
        # are missing and the permission subquery becomes a nested loop (seconds, not ms).
        cursor.execute("ANALYZE")
    _, board_token = issue_token(board, name="bench")
    _, member_token = issue_token(member, name="bench")
    from django.db import connections

    connections.close_all()
    return {"board": board_token, "member": member_token, "version": version.pk}


def junit_report(cases: int, run: int) -> bytes:
    """A pytest-style report: suite properties, 1 in 10 failing, 1 in 25 skipped."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" '
        f'tests="{cases}"><properties><property name="kind" value="adversarial"/>'
        '<property name="hypothesis" value="prompt injection never reveals the system prompt"/>'
        "</properties>"
    ]
    for case in range(cases):
        body = ""
        if case % 10 == 3:
            body = (
                '<failure message="AssertionError: leaked">assert "system prompt" not in '
                "answer</failure>"
            )
        elif case % 25 == 7:
            body = '<skipped type="pytest.skip" message="needs the GPU runner"/>'
        parts.append(
            f'<testcase classname="tests.adversarial.test_injection" '
            f'name="test_attack_{run}_{case}" time="0.{case % 97:03d}">'
            f'<properties><property name="metric.leak_rate" value="0.0{case % 7}"/>'
            f"</properties>{body}</testcase>"
        )
    parts.append("</testsuite></testsuites>")
    return "".join(parts).encode()


def baseline_junit(conn, report: bytes, version_id: int) -> None:
    """Parse the same report safely and store the same rows with plain INSERTs."""
    from risk.junit import parse_junit

    cases = parse_junit(report)
    rows = [
        (
            version_id,
            case.properties.get("kind", ""),
            case.name,
            case.suite,
            case.properties.get("hypothesis", ""),
            case.outcome,
            case.outcome == "passed",
            case.message,
            case.duration_seconds,
        )
        for case in cases
    ]
    with conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO bench_plain_evaluation (model_version_id, kind, name, suite,"
            " hypothesis, outcome, passed, message, duration_seconds, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now())",
            rows,
        )


HEATMAP_SQL = (
    "SELECT {p}_likelihood, {p}_impact, count(*) FROM risk_risk"
    " WHERE status <> 'closed' AND matrix_id = (SELECT id FROM risk_riskmatrix"
    " WHERE is_default) GROUP BY 1, 2"
)


def baseline_heatmap(conn) -> int:
    total = 0
    for prefix in ("inherent", "residual"):
        rows = conn.execute(HEATMAP_SQL.format(p=prefix)).fetchall()
        total = sum(row[2] for row in rows)
    return total


def line(label: str, stats: dict) -> str:
    return harness.line(label, stats, width=34)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--risks", type=int, default=10000)
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    harness.recreate_database(DB)
    server = None
    try:
        setup = seed(args.risks)
        conn = psycopg.connect(harness.dsn(DB), autocommit=True)
        conn.execute(
            "CREATE TABLE bench_plain_evaluation (id bigserial PRIMARY KEY,"
            " model_version_id bigint, kind varchar(32), name varchar(500),"
            " suite varchar(500), hypothesis text, outcome varchar(16), passed boolean,"
            " message text, duration_seconds double precision, created_at timestamptz)"
        )
        server, base = harness.start_govreg(harness.govreg_env(DB, **SERVER_ENV), args.workers)
        url = f"{base}/api/model-versions/{setup['version']}/evaluations?run_reference=bench"
        xml_headers = {
            "Authorization": f"Bearer {setup['member']}",
            "Content-Type": "application/xml",
            "Connection": "close",
        }
        reports = (junit_report(args.cases, run) for run in itertools.count())

        def govreg_junit(_):
            response = requests.post(url, data=next(reports), headers=xml_headers, timeout=60)
            assert response.status_code == 201, response.text[:300]
            assert len(response.json()) == args.cases

        def plain_junit(_):
            baseline_junit(conn, next(reports), setup["version"])

        def heatmap_as(token):
            headers = {"Authorization": f"Bearer {token}", "Connection": "close"}

            def call(_):
                response = requests.get(f"{base}/api/risks/heatmap", headers=headers, timeout=60)
                assert response.status_code == 200, response.text[:300]

            return call

        def healthz(_):
            assert requests.get(f"{base}/healthz", headers={"Connection": "close"}, timeout=10).ok

        operations = {
            "junit govreg POST": govreg_junit,
            "junit baseline parse+INSERT": plain_junit,
            "heatmap govreg (board, all teams)": heatmap_as(setup["board"]),
            "heatmap govreg (team member)": heatmap_as(setup["member"]),
            "heatmap baseline raw SQL": lambda _: baseline_heatmap(conn),
            "healthz (HTTP floor)": healthz,
        }
        samples = {name: [] for name in operations}
        for round_index in range(args.rounds + 1):
            for name, operation in operations.items():  # A B A B ... per round
                latencies = harness.timed(operation, args.per_round)
                if round_index > 0:  # round 0 warms up
                    samples[name].extend(latencies)
        stats = {name: harness.describe(values) for name, values in samples.items()}
        visible = baseline_heatmap(conn)
        conn.close()
    finally:
        if server is not None:
            harness.stop(server)
        from django.db import connections

        connections.close_all()
        harness.drop_database(DB)

    print(
        f"risk_register on PostgreSQL; {args.risks} risks in {len(TEAMS)} teams ({visible} live), "
        f"JUnit reports of {args.cases} test cases; gunicorn {args.workers} sync workers; "
        f"sequential client, new connection per request; {args.rounds} rounds x "
        f"{args.per_round} after a warm-up round"
    )
    for name, value in stats.items():
        print(line(name, value))
    junit_ratio = (
        stats["junit govreg POST"]["median_ms"] / stats["junit baseline parse+INSERT"]["median_ms"]
    )
    per_case = stats["junit govreg POST"]["median_ms"] / args.cases
    heat_ratio = (
        stats["heatmap govreg (board, all teams)"]["median_ms"]
        / stats["heatmap baseline raw SQL"]["median_ms"]
    )
    scoped_ratio = (
        stats["heatmap govreg (team member)"]["median_ms"]
        / stats["heatmap baseline raw SQL"]["median_ms"]
    )
    floor = stats["healthz (HTTP floor)"]["median_ms"]
    print(f"  junit: govreg / baseline = {junit_ratio:.1f}x ({per_case:.2f} ms per test case)")
    print(
        f"  heatmap: govreg / raw SQL = {heat_ratio:.1f}x (board), {scoped_ratio:.1f}x "
        f"(team member); HTTP floor /healthz {floor:.2f} ms"
    )
    print(
        f"risk_register: junit p95 {stats['junit govreg POST']['p95_ms']:.1f} ms per "
        f"{args.cases}-case report (baseline {stats['junit baseline parse+INSERT']['p95_ms']:.1f}"
        f" ms, ratio {junit_ratio:.1f}x); heatmap p95 "
        f"{stats['heatmap govreg (board, all teams)']['p95_ms']:.1f} ms (raw SQL "
        f"{stats['heatmap baseline raw SQL']['p95_ms']:.1f} ms, ratio {heat_ratio:.1f}x) "
        f"at {args.risks} risks"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
