"""Someone outside a project never learns that its volumes or jobs exist: every page and action
of demo-project-1 answers charlie (no project) and pat (demo-project-2 only) exactly as it
answers for a project or job that does not exist."""

import pytest

from imaging.models import ImageJob, JobState
from tests.support.demo import CENTOS_WEB
from tests.support.jobs import make_job
from tests.web.page import Page

MISSING = 999_999


def urls(project_id, job_id):
    return {
        "volumes page": ("get", f"/projects/{project_id}/volumes/"),
        "refresh button": ("post", f"/projects/{project_id}/volumes/"),
        "create form": ("get", f"/projects/{project_id}/volumes/{CENTOS_WEB}/create-image/"),
        "create": ("post", f"/projects/{project_id}/volumes/{CENTOS_WEB}/create-image/"),
        "job page": ("get", f"/jobs/{job_id}/"),
        "live fragment": ("get", f"/jobs/{job_id}/?partial=1"),
        "cancel": ("post", f"/jobs/{job_id}/cancel/"),
        "retry": ("post", f"/jobs/{job_id}/retry/"),
        "after-task": ("post", f"/jobs/{job_id}/after-task/"),
    }


def main_text(response) -> str:
    return Page(response).main.text


@pytest.mark.parametrize("outsider", ["charlie", "pat"])
@pytest.mark.parametrize("what", list(urls(0, 0)))
def test_an_outsider_gets_the_same_not_found_as_for_nothing_at_all(
    signed_in, project, request, bob, outsider, what
):
    job = make_job(project, bob, state=JobState.FAILED, image_name="secret-project-image")
    client = signed_in(request.getfixturevalue(outsider))
    method, url = urls(project.pk, job.pk)[what]
    data = {"image_name": "x", "preparation_confirmed": "on", "task": "restart_server"}

    answer = getattr(client, method)(url, data if method == "post" else None)
    method, missing_url = urls(MISSING, MISSING)[what]
    nothing = getattr(client, method)(missing_url, data if method == "post" else None)

    assert answer.status_code == nothing.status_code == 404
    assert (
        main_text(answer)
        == main_text(nothing)
        == ("Not found There is nothing here, or nothing you may see. Back to the dashboard")
    )
    assert "demo-project-1" not in answer.content.decode()
    assert "secret-project-image" not in answer.content.decode()
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert ImageJob.objects.count() == 1, "nothing was created or retried"


def test_pats_pages_do_not_list_the_other_projects_jobs_or_events(signed_in, project, bob, pat):
    make_job(project, bob, image_name="secret-project-image")
    client = signed_in(pat)
    for url in ("/", "/jobs/", "/audit/", "/audit/?export=csv", "/audit/?export=json"):
        body = client.get(url).getvalue().decode()  # the exports are streamed
        assert "secret-project-image" not in body, url
        assert "demo-project-1" not in body, url
