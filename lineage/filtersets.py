"""django-filter classes of lineage's lists."""

import django_filters

from lineage.models import LineageEvent

NOT_A_TIME = {"invalid": "not an ISO 8601 date-time"}


class LineageEventFilter(django_filters.FilterSet):
    """``before`` and ``after`` bound the event time (both inclusive), as Marquez's
    ``/api/v1/events/lineage`` reads them."""

    before = django_filters.IsoDateTimeFilter(
        field_name="event_time", lookup_expr="lte", error_messages=NOT_A_TIME
    )
    after = django_filters.IsoDateTimeFilter(
        field_name="event_time", lookup_expr="gte", error_messages=NOT_A_TIME
    )

    class Meta:
        model = LineageEvent
        fields = ["before", "after"]
