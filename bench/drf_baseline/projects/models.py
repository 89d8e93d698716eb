"""The `projects` table with Prokov's columns, indexes and unique rule."""

from django.conf import settings
from django.db import models


class Project(models.Model):
    id = models.AutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    description = models.TextField(null=True, blank=True)  # noqa: DJ001  (nullable, as in Prokov)
    color = models.CharField(max_length=7, default="#4f46e5")
    position = models.IntegerField(default=0)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "projects"
        indexes = [models.Index(fields=["user", "position"], name="projects_user_position")]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="projects_user_name")]

    def __str__(self) -> str:
        return self.name
