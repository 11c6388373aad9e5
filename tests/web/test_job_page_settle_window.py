"""The job page says until when the zones are watched for a failed registration."""

from datetime import timedelta

from django.utils import timezone

from imaging.models import JobState
from tests.support.jobs import make_job
from tests.web.page import page


def watch_note(view):
    notes = view.main.all("p", id_="zones-watch")
    return notes[0].text if notes else None


def test_a_verifying_job_says_until_when_its_zones_are_watched(signed_in, project, bob):
    until = timezone.now().replace(microsecond=0) + timedelta(minutes=17)
    job = make_job(project, bob, state=JobState.VERIFYING, image_id="img-1", sync_watch_until=until)

    english = page(signed_in(bob), f"/jobs/{job.pk}/")
    japanese = page(signed_in(bob, HTTP_ACCEPT_LANGUAGE="ja"), f"/jobs/{job.pk}/")
    live = page(signed_in(bob), f"/jobs/{job.pk}/", partial=1)

    shown = timezone.localtime(until).strftime("%Y-%m-%d %H:%M")
    assert watch_note(english) == (
        f"Watching every zone for a registration failure until {shown}; if none is reported "
        "by then, the image counts as usable everywhere."
    )
    assert watch_note(japanese).startswith(f"{shown} まで、各ゾーンへの登録失敗")
    assert shown in live.text


def test_other_states_say_nothing_of_it(signed_in, project, bob):
    for state in (JobState.UPLOADING, JobState.SUCCEEDED):
        job = make_job(
            project,
            bob,
            state=state,
            image_id=f"img-{state}",
            volume_id=f"vol-{state}",
            sync_watch_until=timezone.now(),
        )
        assert watch_note(page(signed_in(bob), f"/jobs/{job.pk}/")) is None
