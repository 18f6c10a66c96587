"""The shared vocabulary: glossary terms, classifications with their tags, and the
assignments that attach a term or a tag to any record of the apps above.

A record is named by its content type and id (Django's generic relations), so every
app may tag its records without this app knowing them; a dataset's schema column is
the dataset plus the column's name (``field``). A classification may be mutually
exclusive: a record (or column) carries at most one of its tags, which a partial
unique index over the assignment's denormalised ``classification`` guards.
"""

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from vocabulary.choices import TermStatus

NAME_PART = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
    "Use letters, digits, '-' and '_' (no dots or spaces): the full name is Classification.Tag.",
)


class GlossaryTerm(models.Model):
    """A word the engineering, product and ethics teams agree on, with what it means.

    A term is proposed as a draft by its owning team, approved by someone who holds
    the approve right on it (``vocabulary.permissions``), and deprecated when it is no
    longer to be used; only approved terms are assigned by non-admins, deprecated
    ones by nobody."""

    name = models.CharField(max_length=200)
    definition = models.TextField()
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    synonyms = models.JSONField(
        default=list, blank=True, help_text='Other names of this term, e.g. ["PII"].'
    )
    related_terms = models.ManyToManyField("self", blank=True, symmetrical=True)
    external_reference = models.URLField(max_length=500, blank=True)
    owner_team = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="glossary_terms")
    status = models.CharField(max_length=16, choices=TermStatus.choices, default=TermStatus.DRAFT)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="proposed_terms",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approved_terms",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    deprecated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("approve_glossaryterm", "Approve or deprecate a glossary term")]
        constraints = [
            models.UniqueConstraint(
                models.functions.Lower("name"),
                name="%(app_label)s_%(class)s_unique_name",
                violation_error_message="A glossary term with this name exists.",
            ),
            models.CheckConstraint(
                condition=~Q(status=TermStatus.APPROVED) | Q(approved_at__isnull=False),
                name="%(app_label)s_%(class)s_approved_has_time",
                violation_error_message="An approved term records when it was approved.",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        if not isinstance(self.synonyms, list) or not all(
            isinstance(s, str) and s.strip() for s in self.synonyms
        ):
            raise ValidationError({"synonyms": "Give synonyms as a list of non-empty names."})
        self.synonyms = sorted({s.strip() for s in self.synonyms})
        parent = self.parent
        seen = {self.pk} if self.pk else set()
        while parent is not None:
            if parent.pk in seen:
                raise ValidationError({"parent": "A term cannot be its own ancestor."})
            seen.add(parent.pk)
            parent = parent.parent


class Classification(models.Model):
    """A family of tags (personal data, risk tier, licence class...). A mutually
    exclusive one allows at most one of its tags per record or column."""

    name = models.CharField(max_length=100, unique=True, validators=[NAME_PART])
    description = models.TextField(blank=True)
    mutually_exclusive = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        if self.pk and self.mutually_exclusive:
            doubled = (
                Assignment.objects.filter(tag__classification=self)
                .values("content_type", "object_id", "field")
                .annotate(n=models.Count("pk"))
                .filter(n__gt=1)
            )
            if doubled.exists():
                raise ValidationError(
                    {
                        "mutually_exclusive": "Some records carry several of its tags; "
                        "remove all but one first."
                    }
                )


class Tag(models.Model):
    """One value of a classification, named ``Classification.Tag`` (``PII.Sensitive``)."""

    classification = models.ForeignKey(
        Classification, on_delete=models.PROTECT, related_name="tags"
    )
    name = models.CharField(max_length=100, validators=[NAME_PART])
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["classification__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["classification", "name"],
                name="%(app_label)s_%(class)s_unique_name",
                violation_error_message="This classification already has a tag of this name.",
            )
        ]

    def __str__(self):
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.classification.name}.{self.name}"


class Assignment(models.Model):
    """A term or a tag attached to one record (or to one column of a dataset).

    Written only by ``vocabulary.services`` (audited there). ``classification`` and
    ``exclusive`` copy the tag's, so the database refuses a second tag of a mutually
    exclusive classification on the same record and column."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    field = models.CharField(
        max_length=1024, blank=True, help_text="A dataset's column; empty: the record itself."
    )
    term = models.ForeignKey(
        GlossaryTerm, on_delete=models.PROTECT, null=True, blank=True, related_name="assignments"
    )
    tag = models.ForeignKey(
        Tag, on_delete=models.PROTECT, null=True, blank=True, related_name="assignments"
    )
    classification = models.ForeignKey(
        Classification, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    exclusive = models.BooleanField(default=False, editable=False)
    source = models.CharField(
        max_length=200, blank=True, help_text="Who said so: api, admin, openlineage, marquez..."
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="vocabulary_assignment_target"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(term__isnull=False) & Q(tag__isnull=True))
                | (Q(term__isnull=True) & Q(tag__isnull=False)),
                name="%(app_label)s_%(class)s_term_or_tag",
                violation_error_message="An assignment attaches either a term or a tag.",
            ),
            models.UniqueConstraint(
                fields=["content_type", "object_id", "field", "tag"],
                condition=Q(tag__isnull=False),
                name="%(app_label)s_%(class)s_unique_tag",
                violation_error_message="This record already carries this tag.",
            ),
            models.UniqueConstraint(
                fields=["content_type", "object_id", "field", "term"],
                condition=Q(term__isnull=False),
                name="%(app_label)s_%(class)s_unique_term",
                violation_error_message="This record already carries this term.",
            ),
            models.UniqueConstraint(
                fields=["content_type", "object_id", "field", "classification"],
                condition=Q(exclusive=True),
                name="%(app_label)s_%(class)s_exclusive_classification",
                violation_error_message="This record already carries a tag of this mutually "
                "exclusive classification.",
            ),
        ]

    def __str__(self):
        what = self.tag or self.term
        where = f".{self.field}" if self.field else ""
        return f"{what} on {self.content_type.model} #{self.object_id}{where}"

    def save(self, *args, **kwargs):
        if self.tag_id is not None:
            classification = self.tag.classification
            self.classification_id = classification.pk
            self.exclusive = classification.mutually_exclusive
        super().save(*args, **kwargs)

    @property
    def label(self) -> str:
        return self.tag.full_name if self.tag_id else self.term.name

    def clean(self):
        if (self.term_id is None) == (self.tag_id is None):
            raise ValidationError("An assignment attaches either a term or a tag.")
        if self.tag_id is not None and self.tag.classification.mutually_exclusive:
            others = Assignment.objects.filter(
                content_type_id=self.content_type_id,
                object_id=self.object_id,
                field=self.field,
                tag__classification=self.tag.classification,
            ).exclude(pk=self.pk)
            other = others.exclude(tag=self.tag).select_related("tag__classification").first()
            if other is not None:
                raise ValidationError(
                    {
                        "tag": f"{self.tag.classification.name} is mutually exclusive and this "
                        f"record already carries {other.tag.full_name}; remove it first."
                    }
                )
