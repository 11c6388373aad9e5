from django.urls import path

from imaging import views
from imaging.web import batches, dashboard, jobs, volumes

urlpatterns = [
    path("", dashboard.dashboard, name="home"),
    path("projects/<int:project_id>/volumes/", volumes.volumes, name="volumes"),
    path(
        "projects/<int:project_id>/volumes/<str:volume_id>/create-image/",
        volumes.create_image,
        name="create-image",
    ),
    path("projects/<int:project_id>/batches/new/", batches.batch_create, name="batch-create"),
    path("projects/<int:project_id>/schedules/", batches.schedules, name="schedules"),
    path("batches/<int:batch_id>/", batches.batch_page, name="batch"),
    path("batches/<int:batch_id>/cancel/", batches.batch_cancel, name="batch-cancel"),
    path("batches/<int:batch_id>/retry-failed/", batches.batch_retry_failed, name="batch-retry"),
    path("schedules/<int:schedule_id>/", batches.schedule_page, name="schedule"),
    path("schedules/<int:schedule_id>/action/", batches.schedule_action, name="schedule-action"),
    path("jobs/", jobs.job_list, name="jobs"),
    path("jobs/<int:job_id>/", jobs.job_page, name="job"),
    path("jobs/<int:job_id>/cancel/", jobs.job_cancel, name="job-cancel"),
    path("jobs/<int:job_id>/retry/", jobs.job_retry, name="job-retry"),
    path("jobs/<int:job_id>/after-task/", jobs.job_after_task, name="job-after-task"),
    path("jobs/<int:job_id>/steps/<slug:step>/retry/", jobs.job_step_retry, name="job-step-retry"),
    path(
        "jobs/<int:job_id>/steps/<slug:step>/mark-done/",
        jobs.job_step_mark_done,
        name="job-step-mark-done",
    ),
    path("jobs/<int:job_id>/restore/", jobs.job_restore, name="job-restore"),
    path("audit/", jobs.audit, name="audit"),
    path("profile/", views.profile, name="profile"),
]
