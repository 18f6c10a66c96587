from rest_framework import serializers

from accounts.api.fields import TeamField
from config.serializers import FullCleanSerializer
from vocabulary.models import Assignment, Classification, GlossaryTerm, Tag
from vocabulary.targets import target_kinds, target_of_model


class GlossaryTermSerializer(FullCleanSerializer):
    clean_unique = False  # the case-insensitive name: the database constraint says it
    owner_team = TeamField()
    parent = serializers.PrimaryKeyRelatedField(
        queryset=GlossaryTerm.objects.all(), allow_null=True, required=False
    )
    related_terms = serializers.PrimaryKeyRelatedField(
        queryset=GlossaryTerm.objects.all(), many=True, required=False
    )
    synonyms = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    proposed_by = serializers.CharField(
        source="proposed_by.username", read_only=True, default=None, allow_null=True
    )
    approved_by = serializers.CharField(
        source="approved_by.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = GlossaryTerm
        fields = [
            "id",
            "name",
            "definition",
            "parent",
            "synonyms",
            "related_terms",
            "external_reference",
            "owner_team",
            "status",
            "proposed_by",
            "approved_by",
            "approved_at",
            "deprecated_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "approved_at",
            "deprecated_at",
            "created_at",
            "updated_at",
        ]

    def validate_name(self, value):
        clash = GlossaryTerm.objects.filter(name__iexact=value.strip())
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("A glossary term with this name exists.")
        return value.strip()


class TagBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name", "full_name", "description"]


class ClassificationSerializer(FullCleanSerializer):
    tags = TagBriefSerializer(many=True, read_only=True)

    class Meta:
        model = Classification
        fields = [
            "id",
            "name",
            "description",
            "mutually_exclusive",
            "tags",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class TagSerializer(FullCleanSerializer):
    classification = serializers.SlugRelatedField(
        slug_field="name", queryset=Classification.objects.all()
    )
    full_name = serializers.CharField(read_only=True)

    class Meta:
        model = Tag
        fields = [
            "id",
            "classification",
            "name",
            "full_name",
            "description",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class AssignmentSerializer(serializers.ModelSerializer):
    """A term or a tag on one record (``field``: one of its columns)."""

    target_type = serializers.SerializerMethodField()
    target_id = serializers.IntegerField(source="object_id", read_only=True)
    tag = serializers.CharField(
        source="tag.full_name", read_only=True, default=None, allow_null=True
    )
    term = serializers.CharField(source="term.name", read_only=True, default=None, allow_null=True)
    classification = serializers.CharField(
        source="tag.classification.name", read_only=True, default=None, allow_null=True
    )
    assigned_by = serializers.CharField(
        source="assigned_by.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Assignment
        fields = [
            "id",
            "target_type",
            "target_id",
            "field",
            "tag",
            "term",
            "classification",
            "source",
            "assigned_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_target_type(self, assignment) -> str | None:
        spec = target_of_model(assignment.content_type.model_class())
        return spec.kind if spec else None


class AssignmentCreateSerializer(serializers.Serializer):
    target_type = serializers.ChoiceField(choices=[])
    target_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    field = serializers.CharField(max_length=1024, required=False, allow_blank=True, default="")
    tag = serializers.CharField(required=False, help_text="Classification.Tag, e.g. PII.Sensitive")
    term = serializers.CharField(required=False, help_text="A glossary term's name")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target_type"].choices = target_kinds()

    def validate(self, attrs):
        if ("tag" in attrs) == ("term" in attrs):
            raise serializers.ValidationError({"tag": "Give either a tag or a term."})
        return attrs


class SearchHitSerializer(serializers.Serializer):
    target_type = serializers.CharField()
    target_id = serializers.IntegerField()
    title = serializers.CharField()
    fields = serializers.ListField(
        child=serializers.CharField(), help_text="The labelled columns ('' for the record itself)."
    )
    labels = serializers.ListField(child=serializers.CharField())
