"""The registry's dossier sections: the model card, the version, its training data's
provenance from lineage, its versions, deployments and approvals, the audit trail,
standards, the declaration of conformity and the monitoring plan (points 1-3, 6-9).
Risk and playbooks register theirs in their own ``dossier.py``."""

from django.db.models import Prefetch, Q

from audit.models import AuditEvent
from lineage.models import RunInput, RunOutput
from registry import services
from registry.choices import RequestStatus
from registry.dossier import SectionData, Table, dossier_section
from registry.models import Deployment, DeploymentRequest, MLModel, ModelVersion
from registry.models.gate import Approval
from registry.pdf import NOT_RECORDED

AUDIT_EVENTS_SHOWN = 200


def _user(user) -> str | None:
    return user.username if user is not None else None


def _label(dv) -> str:
    return f"{dv.dataset.namespace.name}:{dv.dataset.name}@{dv.version}"


def _lines(text: str) -> list[str]:
    return [line.strip(" -•\t") for line in text.splitlines() if line.strip(" -•\t")]


# --- point 1 ---------------------------------------------------------------------------


@dossier_section("registry.system", point=1, title="The system and its provider", order=10)
def system(version, context) -> SectionData:
    model = context.model
    return SectionData(
        facts=[
            ("provider", "Provider", model.provider),
            ("contact", "Contact point", model.contact),
            ("model", "Model", model.name),
            ("description", "Description", model.description),
            ("team", "Owning team", model.team.name),
            ("risk_tier", "Risk tier", model.get_risk_tier_display()),
            ("eu_database_id", "EU database registration (Art. 71)", model.eu_database_id),
            ("version", "Version", version.version),
            ("status", "Version status", version.get_status_display()),
            ("version_description", "About this version", version.description),
            ("registered_at", "Registered", version.created_at),
            ("registered_by", "Registered by", _user(version.registered_by)),
            ("artifact_uri", "Artifact", version.artifact_uri),
            ("artifact_digest", "Artifact digest", version.artifact_digest),
            ("code_repository", "Code repository", version.code_repository),
            ("code_commit", "Code commit (software version)", version.code_commit),
        ]
    )


@dossier_section(
    "registry.card", point=1, title="Intended purpose and instructions for use", order=20
)
def card(version, context) -> SectionData:
    model = context.model
    return SectionData(
        facts=[
            ("intended_use", "Intended purpose", model.intended_use),
            ("out_of_scope_uses", "Uses out of scope", model.out_of_scope_uses),
            ("human_oversight", "Human oversight", model.human_oversight),
            ("contact", "Contact for users", model.contact),
        ]
    )


@dossier_section(
    "registry.placing", point=1, title="Forms of placing on the market and use", order=30
)
def placing(version, context) -> SectionData:
    deployments = _deployments(context)
    rows = [
        {
            "environment": d.environment.name,
            "state": d.state,
            "deployed_at": d.deployed_at,
            "ended_at": d.ended_at,
        }
        for d in deployments
        if d.model_version_id == version.pk
    ]
    return SectionData(
        tables=[
            Table(
                "environments",
                "Where this version served",
                [
                    ("environment", "Environment"),
                    ("state", "State"),
                    ("deployed_at", "Deployed"),
                    ("ended_at", "Ended"),
                ],
                rows,
            )
        ]
    )


# --- point 2 ---------------------------------------------------------------------------


@dossier_section("registry.development", point=2, title="Methods and design choices", order=10)
def development(version, context) -> SectionData:
    run = version.training_run
    return SectionData(
        facts=[
            ("version_description", "Design of this version", version.description),
            ("code_repository", "Code repository", version.code_repository),
            ("code_commit", "Code commit", version.code_commit),
            (
                "training_job",
                "Training job",
                f"{run.job.namespace.name}:{run.job.name}" if run else None,
            ),
            ("training_run", "Training run", str(run.run_id) if run else None),
            (
                "human_oversight",
                "Human-oversight measures (Art. 14)",
                context.model.human_oversight,
            ),
        ]
    )


@dossier_section(
    "registry.training-data", point=2, title="Training data provenance (lineage)", order=20
)
def training_data(version, context) -> SectionData:
    """Every dataset version upstream of the training run, and the runs between, as the
    lineage graph stood at ``as_of``."""
    dataset_versions = services.training_data(version, as_of=context.as_of)
    if not dataset_versions and version.training_run_id is None:
        return SectionData()
    dataset_versions = context.stood(
        dataset_versions, ("status", "privacy_notes", "consent_notes", "licence_notes")
    )
    runs = services.upstream_runs(version, dataset_versions)
    run_ids = [run.pk for run in runs]
    edges = {}
    for model, verb in ((RunInput, "reads"), (RunOutput, "writes")):
        query = context.until(model.objects.filter(run_id__in=run_ids)).select_related(
            "dataset_version__dataset__namespace"
        )
        for edge in query.order_by("pk"):
            edges.setdefault(edge.run_id, {}).setdefault(verb, []).append(
                _label(edge.dataset_version)
            )
    items = []
    for run in runs:
        when = run.ended_at or run.started_at
        reads = ", ".join(edges.get(run.pk, {}).get("reads", [])) or "nothing recorded"
        writes = ", ".join(edges.get(run.pk, {}).get("writes", [])) or "nothing recorded"
        role = "Training run" if run.pk == version.training_run_id else "Run"
        moment = f", {when:%Y-%m-%d %H:%M} UTC" if when else ""
        items.append(
            f"{role} of {run.job.namespace.name}:{run.job.name} {run.run_id} ({run.state}"
            f"{moment})\n    reads: {reads}\n    writes: {writes}"
        )
    return SectionData(
        text=f"{len(dataset_versions)} dataset version(s) upstream of the training run, "
        "read from lineage (never typed in).",
        tables=[
            Table(
                "dataset_versions",
                "Dataset versions",
                [
                    ("dataset", "Dataset version"),
                    ("content_hash", "Content hash"),
                    ("status", "Status"),
                    ("privacy_notes", "Privacy"),
                    ("consent_notes", "Consent"),
                    ("licence_notes", "Licence"),
                    ("created_at", "Recorded"),
                ],
                [
                    {
                        "dataset": _label(dv),
                        "content_hash": dv.content_hash,
                        "status": dv.status,
                        "privacy_notes": dv.privacy_notes or NOT_RECORDED,
                        "consent_notes": dv.consent_notes or NOT_RECORDED,
                        "licence_notes": dv.licence_notes or NOT_RECORDED,
                        "created_at": dv.created_at,
                    }
                    for dv in dataset_versions
                ],
                widths=(30, 20, 9, 11, 11, 11, 10),
            )
        ],
        items_title="Jobs and runs between the data and the model",
        items=items,
    )


# --- point 3 ---------------------------------------------------------------------------


@dossier_section("registry.capabilities", point=3, title="Capabilities and limitations", order=10)
def capabilities(version, context) -> SectionData:
    model = context.model
    return SectionData(
        facts=[
            ("capabilities", "Capabilities", model.capabilities),
            ("known_limitations", "Known limitations", model.known_limitations),
            ("ethical_considerations", "Ethical considerations", model.ethical_considerations),
        ]
    )


# --- point 6 ---------------------------------------------------------------------------


def _deployments(context):
    def read():
        query = context.until(
            Deployment.objects.filter(model=context.model), "deployed_at"
        ).select_related(
            "environment", "model_version", "deployed_by", "rollback_of__model_version"
        )
        return context.stood(query.order_by("deployed_at", "pk"), ("state", "ended_at"))

    return context.once("registry.deployments", read)


@dossier_section("registry.versions", point=6, title="Versions", order=10)
def versions(version, context) -> SectionData:
    rows = context.stood(
        context.until(ModelVersion.objects.filter(model=context.model)).order_by(
            "created_at", "pk"
        ),
        ("status",),
    )
    return SectionData(
        tables=[
            Table(
                "versions",
                "Versions of the model",
                [
                    ("version", "Version"),
                    ("status", "Status"),
                    ("registered_at", "Registered"),
                    ("artifact_digest", "Artifact digest"),
                    ("code_commit", "Commit"),
                ],
                [
                    {
                        "version": v.version + (" (this one)" if v.pk == version.pk else ""),
                        "status": v.status,
                        "registered_at": v.created_at,
                        "artifact_digest": v.artifact_digest,
                        "code_commit": v.code_commit,
                    }
                    for v in rows
                ],
                widths=(14, 12, 18, 40, 16),
            )
        ]
    )


@dossier_section("registry.deployments", point=6, title="Deployments and rollbacks", order=20)
def deployments(version, context) -> SectionData:
    rows = [
        {
            "version": d.model_version.version,
            "environment": d.environment.name,
            "state": d.state,
            "deployed_at": d.deployed_at,
            "deployed_by": _user(d.deployed_by),
            "ended_at": d.ended_at,
            "rollback_of": (
                f"took down @{d.rollback_of.model_version.version}" if d.rollback_of_id else ""
            ),
            "note": d.note,
        }
        for d in _deployments(context)
    ]
    return SectionData(
        tables=[
            Table(
                "deployments",
                "Deployments of the model",
                [
                    ("version", "Version"),
                    ("environment", "Environment"),
                    ("state", "State"),
                    ("deployed_at", "Deployed"),
                    ("deployed_by", "By"),
                    ("ended_at", "Ended"),
                    ("rollback_of", "Rollback"),
                    ("note", "Note"),
                ],
                rows,
                widths=(8, 12, 11, 15, 10, 15, 12, 17),
            )
        ]
    )


@dossier_section("registry.approvals", point=6, title="Deployment requests and approvals", order=30)
def approvals(version, context) -> SectionData:
    approvals_query = context.until(Approval.objects.select_related("approver")).order_by(
        "created_at", "pk"
    )
    requests = (
        context.until(DeploymentRequest.objects.filter(model_version__model=context.model))
        .select_related("environment", "requested_by", "model_version")
        .prefetch_related(Prefetch("approvals", queryset=approvals_query))
        .order_by("created_at", "pk")
    )
    request_rows, approval_rows = [], []
    for request in requests:
        decided = not context.after(request.decided_at)
        request_rows.append(
            {
                "request": request.pk,
                "version": request.model_version.version,
                "kind": request.kind,
                "environment": request.environment.name,
                "requested_by": _user(request.requested_by),
                "requested_at": request.created_at,
                "status": request.status if decided else RequestStatus.PENDING,
                "decided_at": request.decided_at if decided else None,
            }
        )
        for approval in request.approvals.all():
            lapsed = approval.lapsed_at is not None and not context.after(approval.lapsed_at)
            approval_rows.append(
                {
                    "request": request.pk,
                    "approver": _user(approval.approver),
                    "roles": ", ".join(approval.roles),
                    "verdict": approval.verdict,
                    "comment": approval.comment,
                    "at": approval.created_at,
                    "lapsed": (
                        f"lapsed {approval.lapsed_at:%Y-%m-%d}: {approval.lapse_reason}"
                        if lapsed
                        else ""
                    ),
                }
            )
    return SectionData(
        tables=[
            Table(
                "requests",
                "Deployment requests",
                [
                    ("request", "Request"),
                    ("version", "Version"),
                    ("kind", "Kind"),
                    ("environment", "Environment"),
                    ("requested_by", "Requested by"),
                    ("requested_at", "Asked"),
                    ("status", "Status"),
                    ("decided_at", "Decided"),
                ],
                request_rows,
                widths=(8, 8, 10, 13, 14, 17, 12, 17),
            ),
            Table(
                "approvals",
                "Approvals",
                [
                    ("request", "Request"),
                    ("approver", "Approver"),
                    ("roles", "Roles"),
                    ("verdict", "Verdict"),
                    ("comment", "Comment"),
                    ("at", "At"),
                    ("lapsed", "Lapsed"),
                ],
                approval_rows,
                widths=(8, 12, 12, 9, 28, 16, 15),
            ),
        ]
    )


def audit_trail_events(model: MLModel, as_of=None):
    """The audit trail's events about the model, its versions, deployment requests and
    deployments, recorded by ``as_of`` (all of them without it), in sequence order."""
    ids = {
        MLModel: [model.pk],
        ModelVersion: ModelVersion.objects.filter(model=model).values_list("pk", flat=True),
        DeploymentRequest: DeploymentRequest.objects.filter(model_version__model=model).values_list(
            "pk", flat=True
        ),
        Deployment: Deployment.objects.filter(model=model).values_list("pk", flat=True),
    }
    about = Q()
    for kind, pks in ids.items():
        about |= Q(object_type=kind._meta.label_lower, object_id__in=[str(pk) for pk in pks])
    events = AuditEvent.objects.filter(about)
    if as_of is not None:
        events = events.filter(created_at__lte=as_of)
    return events.order_by("seq")


@dossier_section("registry.audit-trail", point=6, title="The audit trail of this model", order=90)
def audit_trail(version, context) -> SectionData:
    query = audit_trail_events(context.model, context.as_of)
    total = query.count()
    events = list(query.reverse()[:AUDIT_EVENTS_SHOWN])[::-1]
    note = (
        f"The newest {AUDIT_EVENTS_SHOWN} of {total} events; the signed audit-log export "
        "holds them all."
        if total > AUDIT_EVENTS_SHOWN
        else f"{total} event(s); each is a link of the hash-chained audit trail."
    )
    return SectionData(
        tables=[
            Table(
                "events",
                "Audit events",
                [
                    ("seq", "Seq"),
                    ("at", "At"),
                    ("actor", "Actor"),
                    ("action", "Action"),
                    ("object", "Record"),
                    ("hash", "Hash"),
                ],
                [
                    {
                        "seq": event.seq,
                        "at": event.created_at,
                        "actor": event.actor_username,
                        "action": event.action,
                        "object": f"{event.object_type} {event.object_id}",
                        "hash": event.hash[:16],
                    }
                    for event in events
                ],
                note=note,
                widths=(7, 17, 12, 22, 24, 18),
            )
        ]
    )


# --- points 7, 8, 9 ---------------------------------------------------------------------


@dossier_section("registry.standards", point=7, title="Standards and specifications applied")
def standards(version, context) -> SectionData:
    applied = _lines(context.model.standards_applied)
    return SectionData(items=applied)


@dossier_section("registry.conformity", point=8, title="Declaration of conformity")
def conformity(version, context) -> SectionData:
    model = context.model
    return SectionData(
        facts=[
            (
                "conformity_declaration_ref",
                "EU declaration of conformity",
                model.conformity_declaration_ref,
            ),
            ("eu_database_id", "EU database registration id", model.eu_database_id),
        ]
    )


@dossier_section("registry.monitoring-plan", point=9, title="Post-market monitoring plan", order=10)
def monitoring_plan(version, context) -> SectionData:
    return SectionData(text=context.model.post_market_monitoring_plan.strip())
