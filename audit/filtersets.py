import django_filters

from audit.models import AuditEvent


class AuditEventFilter(django_filters.FilterSet):
    object_type = django_filters.CharFilter()
    object_id = django_filters.CharFilter()
    actor = django_filters.CharFilter(field_name="actor_username")
    actor_id = django_filters.NumberFilter()
    action = django_filters.CharFilter()
    after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    request_id = django_filters.CharFilter()

    class Meta:
        model = AuditEvent
        fields = []
