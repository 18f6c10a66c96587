"""The navigation of the console, for every page that extends ``console/base.html``."""

from django.urls import NoReverseMatch, reverse

from console.registry import nav_entries


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"console_nav": []}
    path = request.path
    items = []
    for entry in nav_entries():
        if not entry.visible(user):
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:
            continue
        prefix = entry.section or url
        current = path == url if prefix == "/" else path.startswith(prefix)
        items.append({"label": entry.label, "url": url, "current": current})
    return {"console_nav": items}
