from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("batch", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="batchjob",
            name="owner",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddIndex(
            model_name="batchjob",
            index=models.Index(fields=["owner", "-created_at"], name="batch_job_owner_recent"),
        ),
    ]
