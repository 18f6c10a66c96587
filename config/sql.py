"""SQL expressions the ORM lacks, written once for both databases."""

from django.db.models import Aggregate, JSONField

__all__ = ["JSONArray"]


class JSONArray(Aggregate):
    """An expression's values over a subquery's rows as one JSON array
    (``json_group_array`` on SQLite, ``json_agg`` on PostgreSQL); NULL over no rows.
    For a fact that reads a few rows::

        Subquery(rows.order_by().values(group).annotate(a=JSONArray(JSONObject(...)))
                 .values("a"))
    """

    function = "JSON_GROUP_ARRAY"
    output_field = JSONField()

    def as_postgresql(self, compiler, connection, **extra_context):
        # As text, the way a JSON column reaches the field on either database.
        sql, params = super().as_sql(compiler, connection, function="JSON_AGG", **extra_context)
        return f"({sql})::text", params
