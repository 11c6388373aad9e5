"""The webhook URL is encrypted at rest, like the K5 password: a Slack- or Teams-style URL is
itself the bearer secret. Existing URLs are encrypted in place; going back decrypts them."""

from django.db import migrations, models

from imaging import credentials


def encrypt_urls(apps, schema_editor):
    K5Project = apps.get_model("imaging", "K5Project")
    for project in K5Project.objects.exclude(webhook_url=""):
        project.webhook_url_encrypted = credentials.encrypt(project.webhook_url)
        project.save(update_fields=["webhook_url_encrypted"])


def decrypt_urls(apps, schema_editor):
    K5Project = apps.get_model("imaging", "K5Project")
    for project in K5Project.objects.exclude(webhook_url_encrypted=""):
        project.webhook_url = credentials.decrypt(project.webhook_url_encrypted)
        project.save(update_fields=["webhook_url"])


class Migration(migrations.Migration):
    dependencies = [("imaging", "0010_pending_task")]

    operations = [
        migrations.AddField(
            model_name="k5project",
            name="webhook_url_encrypted",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(encrypt_urls, decrypt_urls),
        migrations.RemoveField(model_name="k5project", name="webhook_url"),
    ]
