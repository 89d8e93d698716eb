from projects.views import ProjectViewSet
from rest_framework.routers import SimpleRouter

router = SimpleRouter(trailing_slash=False)
router.register("api/projects", ProjectViewSet, basename="project")

urlpatterns = router.urls
