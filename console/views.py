"""Sign-in, sign-out and the home page ("what needs me") of the console."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from accounts.oidc import config as sso_config
from config.throttling import SignInThrottle, too_many
from console.registry import panels_for

SINCE_KEY = "console_since"


class SignInView(auth_views.LoginView):
    """govreg's own sign-in page. It remembers when the user signed in before, so the
    home page can show what changed since that visit."""

    template_name = "console/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        throttle = SignInThrottle()  # GOVREG_RATE_SIGN_IN attempts per client address
        if not throttle.allow_request(request, self):
            return too_many(throttle.wait())
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        sso = sso_config()
        context["sso_provider"] = sso.provider_name if sso is not None else ""
        return context

    def form_valid(self, form):
        previous = form.get_user().last_login
        response = super().form_valid(form)  # logs in, which sets a new last_login
        if previous is not None:
            self.request.session[SINCE_KEY] = previous.isoformat()
        return response


class SignOutView(auth_views.LogoutView):
    """Sign out (POST only, as Django requires) and land on the sign-in page."""

    next_page = "console-login"


def since_last_visit(request):
    """When the user signed in before this session (``None`` on a first visit)."""
    value = request.session.get(SINCE_KEY)
    return parse_datetime(value) if value else None


@require_GET
@login_required
def home(request):
    """Panels registered by the apps, each scoped to the user by its app."""
    return render(request, "console/home.html", {"panels": panels_for(request)})
