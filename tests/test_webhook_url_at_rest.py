"""A webhook URL is often its own bearer secret (Slack, Teams): it is stored encrypted, like
the K5 password, and the migration that introduced that encrypted the URLs already stored."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from imaging.models import K5Project

SECRET_URL = "https://hooks.example.com/services/T000/B000/secret-token"
BEFORE = [("imaging", "0010_pending_task")]
AFTER = [("imaging", "0011_webhook_url_encrypted")]


def stored_row(project_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM imaging_k5project WHERE id = %s", [project_id])
        return repr(cursor.fetchone())


def new_project(model, **fields):
    return model.objects.create(
        name="p",
        region="jp-east-1",
        identity_url="https://identity.jp-east-1.cloud.global.fujitsu.com/v3",
        contract="c",
        k5_project_id="x",
        username="u",
        password_encrypted="-",
        **fields,
    )


@pytest.mark.django_db
def test_the_database_holds_no_webhook_url_in_clear():
    project = new_project(K5Project)
    project.webhook_url = SECRET_URL
    project.save()

    assert "secret-token" not in stored_row(project.pk)
    assert K5Project.objects.get(pk=project.pk).webhook_url == SECRET_URL


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_the_urls_already_stored():
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        old_state = executor.loader.project_state(BEFORE).apps
        before = new_project(old_state.get_model("imaging", "K5Project"), webhook_url=SECRET_URL)
        assert "secret-token" in stored_row(before.pk)

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)

        assert "secret-token" not in stored_row(before.pk)
        assert K5Project.objects.only("webhook_url_encrypted").get(pk=before.pk).webhook_url == (
            SECRET_URL
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())  # as every other test expects
