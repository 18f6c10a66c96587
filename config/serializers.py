"""The one serializer base of the API: validation is the model's ``clean()``.

A serializer translates names into records; the rules live in the model, and this
base runs ``full_clean()`` on the record as it would be saved, so the admin, the
API and the services agree by construction (NetBox's ``ValidatedModelSerializer``).
"""

import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from config.api import as_drf_error


class FullCleanSerializer(serializers.ModelSerializer):
    """Runs the model's ``full_clean`` on the record as it would be saved: the
    instance being changed with the new values set, or a new one. Only the model's
    own (concrete) fields are set; many-to-many and write-only extras are the
    view's or the service's to apply.

    ``clean_exclude`` names fields ``full_clean`` leaves out (filled in later, by the
    view or the service); ``clean_unique = False`` leaves uniqueness to the database
    constraint or to DRF's own validators; ``build`` may be overridden to set what
    the context supplies (the parent record, the requesting user)."""

    clean_exclude: tuple[str, ...] = ()
    clean_unique: bool = True

    def build(self, attrs):
        model = self.Meta.model
        concrete = {field.name for field in model._meta.concrete_fields}
        plain = {name: value for name, value in attrs.items() if name in concrete}
        if self.instance is None:
            return model(**plain)
        instance = copy.copy(self.instance)
        for name, value in plain.items():
            setattr(instance, name, value)
        return instance

    def validate(self, attrs):
        attrs = super().validate(attrs)
        try:
            self.build(attrs).full_clean(
                exclude=list(self.clean_exclude) or None, validate_unique=self.clean_unique
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc)
        return attrs


# Fields that hold other fields (a nested serializer, a list's child, a many-relation's
# child relation): copied deeply, as DRF copies declared fields, so no child is shared.
_COMPOSITE_FIELDS = (
    serializers.BaseSerializer,
    serializers.ListField,
    serializers.DictField,
    serializers.ManyRelatedField,
)


def _fresh(field):
    """A field of its own for one serializer: a plain field is copied shallowly (binding
    it sets only its own attributes: name, parent, label, source), which spares DRF's
    deep copy re-running the field's ``__init__``; a composite one deeply."""
    if isinstance(field, _COMPOSITE_FIELDS):
        return copy.deepcopy(field)
    return copy.copy(field)


class FieldsBuiltOnce:
    """A serializer whose fields are built once per class, not on every instantiation
    (DRF reads a ModelSerializer's model fields, relations and options anew each time,
    and deep-copies every declared field, a related field's queryset included): each
    serializer gets its own copy of each (``_fresh``), never bound before.
    The calls every pipeline makes (register a version, read what is live, ask the
    gate) render one."""

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_fields_built")
        if built is None:
            built = super().get_fields()
            cls._fields_built = built
        return {name: _fresh(field) for name, field in built.items()}


__all__ = ["FieldsBuiltOnce", "FullCleanSerializer"]
