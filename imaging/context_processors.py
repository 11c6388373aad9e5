"""Names every template may use, so templates compare with the vocabulary, not bare strings
(`{% if job.state == JobState.SYNC_FAILED %}`)."""

from imaging.models import JobState, OsFamily


def vocabulary(request) -> dict:
    return {"JobState": JobState, "OsFamily": OsFamily}
