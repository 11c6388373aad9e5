"""The registry of what the portal writes (imaging/messages.py) is complete in Japanese, and
the migration that introduced codes gave the events and errors written before it theirs."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone, translation
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from imaging.engine.errors import Refusal, interpolate_lazy
from imaging.k5 import K5Unavailable
from imaging.messages import MESSAGES, k5_words, render, render_text, said
from imaging.models import ImageJob, JobEvent, JobState

# Templates that read the same in every language (an HTTP call: method, path, status).
LANGUAGE_NEUTRAL = {"k5.call", "text.literal"}  # an HTTP call line; a text kept as written


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"%\((\w+)\)s", text))


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_every_code_has_a_japanese_template_with_the_same_placeholders(code):
    with translation.override("en"):
        english = str(MESSAGES[code])
    with translation.override("ja"):
        japanese = str(MESSAGES[code])
    assert english, code
    if code not in LANGUAGE_NEUTRAL:
        assert japanese != english, f"{code} has no Japanese"
    assert placeholders(japanese) == placeholders(english), code


def test_an_unknown_code_is_refused_when_written_and_read_as_well_as_can_be():
    with pytest.raises(KeyError):
        said("no.such.code")
    assert render("written.by.a.newer.version", {"text": "hello"}) == "hello"


def test_durations_and_moments_read_in_the_readers_words_and_zone():
    waiting = said("waiting.rate_limited", wait_seconds=3600)
    assert render(waiting.code, waiting.params, "en") == (
        "K5's upload limit is reached; next try after 60 min."
    )
    assert render(waiting.code, waiting.params, "ja").endswith("60 分 後に再試行します。")
    run = said("schedule.run_started", due_at="2026-12-01T00:00:00+00:00", batch=3)
    with timezone.override("Asia/Tokyo"):
        assert "2026-12-01 09:00" in render(run.code, run.params, "ja")


BEFORE = [("imaging", "0014_batch_and_schedule_automation")]
AFTER = [("imaging", "0015_messages_as_codes")]
REASON = "ERROR:A timeout occurred during synchronize image the server(http://192.0.2.12:9292)"


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_codes_to_the_sentences_written_before_it(project, bob):
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps
        Job, Event = old.get_model("imaging", "ImageJob"), old.get_model("imaging", "JobEvent")
        job = Job.objects.create(
            project_id=project.pk,
            volume_id="v-1",
            image_name="web-golden",
            preparation_confirmed="linux-network-settings-removed",
            requested_by_name="bob",
            state="sync_failed",
            error_message="The image is not usable: registering it to availability zone "
            "jp-east-1b failed.",
            error_detail=REASON,
        )
        written = {
            "Requested image 'web-golden' from volume centos-web-01.": "job.requested",
            "Upload slot taken; sending to K5.": "slot.taken",
            "K5 accepted the upload; image 43d6 is being created (sent with a K5 sign-in valid "
            "until 2026-12-07T04:00:00+00:00, for a copy expected to take 7 min).": (
                "upload.accepted"
            ),
            "The image could not be registered to availability zone jp-east-1b. The remedy is "
            "to delete the image and create it again.": "sync.failed",
            "Something a person wrote by hand.": "",
        }
        for message in written:
            Event.objects.create(
                project_id=project.pk,
                job_id=job.pk,
                kind="transition",
                actor_name="worker",
                message=message,
                detail={"sync_status_reason": REASON} if "remedy" in message else {},
            )

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        executor.loader.build_graph()

        events = {event.message: event for event in JobEvent.objects.filter(job_id=job.pk)}
        assert {message: events[message].code for message in written} == written
        requested = events["Requested image 'web-golden' from volume centos-web-01."]
        assert requested.params == {"image_name": "web-golden", "volume": "centos-web-01"}
        assert "web-golden" in render(requested.code, requested.params, "ja")
        failed = events[next(m for m in written if "remedy" in m)]
        assert f"「K5 の応答: {REASON}」" in render(failed.code, failed.params, "ja")
        by_hand = events["Something a person wrote by hand."]
        with translation.override("ja"):
            assert by_hand.text == "Something a person wrote by hand.", "kept as written"

        migrated = ImageJob.objects.get(pk=job.pk)
        assert migrated.error_code == "error.sync_failed"
        with translation.override("ja"):
            assert "jp-east-1b" in migrated.error_text and "アベイラビリティゾーン" in (
                migrated.error_text
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_a_refusal_is_kept_as_meaning_and_reads_again_in_each_language():
    ended = Refusal(
        "not_allowed",
        interpolate_lazy(
            _("The job has already ended (%(state)s)."),
            # A word no msgid gives again (a label, lowercased): kept in every language.
            {"state": lazy(lambda: str(JobState.FAILED.label).lower(), str)()},
        ),
    )
    k5 = Refusal("k5_unavailable", "Quota exceeded for resource 'volumes'")
    stored = json.loads(json.dumps([ended.meaning, k5.meaning]))

    assert stored[0]["msgid"] == "The job has already ended (%(state)s)."
    for language in ("en", "ja"):
        with translation.override(language):
            assert render_text(stored[0], language) == str(ended.localized_message)
    assert render_text(stored[0], "en") == "The job has already ended (failed)."
    assert render_text(stored[0], "ja") != render_text(stored[0], "en")
    assert render_text(stored[1], "ja") == "Quota exceeded for resource 'volumes'"


def test_the_portals_own_finding_in_k5s_place_is_never_marked_as_k5s_words():
    """An error the portal raises itself where K5's answer would be (K5Error.said) is
    stored as meaning and read in each reader's language; K5's own words stay K5's."""
    finding = K5Unavailable("another worker has been signing in to K5 for too long")
    finding.said = said("k5.sign_in_busy")
    ours = said("upload.k5_unreachable", k5_says=k5_words(finding))
    theirs = said("upload.k5_unreachable", k5_says=k5_words(K5Unavailable("Service Unavailable")))

    assert render(ours.code, ours.params, "ja").endswith(
        "別のワーカーによる K5 へのサインインが長く続いています。後でもう一度試します。"
    )
    assert "K5 says" not in render(ours.code, ours.params, "en")
    assert "K5 の応答" not in render(ours.code, ours.params, "ja")
    assert render(theirs.code, theirs.params, "ja").endswith("「K5 の応答: Service Unavailable」")
