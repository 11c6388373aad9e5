"""Durations in messages read as people say them: a K5 token's 3 hours is "3 h", not "180 min"."""

import pytest

from imaging.engine.durations import duration_words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (45, "45 s"),
        (119, "119 s"),
        (720, "12 min"),
        (7199, "120 min"),
        (9000, "2.5 h"),
        (10800, "3 h"),
    ],
)
def test_it_words_a_duration_in_the_unit_people_use(seconds, words):
    assert duration_words(seconds) == words
