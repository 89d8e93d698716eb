from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("deployapp", "0001_initial")]
    operations = [migrations.AddField("note", "body", models.TextField(db_default=""))]
