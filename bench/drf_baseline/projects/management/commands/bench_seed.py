"""`manage.py bench_seed --rows N`: the benchmark user with N projects, another with a few.

Prints one JSON line: the two access tokens and the benchmark user's (id, name) rows.
"""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework_simplejwt.tokens import AccessToken

from projects.models import Project


class Command(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=10_000)
        parser.add_argument("--other-rows", type=int, default=5)

    def handle(self, *args, rows, other_rows, **options):
        User = get_user_model()
        bench = User.objects.create_user("bench", "bench@example.com", "correct horse battery")
        other = User.objects.create_user("other", "other@example.com", "correct horse battery")
        Project.objects.bulk_create(
            [Project(user=other, name=f"Other {i}", position=i) for i in range(other_rows)]
        )
        Project.objects.bulk_create(
            [
                Project(user=bench, name=f"Project {i:05d}", description="seeded", position=i)
                for i in range(rows)
            ],
            batch_size=1000,
        )
        own = list(Project.objects.filter(user=bench).values_list("id", "name"))
        out = {
            "token": str(AccessToken.for_user(bench)),
            "other_token": str(AccessToken.for_user(other)),
            "user_id": bench.id,
            "rows": own,
        }
        self.stdout.write(json.dumps(out))
