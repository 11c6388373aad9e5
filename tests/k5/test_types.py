"""Parsing that needs no cloud: OS family hints, timestamps, Retry-After forms."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from imaging.k5.errors import K5RateLimited, error_from_response
from imaging.k5.types import Image, Server, Snapshot, Volume, os_family_of, parse_timestamp


@pytest.mark.parametrize(
    ("metadata", "family"),
    [
        ({"os_type": "windows"}, "windows"),
        ({"os_type": "linux", "os_distro": "centos"}, "linux"),
        ({"os_distro": "ubuntu"}, "linux"),
        ({"fcx.win": "true"}, "windows"),
        ({"fcx.centos": "True"}, "linux"),
        ({"fcx.win": "false", "fcx.rhel": "true"}, "linux"),
        ({"os_type": "linux", "fcx.win": "true"}, "unknown"),  # contradicting hints
        ({"image_name": "my-own-image"}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_it_tells_the_os_family_from_image_metadata(metadata, family):
    assert os_family_of(metadata) == family


@pytest.mark.parametrize(
    ("metadata", "family"),
    [
        # K5's imported images: os_type names the release, not the family.
        ({"os_type": "win2012R2SE"}, "windows"),
        ({"os_type": "Win2016SE"}, "windows"),
        ({"os_type": "rhel7"}, "linux"),
        ({"os_type": "centos7"}, "linux"),
        ({"os_type": "ubuntu16.04"}, "linux"),
        ({"os_type": "sles12sp3"}, "linux"),
        ({"os_type": "ol7"}, "linux"),
        ({"os_distro": "oraclelinux7"}, "linux"),
        ({"os_distro": "debian9"}, "linux"),
        ({"os_distro": "fedora28"}, "linux"),
        # K5's public images: a flag and no os_type.
        ({"fcx.win": "true"}, "windows"),
        ({"fcx.win2012r2": "true"}, "windows"),
        ({"fcx.ubuntu": "true", "fcx.base_image_id": "b1"}, "linux"),
        # The name of the image the volume was made from.
        ({"image_name": "Windows Server 2019 SE 64bit (English) 01"}, "windows"),
        ({"image_name": "CentOS 7.9 64bit (English) 01"}, "linux"),
        ({"image_name": "Red Hat Enterprise Linux 8.6 64bit (English) 01"}, "linux"),
        ({"image_name": "win2012R2SE-golden", "fcx.win": "true"}, "windows"),
        # Words that only begin like a family say nothing.
        ({"image_name": "winter-backup"}, "unknown"),
        ({"image_name": "old-data"}, "unknown"),
        # Contradicting hints, whatever their source, still ask the person.
        ({"os_type": "rhel7", "fcx.win": "true"}, "unknown"),
        ({"os_type": "win2012R2SE", "image_name": "CentOS 7.9 64bit"}, "unknown"),
    ],
)
def test_it_tells_the_os_family_by_how_k5s_values_begin(metadata, family):
    assert os_family_of(metadata) == family


def test_it_reads_cinder_volume_fields_including_string_booleans():
    volume = Volume.from_api(
        {
            "id": "v1",
            "name": "web",
            "status": "in-use",
            "size": 40,
            "availability_zone": "jp-east-1a",
            "bootable": "true",
            "volume_type": "M1",
            "attachments": [{"server_id": "s1", "device": "/dev/vda", "id": "a1"}],
            "volume_image_metadata": {"os_type": "linux", "min_disk": 0},
        },
        request_id="req-1",
    )
    assert volume.bootable is True
    assert volume.attached_server_id == "s1"
    assert volume.image_metadata == {"os_type": "linux", "min_disk": "0"}
    assert volume.os_family == "linux"
    assert volume.request_id == "req-1"
    assert Volume.from_api({"id": "v2", "bootable": "false"}).bootable is False


def test_it_keeps_vendor_properties_and_the_sync_status_reason_of_an_image():
    image = Image.from_api(
        {
            "id": "i1",
            "name": "web-2024",
            "status": "active",
            "owner": "p1",
            "created_at": "2024-05-01T09:00:00Z",
            "updated_at": "2024-05-01T09:05:00Z",
            "size": 1024,
            "protected": False,
            "fcx.base_image_id": "b1",
            "sync_status_reason": "ERROR:A timeout occurred during synchronize image",
        }
    )
    assert image.created_at == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    assert image.properties["fcx.base_image_id"] == "b1"
    assert image.sync_status_reason.startswith("ERROR:")
    assert not image.is_usable
    assert "status" not in image.properties


def test_it_reads_cinder_timestamps_as_utc():
    assert parse_timestamp("2014-10-11T11:26:56.000000") == datetime(
        2014, 10, 11, 11, 26, 56, tzinfo=UTC
    )
    assert parse_timestamp(None) is None


def _response(status, headers=None, body=b""):
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    response._content = body
    return response


def test_it_reads_retry_after_as_seconds_or_http_date_or_body():
    error = error_from_response(_response(413, {"Retry-After": "120"}), "POST", "/x")
    assert isinstance(error, K5RateLimited) and error.retry_after == 120

    when = datetime.now(UTC) + timedelta(seconds=90)
    error = error_from_response(
        _response(429, {"Retry-After": format_datetime(when, usegmt=True)}), "POST", "/x"
    )
    assert 85 <= error.retry_after <= 91

    body = b'{"overLimit": {"code": 413, "message": "Too many", "retryAfter": "30"}}'
    error = error_from_response(_response(413, {}, body), "POST", "/x")
    assert error.retry_after == 30 and error.message == "Too many"
    assert error.permanent is False


def test_a_snapshot_reads_cinder_v1_names_and_naive_times_as_utc():
    snapshot = Snapshot.from_api(
        {
            "id": "s1",
            "volume_id": "v1",
            "display_name": "old-style",
            "status": "available",
            "size": 80,
            "created_at": "2026-03-01T10:00:00.000000",
            "updated_at": None,
        },
        "req-1",
    )

    assert (snapshot.name, snapshot.size, snapshot.request_id) == ("old-style", 80, "req-1")
    assert snapshot.created_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert snapshot.updated_at is None


def test_a_volume_keeps_its_updated_at_out_of_equality():
    data = {"id": "v1", "status": "available", "updated_at": "2026-03-01T10:00:00.000000"}
    later = {**data, "updated_at": "2026-03-01T11:00:00.000000"}

    assert Volume.from_api(data).updated_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert Volume.from_api(data) == Volume.from_api(later)


def test_a_server_without_a_task_has_none_not_an_empty_string():
    assert Server.from_api({"id": "s", "OS-EXT-STS:task_state": ""}).task_state is None
    assert Server.from_api({"id": "s"}).task_state is None
