"""``govreg gate``: ask the deployment gate whether a model version may ship, and wait;
``govreg report``: tell it the pipeline shipped; ``govreg card``: import the model's
card from a Hugging Face README.md; ``govreg verify``: check an export bundle offline
(no server, no network: ``govreg_verify.cli``).

    govreg gate --model credit-scoring --version 7 --environment production --wait 1800 \
        --id-file gate-request-id
    ./deploy.sh && govreg report --request-id "$(cat gate-request-id)" --deployed

Reads ``GOVREG_URL`` and ``GOVREG_TOKEN`` (or ``--url`` / ``--token``). Prints every
check and approval, then exits with

    0  approved (or already deployed)
    1  denied (or superseded by a newer request)
    2  still pending when the wait ran out
    3  usage, authentication, connection or server errors

Asking again for the same version and environment while a request is open
(pending, or approved and not yet reported) follows that request, with the
approvals it has, instead of opening a new one: a re-run CI job picks up where
the first run stopped. The CLI says which it did; ``--new`` asks for a new
request (the open one is superseded). ``--rollback`` asks for a rollback to a
version that was approved and live in that environment before.

Long waits are a series of ``GET /api/deployment-requests/{id}/?wait=60`` calls,
so no single HTTP request outlives a proxy's timeout.
"""

import argparse
import os
import sys
import time

from govreg_verify import cli as verify_cli

# ``requests`` is imported where the gate and report commands call the server, so
# ``govreg verify`` runs with the standard library and ``cryptography`` alone.

EXIT_APPROVED = 0
EXIT_DENIED = 1
EXIT_PENDING = 2
EXIT_ERROR = 3
SERVER_MAX_WAIT = 60


class UsageError(Exception):
    pass


class GateError(Exception):
    """Anything that is not the gate's answer: bad input, no connection, server trouble."""


class Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage; 2 means "still pending" here, so usage exits 3."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> Parser:
    parser = Parser(prog="govreg", description="govreg command line for CI/CD pipelines")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    gate = commands.add_parser(
        "gate",
        help="ask the deployment gate and wait for its answer",
        description="Ask whether a model version may be deployed to an environment. "
        "Exit 0 approved, 1 denied, 2 pending at the end of the wait, 3 error.",
    )
    gate.add_argument("--model", help="model name")
    gate.add_argument("--version", help="model version label")
    gate.add_argument("--environment", help="target environment, e.g. production")
    gate.add_argument(
        "--request-id", type=int, help="follow an existing deployment request instead"
    )
    gate.add_argument(
        "--new",
        action="store_true",
        help="open a new request even if one is open for this version and environment "
        "(the open one is superseded)",
    )
    gate.add_argument(
        "--rollback",
        action="store_true",
        help="ask for a rollback to this version (it was approved and live there before)",
    )
    gate.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="wait up to SECONDS for a decision while the request is pending (default 0)",
    )
    gate.add_argument("--url", default=None, help="server URL (default: $GOVREG_URL)")
    gate.add_argument("--token", default=None, help="API token (default: $GOVREG_TOKEN)")
    gate.add_argument(
        "--pipeline-run-url",
        default=os.environ.get("CI_PIPELINE_URL", ""),
        help="link to this pipeline run (default: $CI_PIPELINE_URL)",
    )
    gate.add_argument("--commit", default="", help="commit being deployed")
    gate.add_argument(
        "--id-file", default=None, help="write the deployment request's id to this file"
    )
    gate.add_argument("--timeout", type=float, default=30, help="HTTP timeout per call, seconds")

    report = commands.add_parser(
        "report",
        help="tell the gate the pipeline shipped (or failed to ship) a request",
        description="Report the outcome of an approved deployment request. "
        "Exit 0 recorded, 3 error.",
    )
    report.add_argument("--request-id", type=int, required=True)
    outcome = report.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--deployed", action="store_true", help="the version is live")
    outcome.add_argument("--failed", action="store_true", help="the rollout failed")
    report.add_argument("--note", default="", help="a note kept with the report")
    report.add_argument("--url", default=None, help="server URL (default: $GOVREG_URL)")
    report.add_argument("--token", default=None, help="API token (default: $GOVREG_TOKEN)")
    report.add_argument("--timeout", type=float, default=30)

    card = commands.add_parser(
        "card",
        help="import the model's card from a Hugging Face README.md",
        description="Send a Hugging Face model card (README.md with YAML metadata) as the "
        "model's card; prints what changed and what could not be mapped. Exit 0 imported "
        "(or reported, with --dry-run), 3 error.",
    )
    card.add_argument("--model", required=True, help="model name")
    card.add_argument("file", help="the README.md to import")
    card.add_argument("--dry-run", action="store_true", help="report what would change only")
    card.add_argument("--url", default=None, help="server URL (default: $GOVREG_URL)")
    card.add_argument("--token", default=None, help="API token (default: $GOVREG_TOKEN)")
    card.add_argument("--timeout", type=float, default=30)

    verify = commands.add_parser(
        "verify",
        help="check an export bundle offline (signature, digests, chain, Merkle proofs)",
        description="Check a govreg export bundle with no server, database or network. "
        "Exit 0 when it verifies, 1 with the first failure, 3 when a file cannot be read.",
    )
    verify_cli.add_arguments(verify)
    return parser


class Client:
    def __init__(self, url: str, token: str, timeout: float):
        import requests

        self.base = url.rstrip("/")
        self.timeout = timeout
        self.last_status: int | None = None
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        )

    def call(self, method: str, path: str, *, extra_timeout: float = 0, **kwargs) -> dict:
        """The JSON answer; ``self.last_status`` keeps its HTTP status."""
        import requests

        url = f"{self.base}{path}"
        try:
            response = self.session.request(
                method, url, timeout=self.timeout + extra_timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise GateError(f"cannot reach {self.base}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            message = body.get("message") if isinstance(body, dict) else response.text[:200]
            raise GateError(f"{method} {path} answered {response.status_code}: {message}")
        if not isinstance(body, dict):
            raise GateError(f"{method} {path} did not answer JSON")
        self.last_status = response.status_code
        return body


def kind_of(answer: dict) -> str:
    return "rollback request" if answer.get("kind") == "rollback" else "deployment request"


def show(answer: dict, seen: set) -> None:
    """Print the checks and approvals once, and every later change."""
    head = (
        f"{kind_of(answer)} #{answer['id']}: {answer.get('model')}@{answer.get('version')} "
        f"-> {answer.get('environment')}: {answer['status'].upper()}"
    )
    lines = [head]
    for check in answer.get("checks", []):
        mark = "PASS" if check["passed"] else "FAIL"
        lines.append(f"  [{mark}] {check['name']}: {check['reason']}")
    for approval in answer.get("approvals", []):
        state = "" if approval.get("valid", True) else f" (lapsed: {approval.get('lapse_reason')})"
        comment = f": {approval['comment']}" if approval.get("comment") else ""
        lines.append(f"  {approval['verdict']}d by {approval['approver']}{comment}{state}")
    for row in answer.get("required", []):
        lines.append(f"  required: {row['have']}/{row['count']} {row['role']}")
    text = "\n".join(lines)
    if text not in seen:
        seen.add(text)
        print(text, flush=True)


def client_for(args) -> "Client":
    url = args.url or os.environ.get("GOVREG_URL", "")
    token = args.token or os.environ.get("GOVREG_TOKEN", "")
    if not url:
        raise UsageError("give --url or set GOVREG_URL")
    if not token:
        raise UsageError("give --token or set GOVREG_TOKEN")
    return Client(url, token, args.timeout)


def run_report(args) -> int:
    client = client_for(args)
    verb = "deployed" if args.deployed else "failed"
    answer = client.call(
        "POST", f"/api/deployment-requests/{args.request_id}/{verb}", json={"note": args.note}
    )
    deployment = answer.get("deployment") or {}
    detail = f" as deployment #{deployment['id']}" if deployment.get("id") and args.deployed else ""
    print(f"deployment request #{answer['id']}: reported {verb}{detail}", flush=True)
    return EXIT_APPROVED


def run_card(args) -> int:
    with open(args.file, "rb") as handle:
        text = handle.read()
    client = client_for(args)
    answer = client.call(
        "POST",
        f"/api/models/{args.model}/card",
        params={"dry_run": "true"} if args.dry_run else None,
        data=text,
        headers={"Content-Type": "text/markdown; charset=utf-8"},
    )
    changed = ", ".join(answer.get("changed") or []) or "nothing"
    verb = "would change" if answer.get("dry_run") else "changed"
    print(f"card of {answer.get('model')}: {verb} {changed}", flush=True)
    for row in answer.get("unmapped") or []:
        print(f"  not mapped: {row['source']}: {row['reason']}", flush=True)
    return EXIT_APPROVED


def run_gate(args) -> int:
    if args.wait < 0:
        raise UsageError("--wait must be 0 or more seconds")
    if args.request_id is None and not (args.model and args.version and args.environment):
        raise UsageError("give --model, --version and --environment (or --request-id)")
    client = client_for(args)
    if args.request_id is not None and (args.new or args.rollback):
        raise UsageError("--new and --rollback ask anew; they do not go with --request-id")
    if args.request_id is not None:
        answer = client.call("GET", f"/api/deployment-requests/{args.request_id}/")
    else:
        answer = client.call(
            "POST",
            "/api/deployment-requests/",
            json={
                "model": args.model,
                "version": args.version,
                "environment": args.environment,
                "pipeline_run_url": args.pipeline_run_url,
                "commit": args.commit,
                "kind": "rollback" if args.rollback else "deploy",
                "new": args.new,
            },
        )
        if client.last_status == 200:
            print(
                f"asked again: following the open {kind_of(answer)} #{answer['id']} "
                f"(asked by {answer.get('requested_by')} at {answer.get('created_at')}, "
                f"{len(answer.get('approvals') or [])} decision(s) so far); "
                "--new opens a new one",
                flush=True,
            )
        else:
            superseded = " (the open one is superseded)" if args.new else ""
            print(f"opened {kind_of(answer)} #{answer['id']}{superseded}", flush=True)
    if args.id_file:
        with open(args.id_file, "w", encoding="utf-8") as handle:
            handle.write(f"{answer['id']}\n")
    seen: set = set()
    show(answer, seen)
    deadline = time.monotonic() + args.wait
    while answer["status"] == "pending" and not answer.get("outcome"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        wait = min(SERVER_MAX_WAIT, max(1, int(remaining)))
        answer = client.call(
            "GET",
            f"/api/deployment-requests/{answer['id']}/",
            params={"wait": wait},
            extra_timeout=wait,
        )
        show(answer, seen)
    if answer["status"] == "approved":
        if answer.get("outcome") == "deployed":
            print(f"deployed: deployment request #{answer['id']} has shipped", flush=True)
        else:
            print(f"approved: deployment request #{answer['id']} may ship", flush=True)
        return EXIT_APPROVED
    if answer["status"] == "superseded":
        print(
            f"superseded: deployment request #{answer['id']} was replaced by "
            f"#{answer.get('superseded_by')}; follow that one",
            flush=True,
        )
        return EXIT_DENIED
    if answer["status"] == "denied":
        reasons = "; ".join(answer.get("reasons") or []) or "see the checks above"
        print(f"denied: {reasons}", flush=True)
        return EXIT_DENIED
    print(
        f"pending: no decision yet on deployment request #{answer['id']}; "
        f"follow it with --request-id {answer['id']}",
        flush=True,
    )
    return EXIT_PENDING


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "gate":
            return run_gate(args)
        if args.command == "report":
            return run_report(args)
        if args.command == "card":
            return run_card(args)
        if args.command == "verify":
            return verify_cli.run(args)
    except UsageError as exc:
        print(f"govreg: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except GateError as exc:
        print(f"govreg: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"govreg: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR
    parser.error(f"unknown command {args.command!r}")
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
