from rest_framework.routers import SimpleRouter

from registry.api.views import MLModelViewSet

router = SimpleRouter()
router.register("models", MLModelViewSet, basename="mlmodel")

urlpatterns = router.urls
