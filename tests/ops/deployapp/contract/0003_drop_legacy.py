from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("deployapp", "0002_note_body")]
    operations = [migrations.RemoveField("note", "legacy")]
