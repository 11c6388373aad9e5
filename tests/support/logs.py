"""Every line logged during a test, as the console handler writes it with LOG_FORMAT=json and
LOG_LEVEL=DEBUG: `debug_log` is the raw text, `lines()` the parsed lines."""

from __future__ import annotations

import io
import json
import logging

import pytest

from portal.logs import ContextFilter, JsonFormatter


@pytest.fixture
def debug_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def lines(debug_log):
    return lambda: [json.loads(line) for line in debug_log.getvalue().splitlines()]
