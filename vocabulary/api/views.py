"""The shared vocabulary's API: glossary terms (approve, deprecate), classifications and
tags (admins write), assignments of terms and tags to records, and the search across
every labelled record. Terms, classifications and tags are shared: everyone signed in
reads them. Assignments and search hits are scoped through the labelled record
(``vocabulary.targets.scope_targets``): nobody learns of a record they may not see."""

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Prefetch, Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.permissions import (
    ActionPermission,
    ObjectActionPermission,
    TokenScopePermission,
    has_role,
)
from accounts.roles import Role
from config.api import FilterBackend, Pagination
from config.errors import BadParameter, Conflict
from vocabulary import services
from vocabulary.api.serializers import (
    AssignmentCreateSerializer,
    AssignmentSerializer,
    ClassificationSerializer,
    GlossaryTermSerializer,
    SearchHitSerializer,
    TagSerializer,
)
from vocabulary.choices import TermStatus
from vocabulary.filtersets import (
    AssignmentFilter,
    ClassificationFilter,
    GlossaryTermFilter,
    TagFilter,
)
from vocabulary.models import Assignment, Classification, GlossaryTerm, Tag
from vocabulary.targets import registered_targets, scope_targets, target


def _admin(user) -> bool:
    return user.is_superuser or has_role(user, Role.ADMIN)


class GlossaryTermViewSet(viewsets.ModelViewSet):
    """Glossary terms. Members of a team propose drafts for it and edit them; the board,
    the team's approvers (never the proposer) and admins approve and deprecate."""

    queryset = (
        GlossaryTerm.objects.select_related("owner_team", "proposed_by", "approved_by")
        .prefetch_related(Prefetch("related_terms", queryset=GlossaryTerm.objects.only("pk")))
        .order_by("name")
    )
    serializer_class = GlossaryTermSerializer
    permission_classes = [IsAuthenticated, TokenScopePermission, ObjectActionPermission]
    filter_backends = [FilterBackend, OrderingFilter]
    filterset_class = GlossaryTermFilter
    ordering_fields = ["name", "created_at", "status"]

    def perform_create(self, serializer):
        serializer.instance = services.propose_term(self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        term = serializer.instance
        if term.status != TermStatus.DRAFT and not _admin(self.request.user):
            raise Conflict(f"{term.name!r} is {term.status}; only drafts are edited.")
        with transaction.atomic():
            serializer.save()

    def perform_destroy(self, instance):
        if instance.status != TermStatus.DRAFT and not _admin(self.request.user):
            raise Conflict(f"{instance.name!r} is {instance.status}; deprecate it instead.")
        with transaction.atomic():
            instance.delete()

    def _answer(self, term):
        return Response(self.get_serializer(self.get_queryset().get(pk=term.pk)).data)

    @extend_schema(request=None, responses=GlossaryTermSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve a draft (board, the owning team's approvers, admins; not its proposer)."""
        return self._answer(services.approve_term(self.get_object(), request.user))

    @extend_schema(request=None, responses=GlossaryTermSerializer)
    @action(detail=True, methods=["post"])
    def deprecate(self, request, pk=None):
        """Retire a term: records keep it, nobody assigns it any more."""
        return self._answer(services.deprecate_term(self.get_object(), request.user))

    def get_permissions(self):
        if self.action in ("approve", "deprecate"):
            return [IsAuthenticated(), TokenScopePermission()]
        return super().get_permissions()


class ClassificationViewSet(viewsets.ModelViewSet):
    """Classifications and their tags; admins write them."""

    queryset = Classification.objects.prefetch_related(
        Prefetch("tags", queryset=Tag.objects.select_related("classification").order_by("name"))
    ).order_by("name")
    serializer_class = ClassificationSerializer
    permission_classes = [IsAuthenticated, TokenScopePermission, ActionPermission]
    write_permission = ("change", "vocabulary.classification")
    permission_denied_message = "Only admins change classifications."
    filter_backends = [FilterBackend]
    filterset_class = ClassificationFilter

    def perform_update(self, serializer):
        with transaction.atomic():
            classification = serializer.save()
            Assignment.objects.filter(tag__classification=classification).update(
                exclusive=classification.mutually_exclusive
            )


class TagViewSet(viewsets.ModelViewSet):
    """Tags (``Classification.Tag``); admins write them."""

    queryset = Tag.objects.select_related("classification").order_by("classification__name", "name")
    serializer_class = TagSerializer
    permission_classes = [IsAuthenticated, TokenScopePermission, ActionPermission]
    write_permission = ("change", "vocabulary.tag")
    permission_denied_message = "Only admins change tags."
    filter_backends = [FilterBackend]
    filterset_class = TagFilter


def _target_record(user, kind: str, pk: int):
    """The record ``user`` may see, or a 400 naming ``target_id`` (no oracle of others')."""
    spec = target(kind)
    record = spec.scoped(user).filter(pk=pk).first()
    if record is None:
        raise BadParameter(f"No {kind} #{pk} you may see.", field="target_id")
    return record


class AssignmentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Terms and tags on records (``field``: a dataset's column). Listed only on records
    the caller may see; whoever may change a record labels it."""

    queryset = Assignment.objects.select_related(
        "content_type", "tag__classification", "term", "assigned_by"
    ).order_by("-created_at", "-pk")
    serializer_class = AssignmentSerializer
    permission_classes = [IsAuthenticated, TokenScopePermission]
    filter_backends = [FilterBackend]
    filterset_class = AssignmentFilter

    def get_queryset(self):
        return scope_targets(super().get_queryset(), self.request.user)

    @extend_schema(request=AssignmentCreateSerializer, responses={201: AssignmentSerializer})
    def create(self, request, *args, **kwargs):
        body = AssignmentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        record = _target_record(request.user, data["target_type"], data["target_id"])
        labels = {}
        if "tag" in data:
            labels["tag"] = services.tag_named(data["tag"])
            if labels["tag"] is None:
                raise BadParameter(f"No tag named {data['tag']!r} (Classification.Tag).", "tag")
        else:
            labels["term"] = GlossaryTerm.objects.filter(name__iexact=data["term"].strip()).first()
            if labels["term"] is None:
                raise BadParameter(f"No glossary term named {data['term']!r}.", "term")
        with transaction.atomic():
            assignment = services.assign(request.user, record, field=data["field"], **labels)
        answer = AssignmentSerializer(self.get_queryset().get(pk=assignment.pk))
        return Response(answer.data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.remove(self.request.user, instance)


class SearchView(GenericAPIView):
    """Every record carrying a term (by name or synonym) or a tag, that the caller may see."""

    queryset = Assignment.objects.none()  # the hits are built per kind of record in get()
    permission_classes = [IsAuthenticated, TokenScopePermission]
    serializer_class = SearchHitSerializer
    pagination_class = Pagination
    filter_backends = []

    @extend_schema(
        parameters=[
            OpenApiParameter("term", str, description="A glossary term's name or synonym"),
            OpenApiParameter("tag", str, description="Classification.Tag, e.g. PII.Sensitive"),
            OpenApiParameter("target_type", str, description="Only records of this kind"),
        ],
        responses=SearchHitSerializer(many=True),
    )
    def get(self, request):
        term_text = request.query_params.get("term", "").strip()
        tag_text = request.query_params.get("tag", "").strip()
        kind = request.query_params.get("target_type", "").strip()
        if not (term_text or tag_text):
            raise BadParameter("Give term= or tag= (or both).", field="term")
        if kind and target(kind) is None:
            raise BadParameter(f"Unknown kind {kind!r}.", field="target_type")
        conditions = []
        if tag_text:
            tag = services.tag_named(tag_text)
            if tag is None:
                raise BadParameter(f"No tag named {tag_text!r} (Classification.Tag).", "tag")
            conditions.append(Q(tag=tag))
        if term_text:
            conditions.append(Q(term__in=services.term_matching(term_text)))
        hits = []
        for spec in registered_targets():
            if kind and spec.kind != kind:
                continue
            content_type = ContentType.objects.get_for_model(spec.model)
            on_kind = Assignment.objects.filter(content_type=content_type)
            records = spec.model._default_manager.all()
            for condition in conditions:  # a record carrying each of them
                records = records.filter(pk__in=on_kind.filter(condition).values("object_id"))
            records = spec.scoped(request.user, records)
            if spec.related:
                records = records.select_related(*spec.related)
            found = {record.pk: record for record in records.order_by("pk")}
            if not found:
                continue
            either = conditions[0] if len(conditions) == 1 else conditions[0] | conditions[1]
            matched = set(
                on_kind.filter(either, object_id__in=list(found)).values_list("object_id", "field")
            )
            labels: dict[int, set] = {}
            on_records = Assignment.objects.filter(
                content_type=content_type, object_id__in=list(found)
            ).select_related("tag__classification", "term")
            for assignment in on_records:
                labels.setdefault(assignment.object_id, set()).add(assignment.label)
            for pk, record in found.items():
                hits.append(
                    {
                        "target_type": spec.kind,
                        "target_id": pk,
                        "title": spec.describe(record),
                        "fields": sorted(f for p, f in matched if p == pk),
                        "labels": sorted(labels.get(pk, ())),
                    }
                )
        page = self.paginate_queryset(hits)
        return self.get_paginated_response(SearchHitSerializer(page, many=True).data)
