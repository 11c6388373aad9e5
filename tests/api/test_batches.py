"""POST /api/v1/batches/ and /api/v1/schedules/: a tool asks for many volumes at once, or on a
schedule; permissions as for jobs (viewers see, members create, the requester or an admin
acts); every refusal in the one error shape, naming the field."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from imaging.engine.pacing import start_due_uploads
from imaging.engine.schedules import prepare_run, run_due
from imaging.models import Batch, ImageJob, JobEvent, JobState, Schedule
from tests.api.client import error_of
from tests.support.demo import CENTOS_APP, CENTOS_BROKEN, CENTOS_WEB, UBUNTU_APP
from tests.support.jobs import make_job, make_schedule


def batch_body(project, volume_ids=(CENTOS_WEB, UBUNTU_APP), **options):
    return {
        "project": project.pk,
        "volume_ids": list(volume_ids),
        "image_name_template": "{volume}-{date}",
        "preparation_confirmed": True,
        **options,
    }


def schedule_body(project, **options):
    return {
        "project": project.pk,
        "name": "weekly",
        "volume_ids": [CENTOS_WEB, UBUNTU_APP],
        "cron": "0 3 * * 1",
        "timezone": "Asia/Tokyo",
        "image_name_template": "{volume}-{date}",
        "keep": 2,
        "preparation_confirmed": True,
        **options,
    }


@pytest.mark.django_db
def test_a_member_creates_a_batch_and_gets_its_jobs(api, project, bob):
    response = api(bob).post("/api/v1/batches/", batch_body(project))
    assert response.status_code == 201, response.content
    batch = response.json()
    assert batch["state"] == "running"
    assert batch["counts"] == {"queued": 2}
    assert batch["expected_end"] is not None
    assert {job["volume_id"] for job in batch["jobs"]} == {CENTOS_WEB, UBUNTU_APP}
    assert all(job["requested_by"] == "bob" and job["channel"] == "api" for job in batch["jobs"])
    assert batch["refused"] == []

    again = api(bob).get(f"/api/v1/batches/{batch['id']}/").json()
    assert [(j["id"], j["image_name"]) for j in again["jobs"]] == [
        (j["id"], j["image_name"]) for j in batch["jobs"]
    ]


@pytest.mark.django_db
def test_a_volume_that_fails_is_listed_with_its_reason(api, project, bob):
    response = api(bob).post("/api/v1/batches/", batch_body(project, [CENTOS_WEB, CENTOS_BROKEN]))
    assert response.status_code == 201, response.content
    [refused] = response.json()["refused"]
    assert (refused["volume_id"], refused["code"]) == (CENTOS_BROKEN, "volume_not_ready")


@pytest.mark.django_db
def test_a_volumes_reason_reads_in_the_readers_language_the_code_the_same(api, project, bob, dana):
    client = api(bob)
    created = client.post(
        "/api/v1/batches/",
        batch_body(project, [CENTOS_WEB, CENTOS_BROKEN]),
        headers={"Accept-Language": "ja"},
    ).json()
    path = f"/api/v1/batches/{created['id']}/"
    [japanese] = created["refused"]
    [english] = client.get(path, headers={"Accept-Language": "en"}).json()["refused"]
    [again] = api(dana).get(path, headers={"Accept-Language": "ja"}).json()["refused"]

    assert japanese["code"] == english["code"] == again["code"] == "volume_not_ready"
    assert english["message"] == (
        "The volume is error: only an available volume, or an in-use one with force, can be imaged."
    )
    assert japanese["message"] == again["message"]
    assert japanese["message"].startswith("ボリュームのステータスが error です。")


@pytest.mark.django_db
def test_all_or_nothing_refuses_the_whole_batch_naming_each_volume(api, project, bob):
    response = api(bob).post(
        "/api/v1/batches/", batch_body(project, [CENTOS_WEB, CENTOS_BROKEN], all_or_nothing=True)
    )
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "batch_refused"
    [reason] = error["fields"]["volume_ids"]
    assert reason.startswith(f"{CENTOS_BROKEN}: The volume is error")
    assert not ImageJob.objects.exists() and not Batch.objects.exists()


@pytest.mark.django_db
def test_two_equal_names_are_refused_before_anything_is_queued(api, project, bob):
    response = api(bob).post("/api/v1/batches/", batch_body(project, image_name_template="golden"))
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], list(error["fields"])) == (
        "image_name_duplicate",
        ["image_name_template"],
    )
    assert not ImageJob.objects.exists()


@pytest.mark.django_db
def test_a_viewer_cannot_create_a_batch_and_an_outsider_cannot_see_the_project(
    api, project, victor, charlie, bob
):
    assert api(victor).post("/api/v1/batches/", batch_body(project)).status_code == 403
    assert api(charlie).post("/api/v1/batches/", batch_body(project)).status_code == 404
    batch = api(bob).post("/api/v1/batches/", batch_body(project)).json()
    assert api(victor).get(f"/api/v1/batches/{batch['id']}/").status_code == 200
    assert api(charlie).get(f"/api/v1/batches/{batch['id']}/").status_code == 404
    assert api(victor).post(f"/api/v1/batches/{batch['id']}/cancel/").status_code == 403


@pytest.mark.django_db
def test_a_batch_sent_again_with_its_idempotency_key_is_answered_not_made_twice(api, project, bob):
    key = {"Idempotency-Key": "nightly-2026-12-07"}
    first = api(bob).post("/api/v1/batches/", batch_body(project), headers=key)
    assert first.status_code == 201, first.content

    again = api(bob).post("/api/v1/batches/", batch_body(project), headers=key)

    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]
    assert [j["id"] for j in again.json()["jobs"]] == [j["id"] for j in first.json()["jobs"]]
    assert Batch.objects.count() == 1 and ImageJob.objects.count() == 2

    other = api(bob).post(
        "/api/v1/batches/", batch_body(project, volume_ids=[CENTOS_APP]), headers=key
    )
    assert (other.status_code, error_of(other)["code"]) == (409, "idempotency_conflict")
    too_long = api(bob).post(
        "/api/v1/batches/", batch_body(project), headers={"Idempotency-Key": "k" * 256}
    )
    assert too_long.status_code == 400
    assert "Idempotency-Key" in error_of(too_long)["fields"]
    assert Batch.objects.count() == 1


@pytest.mark.django_db
def test_cancel_answers_the_batch_with_the_unsent_jobs_cancelled(api, project, bob):
    batch = api(bob).post("/api/v1/batches/", batch_body(project)).json()
    [sent, *_] = start_due_uploads(project)  # both are sent; make one wait again
    ImageJob.objects.filter(batch_id=batch["id"]).exclude(pk=sent.pk).update(state=JobState.QUEUED)
    response = api(bob).post(f"/api/v1/batches/{batch['id']}/cancel/")
    assert response.status_code == 200, response.content
    assert response.json()["counts"] == {"submitting": 1, "cancelled": 1}
    again = api(bob).post(f"/api/v1/batches/{batch['id']}/cancel/")
    assert (again.status_code, error_of(again)["code"]) == (409, "not_allowed")


@pytest.mark.django_db
def test_retry_failed_retries_the_failed_jobs_into_the_batch(api, project, bob):
    batch = api(bob).post("/api/v1/batches/", batch_body(project)).json()
    failed, succeeded = ImageJob.objects.filter(batch_id=batch["id"]).order_by("pk")
    ImageJob.objects.filter(pk=failed.pk).update(state=JobState.FAILED, finished_at=timezone.now())
    ImageJob.objects.filter(pk=succeeded.pk).update(state=JobState.SUCCEEDED)

    response = api(bob).post(f"/api/v1/batches/{batch['id']}/retry-failed/")

    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["counts"] == {"queued": 1, "succeeded": 1}
    assert answer["retry_refused"] == []
    [retry] = [job for job in answer["jobs"] if job["retry_of"] == failed.pk]
    assert retry["volume_id"] == failed.volume_id


@pytest.mark.django_db
def test_a_refused_retry_is_listed_with_its_reason_in_the_readers_language(api, project, bob):
    batch = api(bob).post("/api/v1/batches/", batch_body(project)).json()
    first, second = ImageJob.objects.filter(batch_id=batch["id"]).order_by("pk")
    ImageJob.objects.filter(batch_id=batch["id"]).update(
        state=JobState.FAILED, finished_at=timezone.now()
    )
    # Someone imaged the first volume again meanwhile: its retry would be a second active job.
    make_job(project, bob, volume_id=first.volume_id, image_name="taken-meanwhile")

    response = api(bob).post(
        f"/api/v1/batches/{batch['id']}/retry-failed/", headers={"Accept-Language": "ja"}
    )

    assert response.status_code == 200, response.content
    [refused] = response.json()["retry_refused"]
    assert refused["job"] == first.pk
    assert refused["code"] == "volume_busy"
    assert "ボリューム" in refused["message"], refused["message"]
    assert ImageJob.objects.filter(retry_of=second).exists()
    assert not ImageJob.objects.filter(retry_of=first).exists()


@pytest.mark.django_db
def test_a_member_creates_a_schedule_and_reads_its_next_run(api, project, bob):
    response = api(bob).post("/api/v1/schedules/", schedule_body(project))
    assert response.status_code == 201, response.content
    schedule = response.json()
    assert (schedule["cron"], schedule["timezone"], schedule["enabled"]) == (
        "0 3 * * 1",
        "Asia/Tokyo",
        True,
    )
    assert schedule["next_run_at"].endswith("T18:00:00Z"), "03:00 in Tokyo, the day before in UTC"
    assert schedule["recent_runs"] == []


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("cron", "0 3 * *", "5 fields"),
        ("cron", "0 3 * * 8", "day of week field '8'"),
        ("timezone", "Tokyo", "not a time zone"),
        ("keep", 0, "greater than or equal to 1"),
        ("image_name_template", "{host}", "{host}"),
    ],
)
@pytest.mark.django_db
def test_a_bad_schedule_is_400_naming_the_field(api, project, bob, field, value, words):
    response = api(bob).post("/api/v1/schedules/", schedule_body(project, **{field: value}))
    assert response.status_code == 400
    error = error_of(response)
    assert list(error["fields"]) == [field]
    assert words in error["fields"][field][0]
    assert not Schedule.objects.exists()


@pytest.mark.django_db
def test_schedule_permissions_are_those_of_jobs(api, project, bob, dana, victor, alice):
    assert api(victor).post("/api/v1/schedules/", schedule_body(project)).status_code == 403
    schedule = api(bob).post("/api/v1/schedules/", schedule_body(project)).json()
    path = f"/api/v1/schedules/{schedule['id']}/"
    assert api(victor).get(path).status_code == 200
    assert api(dana).post(path + "pause/").status_code == 403
    paused = api(bob).post(path + "pause/").json()
    assert (paused["enabled"], paused["next_run_at"]) == (False, None)
    assert api(alice).post(path + "resume/").json()["enabled"] is True
    assert api(dana).request("DELETE", path).status_code == 403
    assert api(bob).request("DELETE", path).status_code == 204
    assert not Schedule.objects.exists()


def patch(client, path: str, body: dict):
    return client.request("PATCH", path, data=json.dumps(body), content_type="application/json")


@pytest.mark.django_db
def test_a_schedule_is_changed_in_place_and_its_next_run_moves(api, project, bob):
    schedule = api(bob).post("/api/v1/schedules/", schedule_body(project)).json()
    path = f"/api/v1/schedules/{schedule['id']}/"

    response = patch(api(bob), path, {"cron": "30 4 * * *", "keep": 1})

    assert response.status_code == 200, response.content
    changed = response.json()
    assert (changed["id"], changed["cron"], changed["keep"]) == (schedule["id"], "30 4 * * *", 1)
    assert changed["timezone"] == "Asia/Tokyo" and changed["volume_ids"] == schedule["volume_ids"]
    assert changed["next_run_at"].endswith("T19:30:00Z"), "04:30 in Tokyo, each day"
    [event] = JobEvent.objects.filter(code="schedule.changed")
    assert event.actor_name == "bob"
    assert "cron: 0 3 * * 1 → 30 4 * * *" in event.message and "keep: 2 → 1" in event.message
    assert patch(api(bob), path, {"keep": 1}).status_code == 200
    assert JobEvent.objects.filter(code="schedule.changed").count() == 1, "nothing changed"


@pytest.mark.django_db
def test_adding_a_volume_to_a_schedule_asks_for_its_preparation(api, project, bob):
    schedule = api(bob).post("/api/v1/schedules/", schedule_body(project)).json()
    path = f"/api/v1/schedules/{schedule['id']}/"
    more = {"volume_ids": [CENTOS_WEB, UBUNTU_APP, CENTOS_APP]}

    refused = patch(api(bob), path, more)
    assert refused.status_code == 400
    assert error_of(refused)["code"] == "preparation_required"
    assert Schedule.objects.get().volume_ids == [CENTOS_WEB, UBUNTU_APP]

    fewer = patch(api(bob), path, {"volume_ids": [CENTOS_WEB]})
    assert fewer.status_code == 200, "removing a volume needs no preparation"
    confirmed = patch(api(bob), path, {**more, "preparation_confirmed": True})
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["volume_ids"] == more["volume_ids"]


@pytest.mark.django_db
def test_a_bad_change_is_400_naming_the_field_and_changes_nothing(api, project, bob, dana, victor):
    schedule = api(bob).post("/api/v1/schedules/", schedule_body(project)).json()
    api(bob).post("/api/v1/schedules/", schedule_body(project, name="nightly"))
    path = f"/api/v1/schedules/{schedule['id']}/"

    for body, field in [
        ({"cron": "0 3 * *"}, "cron"),
        ({"timezone": "Tokyo"}, "timezone"),
        ({"keep": 0}, "keep"),
        ({"image_name_template": "{host}"}, "image_name_template"),
        ({"name": "nightly"}, "name"),
    ]:
        response = patch(api(bob), path, body)
        assert response.status_code == 400, body
        assert list(error_of(response)["fields"]) == [field], body
    assert (
        api(bob).get(path).json()
        == api(victor).get(path).json()
        == {
            **schedule,
            "recent_runs": [],
        }
    )
    assert patch(api(dana), path, {"keep": 5}).status_code == 403
    assert patch(api(victor), path, {"keep": 5}).status_code == 403
    assert api(bob).request("PUT", path).status_code == 405


@pytest.mark.django_db
def test_the_schedule_answers_its_recent_runs_and_a_dry_run(api, project, bob):
    schedule = api(bob).post("/api/v1/schedules/", schedule_body(project)).json()
    Schedule.objects.filter(pk=schedule["id"]).update(
        next_run_at=timezone.now() - timedelta(minutes=1)
    )
    [batch] = run_due()
    prepare_run(batch.pk)

    answer = api(bob).get(f"/api/v1/schedules/{schedule['id']}/").json()
    [run] = answer["recent_runs"]
    assert (run["batch"], run["state"], run["counts"]) == (batch.pk, "running", {"queued": 2})
    dry = api(bob).get(f"/api/v1/schedules/{schedule['id']}/retention/")
    assert dry.status_code == 200 and dry.json() == [], "nothing succeeded yet"


@pytest.mark.django_db
def test_a_batch_with_stop_start_checks_each_volume_for_it(api, project, bob):
    response = api(bob).post(
        "/api/v1/batches/",
        batch_body(project, volume_ids=(CENTOS_APP, CENTOS_WEB), automation="stop_start"),
    )
    assert response.status_code == 201, response.content
    batch = response.json()
    assert batch["automation"] == "stop_start"
    [job] = batch["jobs"]
    assert (job["volume_id"], job["automation"], job["force"]) == (CENTOS_APP, "stop_start", True)
    assert [step["name"] for step in job["steps"]] == ["stop_server", "upload", "start_server"]
    [refused] = batch["refused"]
    assert (refused["volume_id"], refused["code"]) == (CENTOS_WEB, "automation_not_applicable")


@pytest.mark.django_db
def test_a_schedules_runs_use_its_automation(api, project, bob):
    body = schedule_body(project, volume_ids=[CENTOS_APP], automation="stop_start")
    schedule = api(bob).post("/api/v1/schedules/", body).json()
    assert schedule["automation"] == "stop_start"
    Schedule.objects.filter(pk=schedule["id"]).update(
        next_run_at=timezone.now() - timedelta(minutes=1)
    )
    [batch] = run_due()
    prepare_run(batch.pk)

    [job] = ImageJob.objects.filter(batch=batch)
    assert job.automation == "stop_start"
    assert list(job.steps.values_list("name", flat=True)) == [
        "stop_server",
        "upload",
        "start_server",
    ]


def schedules_with_runs(project, bob, count: int, first: int = 0) -> None:
    """`count` schedules of two volumes, each with three runs (one job per volume)."""
    for n in range(count):
        schedule = make_schedule(project, bob, f"s{first}-{n}")
        for run in range(3):
            batch = Batch.objects.create(
                project=project,
                schedule=schedule,
                due_at=timezone.now(),
                volume_ids=schedule.volume_ids,
                image_name_template=schedule.image_name_template,
                requested_by=bob,
                requested_by_name="bob",
                prepared_at=timezone.now(),
            )
            for volume_id in schedule.volume_ids:
                job = make_job(
                    project,
                    bob,
                    volume_id=volume_id,
                    image_name=f"{first}-{n}-{run}-{volume_id}",
                    # one active job per volume: the first run's wait in the queue
                    state=JobState.QUEUED if (first, n, run) == (0, 0, 0) else JobState.SUCCEEDED,
                )
                ImageJob.objects.filter(pk=job.pk).update(batch=batch)


def queries_to_read(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries)


@pytest.mark.django_db
def test_listing_schedules_and_batches_costs_the_same_queries_for_one_or_ten(api, project, bob):
    """Hundreds of projects' tools list these: the cost of a page must not grow with it."""
    tool = api(bob)
    tool.get("/api/v1/projects/")  # the token's first use is written down once: not counted
    schedules_with_runs(project, bob, 1)
    one = queries_to_read(tool, "/api/v1/schedules/"), queries_to_read(tool, "/api/v1/batches/")
    schedules_with_runs(project, bob, 10, first=1)
    many = queries_to_read(tool, "/api/v1/schedules/"), queries_to_read(tool, "/api/v1/batches/")
    assert tool.get("/api/v1/schedules/").json()["count"] == 11
    assert len(tool.get("/api/v1/schedules/").json()["results"][0]["recent_runs"]) == 3
    assert many == one
