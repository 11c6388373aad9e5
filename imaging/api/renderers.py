import io
import json

from rest_framework import renderers
from rest_framework.renderers import BaseRenderer

from imaging.csv_export import SpreadsheetSafeDictWriter

# DRF's own HTML (bootstrap classes plus style="" attributes and a <style> element in its
# templates) needs inline styles; its scripts are files, so script-src stays as strict as
# everywhere. JSON and CSV answers keep the portal's policy unchanged.
BROWSABLE_API_POLICY = {"style-src": ["'self'", "'unsafe-inline'"]}


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API, with the Content-Security-Policy relaxed for inline styles only,
    on these HTML pages only."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            # What django-csp's @csp_update decorator sets; here it depends on the renderer
            # chosen for this answer, not on the view.
            response._csp_update = BROWSABLE_API_POLICY
        return super().render(data, accepted_media_type, renderer_context)


class CSVRenderer(BaseRenderer):
    """`?format=csv` on list endpoints: one row per item, nested values as JSON text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Errors never come here: imaging.api.errors answers them in JSON.
        if isinstance(data, dict) and "results" in data:
            data = data["results"]
        if isinstance(data, dict):  # one object, e.g. OPTIONS' description: one row
            data = [data]
        rows = list(data or [])
        header = list(rows[0].keys()) if rows else _serializer_fields(renderer_context)
        out = io.StringIO()
        if header:
            writer = SpreadsheetSafeDictWriter(out, fieldnames=header)
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {
                        key: json.dumps(value, ensure_ascii=False)
                        if isinstance(value, dict | list)
                        else value
                        for key, value in row.items()
                    }
                )
        return out.getvalue().encode(self.charset)


def _serializer_fields(renderer_context) -> list[str]:
    """The columns of an empty list: a spreadsheet of nothing still has its header row."""
    view = (renderer_context or {}).get("view")
    if view is None or not hasattr(view, "get_serializer"):
        return []
    return list(view.get_serializer().fields)
