"""The verbs of the shared vocabulary: propose, approve and deprecate terms; assign and
remove terms and tags. Each writes its audit event in the caller's transaction."""

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.permissions import grant_team_access, may, may_create_in_team
from accounts.roles import Role, has_role
from audit.services import record, record_decision
from config.errors import Conflict, Refused
from vocabulary.choices import TermStatus
from vocabulary.models import Assignment, Classification, GlossaryTerm, Tag
from vocabulary.targets import target_of_model

LINEAGE_CLASSIFICATION = "Lineage"


# --- glossary terms --------------------------------------------------------------------


def propose_term(user, *, related_terms=(), **fields) -> GlossaryTerm:
    """A new draft term of ``owner_team``; its team may edit it until it is approved."""
    team = fields["owner_team"]
    if not may_create_in_team(user, team):
        raise Refused(f"You are not a member of team {team.name!r}.", field="owner_team")
    with transaction.atomic():
        term = GlossaryTerm(proposed_by=user, status=TermStatus.DRAFT, **fields)
        term.full_clean()
        term.save()
        term.related_terms.set(related_terms)
        grant_team_access(term, team)
    return term


def _move(term: GlossaryTerm, user, *, to: str, allowed_from: tuple[str, ...], **values):
    if not may(user, "approve", term):
        who = "who proposed it" if term.proposed_by_id == user.pk else "without the approve right"
        raise Refused(f"You may not {to[:-1]} {term.name!r} {who}.")
    with transaction.atomic():
        changed = GlossaryTerm.objects.filter(pk=term.pk, status__in=allowed_from).update(
            status=to, updated_at=timezone.now(), **values
        )
        if changed != 1:
            current = GlossaryTerm.objects.filter(pk=term.pk).values_list("status", flat=True)
            raise Conflict(f"{term.name!r} is {current.first()}; it cannot become {to}.")
        previous = term.status
        term.refresh_from_db()
        record_decision(f"vocabulary.term.{to}", term, previous=previous, status=to)
    return term


def approve_term(term: GlossaryTerm, user) -> GlossaryTerm:
    """Approve a draft term for use (conditional update: two approvers never both win)."""
    return _move(
        term,
        user,
        to=TermStatus.APPROVED,
        allowed_from=(TermStatus.DRAFT,),
        approved_by=user,
        approved_at=timezone.now(),
    )


def deprecate_term(term: GlossaryTerm, user) -> GlossaryTerm:
    """Retire a term: it stays on the records that carry it, and is assigned no more."""
    return _move(
        term,
        user,
        to=TermStatus.DEPRECATED,
        allowed_from=(TermStatus.DRAFT, TermStatus.APPROVED),
        deprecated_at=timezone.now(),
    )


# --- tags by name ----------------------------------------------------------------------


def tag_named(full_name: str) -> Tag | None:
    """The tag ``Classification.Tag`` (case-insensitive), or None."""
    classification, dot, name = str(full_name).strip().partition(".")
    if not dot:
        return None
    return (
        Tag.objects.select_related("classification")
        .filter(classification__name__iexact=classification, name__iexact=name)
        .first()
    )


def lineage_tag(name: str, description: str | None = None) -> Tag:
    """The vocabulary tag a lineage tag name (Marquez, OpenLineage facets) stands for: the
    classified tag of that full name (``PII.Sensitive``), else the tag of that name in the
    ``Lineage`` classification (created when new)."""
    found = tag_named(name)
    if found is not None:
        return found
    classification, _ = Classification.objects.get_or_create(
        name=LINEAGE_CLASSIFICATION,
        defaults={"description": "Tags that arrived from OpenLineage or Marquez unclassified."},
    )
    tag, created = Tag.objects.get_or_create(
        classification=classification,
        name=str(name).strip()[:100],
        defaults={"description": description or ""},
    )
    if not created and description is not None and tag.description != description:
        tag.description = description
        tag.save(update_fields=["description", "updated_at"])
    return tag


# --- assignments -----------------------------------------------------------------------


def _check_field(obj, field: str, spec) -> None:
    if not field:
        return
    if not spec.fields:
        raise ValidationError({"field": f"A {spec.kind} has no columns to label."})
    columns = {
        f.get("name")
        for f in ((getattr(obj, "facets", None) or {}).get("schema") or {}).get("fields") or []
    }
    if field not in columns:
        raise ValidationError({"field": f"{obj} has no column {field!r}."})


def _event_of(assignment: Assignment) -> dict:
    what = (
        {"tag": assignment.tag.full_name} if assignment.tag_id else {"term": assignment.term.name}
    )
    if assignment.field:
        what["field"] = assignment.field
    if assignment.source:
        what["source"] = assignment.source
    return what


def assign(
    user,
    obj,
    *,
    term: GlossaryTerm | None = None,
    tag: Tag | None = None,
    field: str = "",
    source: str = "api",
    authorised: bool = False,
    exists_ok: bool = False,
    replace_exclusive: bool = False,
) -> Assignment:
    """Attach ``term`` or ``tag`` to ``obj`` (a column of it with ``field``); audited on
    the record. Non-admins assign approved terms only; deprecated ones nobody.

    ``authorised``: the caller already checked the right (lineage intake, whose own
    permission covers labelling the datasets it writes). ``exists_ok``: an assignment
    already there is returned (else a 409). ``replace_exclusive``: a tag of the same
    mutually exclusive classification is removed first (the newest statement of a
    pipeline wins), else the second tag is refused."""
    spec = target_of_model(type(obj))
    if spec is None:
        raise ValidationError({"target_type": f"A {obj._meta.verbose_name} cannot be labelled."})
    if not authorised and not spec.may_label_record(user, obj):
        raise Refused(f"You may not label {spec.describe(obj)}.")
    if (term is None) == (tag is None):
        raise ValidationError({"tag": "Give either a term or a tag."})
    if term is not None:
        if term.status == TermStatus.DEPRECATED:
            raise ValidationError({"term": f"{term.name!r} is deprecated; it is assigned no more."})
        admin = user is not None and (user.is_superuser or has_role(user, Role.ADMIN))
        if term.status != TermStatus.APPROVED and not admin:
            raise ValidationError(
                {
                    "term": f"{term.name!r} is a draft; only approved terms "
                    "are assigned (admins may assign drafts)."
                }
            )
    if field and not spec.fields:
        raise ValidationError({"field": f"A {spec.kind} has no columns to label."})
    if not authorised:
        _check_field(obj, field, spec)
    content_type = ContentType.objects.get_for_model(obj)
    same = Assignment.objects.filter(
        content_type=content_type, object_id=obj.pk, field=field, term=term, tag=tag
    )
    with transaction.atomic():
        existing = same.select_related("tag__classification", "term").first()
        if existing is not None:
            if exists_ok:
                return existing
            raise Conflict(f"{spec.describe(obj)} already carries {existing.label}.", field="tag")
        if replace_exclusive and tag is not None and tag.classification.mutually_exclusive:
            others = Assignment.objects.filter(
                content_type=content_type,
                object_id=obj.pk,
                field=field,
                tag__classification=tag.classification,
            ).select_related("tag__classification")
            for other in others:
                remove(user, other, authorised=True, obj=obj)
        assignment = Assignment(
            content_type=content_type,
            object_id=obj.pk,
            field=field,
            term=term,
            tag=tag,
            source=source,
            assigned_by=user if getattr(user, "is_authenticated", False) else None,
        )
        assignment.full_clean(exclude=["classification"], validate_unique=False)
        try:
            with transaction.atomic():
                assignment.save()
        except IntegrityError:
            # Another writer labelled the record in the meantime.
            raise Conflict(f"{spec.describe(obj)} was just labelled by someone else; look again.")
        record("vocabulary.assign", obj=obj, after=_event_of(assignment))
    return assignment


def remove(user, assignment: Assignment, *, authorised: bool = False, obj=None) -> None:
    """Take a term or tag off its record; audited on the record."""
    obj = obj if obj is not None else assignment.target
    spec = target_of_model(type(obj))
    if not authorised and (spec is None or not spec.may_label_record(user, obj)):
        raise Refused(f"You may not change the labels of {obj}.")
    with transaction.atomic():
        before = _event_of(assignment)
        Assignment.objects.filter(pk=assignment.pk).delete()
        record("vocabulary.remove", obj=obj, before=before)


def assignments_of(obj, field: str | None = None):
    """The assignments on ``obj`` (and its columns), with their tags and terms."""
    rows = Assignment.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
    ).select_related("tag__classification", "term")
    if field is not None:
        rows = rows.filter(field=field)
    return rows.order_by("field", "pk")


def labelled(model, *, tag: Tag | None = None, term: GlossaryTerm | None = None, fields=True):
    """Ids of ``model``'s records carrying ``tag`` or ``term`` (on a column too, with
    ``fields``): a subquery."""
    rows = Assignment.objects.filter(content_type=ContentType.objects.get_for_model(model))
    if tag is not None:
        rows = rows.filter(tag=tag)
    if term is not None:
        rows = rows.filter(term=term)
    if not fields:
        rows = rows.filter(field="")
    return rows.values("object_id")


def term_matching(text: str):
    """Terms named ``text`` or carrying it as a synonym (case-insensitive)."""
    text = str(text).strip()
    by_name = Q(name__iexact=text)
    matches = [
        t.pk for t in GlossaryTerm.objects.all() if text.lower() in (s.lower() for s in t.synonyms)
    ]
    return GlossaryTerm.objects.filter(by_name | Q(pk__in=matches))
