from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="PurgeRecord",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("tags", models.TextField()),
                ("soft", models.BooleanField(default=False)),
                ("created", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "db_table": "pagecache_purgerecord",
                "ordering": ["id"],
                "verbose_name": "recorded purge",
            },
        ),
    ]
