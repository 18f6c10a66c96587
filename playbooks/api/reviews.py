"""Post-incident reviews, drills and action items, scoped through their incident's
model or their drill's playbook."""

from django.db import transaction
from django.db.models import Prefetch
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.api.base import ScopedModelViewSet
from accounts.permissions import (
    ObjectActionPermission,
    ObjectPermissionFilter,
    TokenScopePermission,
    may,
)
from config.api import FilterBackend
from playbooks.api import serializers as s
from playbooks.models import ActionItem, Drill, Playbook, PostIncidentReview
from playbooks.services import reviews as review_service
from registry.models import MLModel


class ReviewViewSet(ScopedModelViewSet):
    """``/api/reviews/``: post-incident reviews; ``/complete`` makes one final."""

    queryset = PostIncidentReview.objects.select_related(
        "incident__model", "completed_by"
    ).prefetch_related(
        Prefetch("action_items", queryset=ActionItem.objects.select_related("owner", "closed_by"))
    )
    serializer_class = s.ReviewSerializer
    scope_path = "incident__model"
    scope_model = MLModel
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_fields = ["status", "incident"]

    def perform_create(self, serializer):
        self.check_create_scope(serializer)
        serializer.instance = review_service.save_review(
            PostIncidentReview(**serializer.validated_data)
        )

    def perform_update(self, serializer):
        review = serializer.instance
        for name, value in serializer.validated_data.items():
            setattr(review, name, value)
        review_service.save_review(review)

    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        review = review_service.complete_review(self.get_object(), request.user)
        review = self.get_queryset().get(pk=review.pk)
        return Response(self.get_serializer(review).data)


class DrillViewSet(ScopedModelViewSet):
    """``/api/drills/``: rehearsals of a playbook; ``/complete`` turns gaps into action items."""

    queryset = Drill.objects.select_related("playbook", "playbook_version").prefetch_related(
        "participants",
        Prefetch("action_items", queryset=ActionItem.objects.select_related("owner", "closed_by")),
    )
    serializer_class = s.DrillSerializer
    scope_path = "playbook"
    scope_model = Playbook
    filterset_fields = ["status", "playbook"]

    def perform_create(self, serializer):
        self.check_create_scope(serializer)
        data = dict(serializer.validated_data)
        participants = data.pop("participants", None)
        serializer.instance = review_service.save_drill(Drill(**data), participants=participants)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        participants = data.pop("participants", None)
        drill = serializer.instance
        for name, value in data.items():
            setattr(drill, name, value)
        review_service.save_drill(drill, participants=participants)

    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        body = s.CompleteDrillSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        drill = review_service.complete_drill(
            self.get_object(),
            request.user,
            what_went_wrong=body.validated_data["what_went_wrong"],
            gaps=body.validated_data["gaps"],
        )
        drill = self.get_queryset().get(pk=drill.pk)
        return Response(self.get_serializer(drill).data)


# The record whose team decides on an action item: its review's model or its drill's playbook.
ACTION_ITEM_SCOPE = {"review__incident__model": MLModel, "drill__playbook": Playbook}


class ActionItemViewSet(viewsets.ModelViewSet):
    """``/api/action-items/``: follow-ups of reviews and drills; ``/complete`` applies
    the threshold recalibration or risk update it names."""

    queryset = ActionItem.objects.select_related(
        "owner", "closed_by", "review__incident__model", "drill__playbook"
    )
    serializer_class = s.ActionItemSerializer
    permission_classes = [IsAuthenticated, TokenScopePermission, ObjectActionPermission]
    filter_backends = [ObjectPermissionFilter, FilterBackend, SearchFilter, OrderingFilter]
    scope_paths = ACTION_ITEM_SCOPE
    filterset_fields = ["status", "review", "drill", "owner"]
    search_fields = ["title"]
    ordering_fields = ["due_date", "created_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def perform_create(self, serializer):
        data = serializer.validated_data
        scope = (
            data["review"].incident.model
            if data.get("review")
            else data["drill"].playbook
            if data.get("drill")
            else None
        )
        if scope is not None and not may(self.request.user, "change", scope):
            raise PermissionDenied("You may not add action items here.")
        serializer.instance = review_service.save_action_item(ActionItem(**data))

    def perform_update(self, serializer):
        item = serializer.instance
        for name, value in serializer.validated_data.items():
            setattr(item, name, value)
        review_service.save_action_item(item)

    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        item = self.get_object()
        body = s.CompleteActionItemSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        item = review_service.complete_action_item(
            item,
            request.user,
            note=body.validated_data["note"],
            evaluation=body.validated_data.get("evaluation"),
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=item.pk)).data)

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        item = self.get_object()
        body = s.CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            item = review_service.cancel_action_item(
                item, request.user, reason=body.validated_data["reason"]
            )
        return Response(self.get_serializer(item).data)
