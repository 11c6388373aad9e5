"""GET /api/v1/jobs/ and /jobs/{id}/: the job as a tool follows it — state, whether it ended,
why it failed, where it stands in the queue, progress, zones — and the list's filters,
ordering and pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from imaging.models import ImageJob, JobState, SyncStatus, UploadAttempt, ZoneSyncResult
from tests.api.client import error_of, job_body
from tests.support.demo import CENTOS_BATCH, CENTOS_WEB, RHEL_DB, UBUNTU_APP, WIN_AD
from tests.support.jobs import make_job

DETAIL_FIELDS = {
    "id",
    "project",
    "volume",
    "image_name",
    "image_id",
    "state",
    "terminal",
    "error",
    "queue_position",
    "estimated_start",
    "progress",
    "created_at",
    "submitted_at",
    "upload_finished_at",
    "finished_at",
    "retry_of",
    "zones",
    "events",
}


def test_a_new_job_shows_everything_a_tool_follows(api, project, bob):
    created = api(bob).post("/api/v1/jobs/", job_body(project, CENTOS_BATCH, force=True))
    job = api(bob).get(f"/api/v1/jobs/{created.json()['id']}/").json()

    assert set(job) >= DETAIL_FIELDS
    assert (
        job["project"],
        job["image_name"],
        job["image_id"],
        job["state"],
        job["terminal"],
        job["error"],
        job["retry_of"],
    ) == (project.pk, "web-golden", "", "queued", False, None, None)
    assert job["volume"]["id"] == CENTOS_BATCH
    assert (job["volume"]["name"], job["volume"]["size"], job["volume"]["os_family"]) == (
        "centos-batch-01",
        40,
        "linux",
    )
    assert job["volume"]["attached_server"] == {
        "id": "20000000-0000-4000-8000-000000000001",
        "name": "batch-01",
        "status": "SHUTOFF",
    }
    assert job["queue_position"] == 1
    assert abs(parse_datetime(job["estimated_start"]) - timezone.now()) < timedelta(seconds=5)
    assert job["progress"] == 0.0
    assert abs(parse_datetime(job["created_at"]) - timezone.now()) < timedelta(seconds=5)
    assert (job["submitted_at"], job["upload_finished_at"], job["finished_at"]) == (
        None,
        None,
        None,
    )
    assert job["zones"] == [
        {
            "availability_zone": "jp-east-1a",
            "role": "source",
            "status": "pending",
            "reason": "",
            "checked_at": None,
        },
        {
            "availability_zone": "jp-east-1b",
            "role": "replica",
            "status": "pending",
            "reason": "",
            "checked_at": None,
        },
    ]


def test_the_events_link_leads_to_the_jobs_history(api, project, bob):
    created = api(bob).post("/api/v1/jobs/", job_body(project)).json()
    assert created["events"] == f"http://testserver/api/v1/jobs/{created['id']}/events/"
    events = api(bob).get(created["events"]).json()
    assert events["count"] == 2
    assert [e["message"] for e in events["results"]] == [
        "Requested image “web-golden” from volume centos-web-01.",
        "Confirmed the preparation: linux-network-settings-removed.",
    ]
    assert {e["job"] for e in events["results"]} == {created["id"]}
    assert {e["actor"] for e in events["results"]} == {"bob"}


def test_queued_jobs_show_their_place_and_when_they_should_start(api, project, bob):
    """Four uploads used the hour's window 50 to 20 minutes ago: the next three queued jobs
    start as those slots free up, in order."""
    project.upload_limit = 4
    project.save()
    sent_long_ago = make_job(
        project, bob, volume_id=WIN_AD, image_name="old", state=JobState.SUCCEEDED
    )
    now = timezone.now()
    for minutes in (50, 40, 30, 20):
        UploadAttempt.objects.create(
            project=project, job=sent_long_ago, sent_at=now - timedelta(minutes=minutes)
        )
    jobs = [
        make_job(project, bob, volume_id=volume, image_name=f"img-{n}")
        for n, volume in enumerate((CENTOS_WEB, UBUNTU_APP, RHEL_DB))
    ]

    shown = {job["id"]: job for job in api(bob).get("/api/v1/jobs/").json()["results"]}
    assert [shown[job.pk]["queue_position"] for job in jobs] == [1, 2, 3]
    starts = [parse_datetime(shown[job.pk]["estimated_start"]) for job in jobs]
    for start, minutes in zip(starts, (10, 20, 30), strict=True):
        assert abs(start - (now + timedelta(minutes=minutes))) < timedelta(seconds=5)
    assert shown[sent_long_ago.pk]["queue_position"] is None
    assert shown[sent_long_ago.pk]["estimated_start"] is None


@pytest.mark.parametrize(
    ("state", "fields", "progress"),
    [
        (JobState.SUBMITTING, {}, 0.0),
        (JobState.UPLOADING, {"submitted_at_ago": 240}, 0.45),  # 240 of 480 s expected
        (JobState.UPLOADING, {"submitted_at_ago": 4800}, 0.891),  # overdue: capped below 90%
        (JobState.SUCCEEDED, {}, 1.0),
        (JobState.FAILED, {}, None),
        (JobState.CANCELLED, {}, None),
    ],
)
def test_progress_is_an_estimate_between_0_and_1(api, project, bob, state, fields, progress):
    ago = fields.pop("submitted_at_ago", 0)
    job = make_job(project, bob, state=state, submitted_at=timezone.now() - timedelta(seconds=ago))
    shown = api(bob).get(f"/api/v1/jobs/{job.pk}/").json()
    if progress is None:
        assert shown["progress"] is None
    else:
        assert shown["progress"] == pytest.approx(progress, abs=0.01)
    assert shown["terminal"] is (state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED))


def test_a_failed_job_says_why_and_a_failed_zone_names_itself(api, project, bob):
    job = make_job(
        project,
        bob,
        state=JobState.SYNC_FAILED,
        image_id="img-1",
        error_message="The image did not reach jp-east-1b.",
        error_detail="ERROR:A timeout occurred during synchronize image",
    )
    ZoneSyncResult.objects.filter(job=job, availability_zone="jp-east-1b").update(
        status=SyncStatus.FAILED, reason="ERROR:A timeout occurred", checked_at=timezone.now()
    )
    shown = api(bob).get(f"/api/v1/jobs/{job.pk}/").json()
    assert shown["error"] == {
        "code": "",  # failed before codes existed: its English, as written
        "params": {},
        "message": "The image did not reach jp-east-1b.",
        "detail": "ERROR:A timeout occurred during synchronize image",
    }
    assert (shown["state"], shown["terminal"], shown["image_id"]) == ("sync_failed", True, "img-1")
    failed = [zone for zone in shown["zones"] if zone["status"] == "failed"]
    assert [(z["availability_zone"], z["reason"]) for z in failed] == [
        ("jp-east-1b", "ERROR:A timeout occurred")
    ]
    assert failed[0]["checked_at"] is not None


def test_a_retry_points_to_the_job_it_retries(api, project, bob):
    failed = make_job(project, bob, state=JobState.FAILED)
    retry = make_job(project, bob, image_name="web-golden-2", retry_of=failed)
    assert api(bob).get(f"/api/v1/jobs/{retry.pk}/").json()["retry_of"] == failed.pk


class TestTheList:
    @pytest.fixture
    def jobs(self, project, other_project, bob, dana):
        now = timezone.now()
        made = {
            "queued": make_job(project, bob, volume_id=CENTOS_WEB, image_name="b-queued"),
            "uploading": make_job(
                project, dana, volume_id=UBUNTU_APP, image_name="a-upload", state=JobState.UPLOADING
            ),
            "failed": make_job(
                project, bob, volume_id=CENTOS_WEB, image_name="c-failed", state=JobState.FAILED
            ),
        }
        for age, job in zip((1, 2, 3), made.values(), strict=True):
            ImageJob.objects.filter(pk=job.pk).update(created_at=now - timedelta(hours=age))
        return made

    def ids(self, api, user, **params):
        response = api(user).get("/api/v1/jobs/", params)
        assert response.status_code == 200, response.content
        return [job["id"] for job in response.json()["results"]]

    def test_it_lists_the_newest_first(self, api, alice, jobs):
        assert self.ids(api, alice) == [jobs["queued"].pk, jobs["uploading"].pk, jobs["failed"].pk]

    def test_it_filters_by_state_repeatable(self, api, alice, jobs):
        assert self.ids(api, alice, state=["queued", "failed"]) == [
            jobs["queued"].pk,
            jobs["failed"].pk,
        ]
        assert self.ids(api, alice, state="uploading") == [jobs["uploading"].pk]

    def test_it_filters_by_volume_requester_and_project(self, api, alice, jobs, project):
        assert self.ids(api, alice, volume_id=CENTOS_WEB) == [jobs["queued"].pk, jobs["failed"].pk]
        assert self.ids(api, alice, requested_by="dana") == [jobs["uploading"].pk]
        assert len(self.ids(api, alice, project=project.pk)) == 3
        assert self.ids(api, alice, project=project.pk + 1000) == []

    def test_it_filters_by_creation_time(self, api, alice, jobs):
        now = timezone.now()
        after = (now - timedelta(hours=2, minutes=30)).isoformat()
        before = (now - timedelta(minutes=90)).isoformat()
        assert self.ids(api, alice, created_after=after) == [
            jobs["queued"].pk,
            jobs["uploading"].pk,
        ]
        assert self.ids(api, alice, created_before=before) == [
            jobs["uploading"].pk,
            jobs["failed"].pk,
        ]

    @pytest.mark.parametrize(
        ("params", "shown"),
        [
            # Offsets up to 23:59 are ISO 8601; PostgreSQL alone takes none beyond 15:59.
            ({"created_after": "2000-01-01T00:00:00+19:28"}, 3),
            ({"created_before": "2000-01-01T00:00:00-23:59"}, 0),
            # Moments UTC cannot hold: before the first, after the last.
            ({"created_after": "0001-01-01T00:00:00+05:00"}, 3),
            ({"created_before": "9999-12-31T23:59:59-05:00"}, 3),
        ],
    )
    def test_it_takes_any_iso_moment_on_any_database(self, api, alice, jobs, params, shown):
        assert len(self.ids(api, alice, **params)) == shown

    def test_it_orders_as_asked(self, api, alice, jobs):
        assert self.ids(api, alice, ordering="image_name") == [
            jobs["uploading"].pk,
            jobs["queued"].pk,
            jobs["failed"].pk,
        ]
        assert self.ids(api, alice, ordering="created_at") == [
            jobs["failed"].pk,
            jobs["uploading"].pk,
            jobs["queued"].pk,
        ]

    def test_ties_in_the_order_asked_for_keep_a_fixed_order_across_pages(
        self, api, alice, jobs, project
    ):
        more = [
            make_job(project, alice, volume_id=f"volume-{n}", image_name=f"more-{n}")
            for n in range(4)
        ]
        queued = sorted([jobs["queued"].pk] + [job.pk for job in more], reverse=True)
        seen, page = [], "/api/v1/jobs/?ordering=state&page_size=2&state=queued"
        while page:
            body = api(alice).get(page).json()
            seen += [job["id"] for job in body["results"]]
            page = body["next"]
        assert seen == queued

    def test_an_ordering_of_nothing_keeps_the_newest_first(self, api, alice, jobs, project):
        newest = make_job(project, alice, volume_id=RHEL_DB, image_name="d-newest")
        assert self.ids(api, alice, ordering=",") == [
            newest.pk,
            jobs["queued"].pk,
            jobs["uploading"].pk,
            jobs["failed"].pk,
        ]

    def test_it_pages_with_links_to_the_next_page(self, api, alice, jobs):
        first = api(alice).get("/api/v1/jobs/", {"page_size": 2}).json()
        assert first["count"] == 3
        assert [job["id"] for job in first["results"]] == [jobs["queued"].pk, jobs["uploading"].pk]
        second = api(alice).get(first["next"]).json()
        assert [job["id"] for job in second["results"]] == [jobs["failed"].pk]
        assert second["next"] is None

    def test_a_filter_it_cannot_read_is_a_400_naming_it(self, api, alice, jobs):
        response = api(alice).get("/api/v1/jobs/", {"state": "lost", "created_after": "soon"})
        assert response.status_code == 400
        error = error_of(response)
        assert set(error["fields"]) == {"state", "created_after"}

    @pytest.mark.parametrize("given", ["1.5", "0", str(2**80)])
    def test_a_project_filter_that_is_no_id_is_a_400(self, api, alice, jobs, given):
        response = api(alice).get("/api/v1/jobs/", {"project": given})
        assert response.status_code == 400
        assert list(error_of(response)["fields"]) == ["project"]

    @pytest.mark.parametrize("size", ["0", "501", "ten"])
    def test_a_page_size_out_of_range_is_a_400_not_quietly_replaced(self, api, alice, jobs, size):
        response = api(alice).get("/api/v1/jobs/", {"page_size": size})
        assert response.status_code == 400
        assert list(error_of(response)["fields"]) == ["page_size"]

    def test_a_page_past_the_end_is_a_json_404(self, api, alice, jobs):
        response = api(alice).get("/api/v1/jobs/", {"page": 9})
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
