"""What the models announce. Receivers are connected in `ImagingConfig.ready()`."""

from django.dispatch import Signal

# Sent with `job=` once an image job's move into a terminal state is saved (as NetBox ends its
# jobs with `job_end`); still inside the caller's transaction when there is one, so receivers
# that reach outside the database wait for the commit (`transaction.on_commit`).
job_finished = Signal()
