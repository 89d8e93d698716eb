"""The whole API of the baseline: one ModelViewSet, rows filtered by the caller."""

from django.core.validators import MinValueValidator, RegexValidator
from rest_framework import serializers, viewsets

from projects.models import Project


class ProjectSerializer(serializers.ModelSerializer):
    color = serializers.CharField(
        max_length=7, required=False, validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$")]
    )
    position = serializers.IntegerField(required=False, validators=[MinValueValidator(0)])

    class Meta:
        model = Project
        fields = [
            "id", "user_id", "name", "description", "color", "position", "archived",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "user_id", "created_at", "updated_at"]


class ProjectViewSet(viewsets.ModelViewSet):
    serializer_class = ProjectSerializer

    def get_queryset(self):
        # The order SOGOMS gives Prokov's projects: its declared sort (position, name), then id.
        return Project.objects.filter(user_id=self.request.user.id).order_by("position", "name", "id")

    def perform_create(self, serializer):
        serializer.save(user_id=self.request.user.id)
