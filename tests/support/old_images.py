"""Images of earlier jobs in every state a retry has to judge, added to the demo scenario.

`seed_old_images(k5sim)` resets the simulator to the demo plus these images of
demo-project-1; a test then makes a failed job owning one (`make_job(..., image_id=...)`).
"""

from __future__ import annotations

from tests.support.demo import OLD_IMAGE, demo_scenario, img

USABLE = img(91)  # active, no sync reason: "web-golden", the name make_job gives a job
SAVING = img(92)  # still saving (a job failed as stuck)
KILLED = img(93)  # killed (the copy failed)
SYNC_BROKEN = img(94)  # active, with K5's sync_status_reason

NAMES = {USABLE: "web-golden", SAVING: "saving-one", KILLED: "killed-one", SYNC_BROKEN: "broken"}


def seed_old_images(k5sim) -> None:
    scenario = demo_scenario()
    template = next(i for i in scenario["images"] if i["id"] == OLD_IMAGE)
    states = {
        USABLE: ("active", {}),
        SAVING: ("saving", {}),
        KILLED: ("killed", {}),
        SYNC_BROKEN: (
            "active",
            {"sync_status_reason": "ERROR:A timeout occurred during synchronize image"},
        ),
    }
    for image_id, (status, extra) in states.items():
        scenario["images"].append(
            {
                **template,
                "id": image_id,
                "name": NAMES[image_id],
                "status": status,
                "protected": False,
                "properties": {**template["properties"], **extra},
            }
        )
    k5sim.reset(scenario=scenario)


def images_in_k5(k5sim) -> set[str]:
    return {image["id"] for image in k5sim.state()["images"]}
