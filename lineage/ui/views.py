"""The lineage picture: an interactive graph upstream or downstream of a node, its
JSON, and the dataset version page with its impact and the quarantine/revoke form.

Lineage is read by anyone signed in (as the API's lineage reads are); the model
versions drawn in the graph and counted in an impact come from the registry's
registered providers, scoped to the user. Changing a version's status goes through
``lineage.services.change_dataset_version`` (locked, audited, signalled), which asks
the ml-engineer or admin role.
"""

from datetime import UTC

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import may_any
from config.errors import BadParameter
from lineage import graph
from lineage.choices import VersionStatus
from lineage.models import DatasetVersion, RunInput
from lineage.queue import caught_up
from lineage.services import NOTE_FIELDS, change_dataset_version
from lineage.ui.graphdata import DIRECTIONS, FLAGGED, GraphQuery, build
from lineage.ui.impact import impact_of

DEPTHS = (1, 2, 3, 5, 10, 20, 50)
CONSUMERS_SHOWN = 20
FLAGGED_SHOWN = 20


def _as_of(raw: str):
    if not raw:
        return None
    moment = parse_datetime(raw.replace(" ", "+"))
    if moment is None and parse_date(raw):
        moment = parse_datetime(raw + "T00:00:00")
    if moment is None:
        raise BadParameter("must be a date-time, e.g. 2026-01-31T12:00", field="asOf")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _depth(raw: str) -> int:
    if not raw:
        return graph.DEFAULT_DEPTH
    if not raw.isdigit() or not 1 <= int(raw) <= graph.MAX_DEPTH:
        raise BadParameter(f"must be a whole number from 1 to {graph.MAX_DEPTH}", field="depth")
    return int(raw)


def graph_query(params) -> GraphQuery:
    """The query named by ``nodeId``, ``direction``, ``depth`` and ``asOf``."""
    node_id = params.get("nodeId", "").strip()
    if not node_id:
        raise BadParameter(
            "is required (datasetVersion:NS:NAME:V, dataset:..., job:..., run:UUID)", field="nodeId"
        )
    direction = params.get("direction") or "upstream"
    if direction not in DIRECTIONS:
        raise BadParameter("must be upstream or downstream", field="direction")
    return GraphQuery(
        node_id=node_id,
        direction=direction,
        depth=_depth(params.get("depth", "")),
        as_of=_as_of(params.get("asOf", "").strip()),
    )


@require_GET
@login_required
@caught_up
def picture(request):
    """The graph page: a form (node, direction, depth, as of) and the canvas, which
    ``lineage/ui/graph.js`` fills from ``graph.json`` with the same query."""
    error = None
    query = None
    if request.GET.get("nodeId"):
        try:
            query = graph_query(request.GET)
            graph_kind = query.node_id.partition(":")[0]
        except BadParameter as exc:
            error = f"{exc.field}: {exc.message}"
    flagged = list(
        DatasetVersion.objects.filter(status__in=FLAGGED)
        .select_related("dataset__namespace")
        .order_by("-updated_at", "-pk")[:FLAGGED_SHOWN]
    )
    context = {
        "query": query,
        "error": error,
        "depths": DEPTHS,
        "directions": DIRECTIONS,
        "flagged": [{"version": v, "node_id": graph.version_node_id(v)} for v in flagged],
        "node_id": request.GET.get("nodeId", ""),
        "model_label": request.GET.get("model", ""),
    }
    if query is not None:
        context["graph_url"] = (
            reverse("ui-lineage-graph-json")
            + "?"
            + urlencode(
                {
                    "nodeId": query.node_id,
                    "direction": query.direction,
                    "depth": query.depth,
                    **({"asOf": query.as_of.isoformat()} if query.as_of else {}),
                }
            )
        )
        context["as_of_value"] = (
            timezone.localtime(query.as_of, UTC).strftime("%Y-%m-%dT%H:%M") if query.as_of else ""
        )
        context["graph_kind"] = graph_kind
    return render(request, "lineage/ui/picture.html", context)


@require_GET
@login_required
@caught_up
def graph_json(request):
    """The picture's elements; 400 naming the parameter, 404 for an unknown node."""
    try:
        query = graph_query(request.GET)
        return JsonResponse(build(query, request.user))
    except BadParameter as exc:
        return JsonResponse({"detail": exc.message, "field": exc.field}, status=400)
    except graph.NodeNotFound as exc:
        return JsonResponse({"detail": exc.message, "field": "nodeId"}, status=404)


def _version(pk) -> DatasetVersion:
    version = (
        DatasetVersion.objects.select_related("dataset__namespace", "producing_run__job__namespace")
        .filter(pk=pk)
        .first()
    )
    if version is None:
        raise Http404("No dataset version with this id.")
    return version


@require_GET
@login_required
@caught_up
def version_detail(request, pk):
    """One dataset version: identity, hash, status and notes, who wrote and read it,
    what depends on it, and the status form for those who may change it."""
    version = _version(pk)
    node_id = graph.version_node_id(version)
    readers = list(
        RunInput.objects.filter(dataset_version=version)
        .select_related("run__job__namespace")
        .order_by("-created_at", "-pk")[: CONSUMERS_SHOWN + 1]
    )
    impact = impact_of(version, request.user)
    verb = {
        VersionStatus.ACTIVE: "Revoking or quarantining this affects",
        VersionStatus.QUARANTINED: "Quarantined: this holds back",
        VersionStatus.REVOKED: "Revoked: this holds back",
    }[version.status]
    return render(
        request,
        "lineage/ui/version_detail.html",
        {
            "version": version,
            "node_id": node_id,
            "readers": readers[:CONSUMERS_SHOWN],
            "more_readers": len(readers) > CONSUMERS_SHOWN,
            "impact": impact,
            "impact_summary": impact.summary(verb) if impact is not None else "",
            "upstream_url": reverse("ui-lineage") + "?" + urlencode({"nodeId": node_id}),
            "downstream_url": reverse("ui-lineage")
            + "?"
            + urlencode({"nodeId": node_id, "direction": "downstream"}),
            "may_change": may_any(request.user, "change", DatasetVersion),
            "statuses": VersionStatus.choices,
            "note_fields": [
                (name, DatasetVersion._meta.get_field(name).verbose_name) for name in NOTE_FIELDS
            ],
        },
    )


@require_POST
@login_required
@caught_up
def change_status(request, pk):
    """Quarantine, revoke or reactivate a dataset version, with the reason written
    into the note it concerns (privacy, consent or licence)."""
    version = _version(pk)
    status = request.POST.get("status", "")
    reason = request.POST.get("reason", "").strip()
    note_field = request.POST.get("note_field", "privacy_notes")
    back = redirect("ui-lineage-version", pk=pk)
    if status not in VersionStatus.values:
        messages.error(request, f"Status: choose one of {', '.join(VersionStatus.values)}.")
        return back
    if note_field not in NOTE_FIELDS:
        messages.error(request, "Note: choose privacy, consent or licence notes.")
        return back
    if status != VersionStatus.ACTIVE and not reason:
        messages.error(request, "Reason: say why this version is quarantined or revoked.")
        return back
    notes = {}
    if reason:
        stamp = f"{timezone.now():%Y-%m-%d} {request.user.get_username()}, {status}: {reason}"
        current = getattr(version, note_field)
        notes[note_field] = f"{current}\n{stamp}" if current else stamp
    try:
        change_dataset_version(version, actor=request.user, status=status, **notes)
    except PermissionDenied as exc:
        messages.error(request, str(exc) or "You may not change dataset versions.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{version.dataset.name}@{version.version} is now {status}.")
    return back
