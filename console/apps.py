from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The board's web console: layout, sign-in, navigation and the home page.

    It sits below every domain app and imports none of them: apps register their
    navigation entries and home-page panels here (from their ``AppConfig.ready``),
    the way they register gate checks.
    """

    name = "console"
    verbose_name = "console"

    def ready(self):
        from console.registry import nav_entry

        nav_entry("Home", "home", order=0, section="/")
        # The admin stays for administrators; everyone else works in the console.
        nav_entry("Admin", "admin:index", order=1000, visible=lambda user: user.is_superuser)
