"""`k5project check` prints the endpoints it found in K5's catalog, and how it found them."""

import pytest
from django.core.management import CommandError, call_command

from imaging.models import K5Project
from tests.support.demo import demo_scenario


def check(k5sim, capsys) -> list[str]:
    call_command("seed_demo", "--auth-url", k5sim.auth_url)
    capsys.readouterr()
    call_command("k5project", "check", "demo-project-1")
    return capsys.readouterr().out.splitlines()


@pytest.mark.django_db
def test_check_prints_each_endpoint_found(k5sim, capsys):
    lines = check(k5sim, capsys)
    project_id = k5sim.project_id("demo-project-1")

    assert lines[0].startswith("demo-project-1: OK - signed in as demo-user")
    assert lines[1:] == [
        f"  blockstorage: {k5sim.base_url}/blockstorage/v2/{project_id} "
        "(by service type 'volumev2')",
        f"  image: {k5sim.base_url}/image (by service type 'image')",
        f"  compute: {k5sim.base_url}/compute/v2/{project_id} (by service type 'compute')",
    ]


@pytest.mark.django_db
def test_check_says_when_only_k5s_endpoint_names_found_them(k5sim, capsys):
    k5sim.reset(scenario={**demo_scenario(), "catalog": "k5-endpoint-names"})

    lines = check(k5sim, capsys)

    assert lines[0].startswith("demo-project-1: OK")
    assert [line.rsplit("(by ", 1)[1] for line in lines[1:]] == [
        "endpoint name 'blockstoragev2')",
        "endpoint name 'image')",
        "endpoint name 'compute')",
    ]


@pytest.mark.django_db
def test_check_in_the_wrong_region_names_what_it_searched(k5sim, capsys):
    call_command("seed_demo", "--auth-url", k5sim.auth_url)
    K5Project.objects.filter(name="demo-project-1").update(region="uk-1")

    with pytest.raises(CommandError) as raised:
        call_command("k5project", "check", "demo-project-1")

    message = str(raised.value)
    assert "no public endpoint in region 'uk-1' with service type 'volumev2'" in message
    assert "endpoint name 'blockstoragev2'" in message and "only in: jp-east-1" in message
