"""The portal's settings with one more URL: a bare DRF endpoint, the API benchmark's baseline."""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.web.urls"
