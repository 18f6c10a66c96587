"""The project's limit/offset pagination, without a COUNT query when the page says it all."""

from config.api import Pagination


class CountWhenNeededPagination(Pagination):
    """Fetch one row more than the limit: when the page is the last one, the total is
    ``offset + rows`` and the ``COUNT(*)`` query is skipped. "What is live in production"
    and most filtered lists fit in one page, so they cost one query instead of two.
    The answer's shape (``count``, ``next``, ``previous``, ``results``) is unchanged."""

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.limit = self.get_limit(request)
        if self.limit is None:
            return None
        self.offset = self.get_offset(request)
        rows = list(queryset[self.offset : self.offset + self.limit + 1])
        if rows and len(rows) <= self.limit:
            self.count = self.offset + len(rows)
        elif not rows and self.offset == 0:
            self.count = 0
        else:
            self.count = self.get_count(queryset)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        return rows[: self.limit]
