"""Scheduled jobs move to the cron app: mail forgets the models, the tables stay.

cron's 0001 takes the same tables over in its state; no row is touched.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("mail", "0002_cronjob_jobrun"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="JobRun"),
                migrations.DeleteModel(name="CronJob"),
            ],
        ),
    ]
