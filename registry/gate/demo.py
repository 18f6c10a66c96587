"""Demo story, the gate's part: every production deployment of the story goes
through a deployment request that the pipeline asks for, the demo approvers
approve with a comment (never the requester or the version's registrant), and
the pipeline reports deployed. The last chapters leave three requests for the
board to look at:

- ``support-triage@2`` to staging: approved at once (no approval needed there),
  half an hour ago; the pipeline has not reported its rollout yet;
- ``account-takeover@1`` to production: denied by its checks (incomplete card,
  an input without a content hash);
- ``loan-default@3`` to production: approved by ``approver``, pending: it needs
  a second approver (``approver2``) and its human review is not posted yet.
"""

from accounts.demo import as_user, chapter, later
from registry.choices import RequestOutcome, RequestStatus
from registry.gate import services
from registry.models import DeploymentRequest, Environment, ModelVersion

DEFAULT_COMMENT = "Card, lineage, evaluations and risks reviewed."


def ask(context, version: ModelVersion, environment: str) -> DeploymentRequest:
    """The deploy pipeline asks the gate (once per version and environment)."""
    target = Environment.objects.get(name=environment)
    asked = (
        DeploymentRequest.objects.filter(model_version=version, environment=target)
        .order_by("pk")
        .first()
    )
    if asked is not None:
        return asked
    model = version.model
    with as_user(context, "pipeline"):
        return services.create_request(
            model_version=version,
            environment=target,
            user=context["users"]["pipeline"],
            pipeline_run_url=f"https://ci.example.com/{model.team.name}/{model.name}"
            f"/-/pipelines/{version.pk}{target.order}",
            commit=version.code_commit[:7],
        )


def approve(context, request: DeploymentRequest, approvers, comment=DEFAULT_COMMENT):
    """Each approver in turn approves, until the request is approved (or they all did)."""
    request = services.evaluate(services.load(request.pk))
    for username in approvers:
        if request.status != RequestStatus.PENDING:
            break
        later(context, minutes=20)
        with as_user(context, username):
            request = services.approve(request.pk, context["users"][username], comment)
    return request


def deployed(context, request: DeploymentRequest) -> DeploymentRequest:
    """The pipeline ships the approved request and reports it."""
    if request.outcome == RequestOutcome.DEPLOYED:
        return request
    if request.status != RequestStatus.APPROVED:
        raise RuntimeError(
            f"demo story: request #{request.pk} for {request.model_version} is "
            f"{request.status}: {'; '.join(request.reasons)}"
        )
    later(context, minutes=15)
    with as_user(context, "pipeline"):
        request, _ = services.mark_deployed(request.pk, context["users"]["pipeline"])
    return request


def release(context, version, *, environment="production", approvers=(), comment=None):
    """Ask, approve, deploy: a version reaches a protected environment the one way."""
    request = ask(context, version, environment)
    if request.outcome == RequestOutcome.DEPLOYED:
        return request
    request = approve(context, request, approvers, comment or DEFAULT_COMMENT)
    return deployed(context, request)


@chapter(days_ago=0.02)
def support_triage_2_staging_request(context):
    """the pipeline asks for support-triage@2 in staging: approved at once (staging needs
    no approval); its rollout is under way"""
    ask(context, ModelVersion.objects.get(model__name="support-triage", version="2"), "staging")


@chapter(days_ago=2)
def account_takeover_1_production_request(context):
    """the pipeline asks for account-takeover@1 in production: its checks deny it"""
    ask(
        context, ModelVersion.objects.get(model__name="account-takeover", version="1"), "production"
    )


@chapter(days_ago=1)
def loan_default_3_production_request(context):
    """the pipeline asks for loan-default@3 in production; approver approves, it still
    needs a second approver and its human review"""
    version = ModelVersion.objects.get(model__name="loan-default", version="3")
    request = ask(context, version, "production")
    if not request.approvals.exists():
        approve(
            context,
            request,
            ("approver",),
            "Card, lineage and stress results reviewed; waiting for the underwriters' review.",
        )
