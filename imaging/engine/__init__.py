"""The image job engine: validation, pacing, submission, batched polling, completion, remedy.

Views, the API and django-q2 tasks call these service functions; none re-implements a rule.
Each step is a single pass that returns what it did, so tests can drive one step at a time.
"""
