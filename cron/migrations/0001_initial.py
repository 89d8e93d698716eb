"""Scheduled jobs come over from the mail app: the models, not the tables.

The tables `mail_cronjob` and `mail_jobrun` were created by mail's 0002 and keep their
names and rows; this migration only tells Django that the cron app owns them now
(mail's 0003 forgets them on its side).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("mail", "0002_cronjob_jobrun"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='CronJob',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('app', models.CharField(max_length=40)),
                        ('name', models.CharField(max_length=100)),
                        ('schedule', models.CharField(max_length=100)),
                        ('timezone', models.CharField(max_length=64)),
                        ('kind', models.CharField(max_length=20)),
                        ('enabled', models.BooleanField(default=True)),
                        ('retries', models.PositiveIntegerField(default=0)),
                        ('synced_at', models.DateTimeField()),
                    ],
                    options={
                        'db_table': 'mail_cronjob',
                        'verbose_name': 'scheduled job',
                        'ordering': ['app', 'name'],
                        'constraints': [models.UniqueConstraint(fields=('app', 'name'), name='mail_cronjob_unique')],
                    },
                ),
                migrations.CreateModel(
                    name='JobRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('app', models.CharField(max_length=40)),
                        ('job', models.CharField(max_length=100)),
                        ('trigger', models.CharField(max_length=10)),
                        ('scheduled_for', models.DateTimeField(blank=True, null=True)),
                        ('attempt', models.PositiveIntegerField(default=1)),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed')], default='queued', max_length=10)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('duration_ms', models.PositiveIntegerField(blank=True, null=True)),
                        ('output', models.TextField(blank=True, default='')),
                        ('error', models.TextField(blank=True, default='')),
                    ],
                    options={
                        'db_table': 'mail_jobrun',
                        'verbose_name': 'job run',
                        'ordering': ['-id'],
                        'indexes': [models.Index(fields=['app', 'job', '-id'], name='mail_jobrun_latest')],
                        'constraints': [models.UniqueConstraint(fields=('app', 'job', 'scheduled_for'), name='mail_jobrun_one_per_tick')],
                    },
                ),
            ],
        ),
    ]
