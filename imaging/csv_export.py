"""CSV files people open in a spreadsheet: no cell may run as a formula there.

A spreadsheet program reads a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage
return in front of one) as a formula, and a formula can fetch URLs or run commands on the
reader's machine. Image names, user names and K5's own messages all reach the audit exports,
so every text cell that starts with one of those characters gets a `'` in front, as OWASP
advises ("CSV Injection"): the spreadsheet shows the text as it was, and a program reading the
file back can drop that one leading quote.
"""

from __future__ import annotations

import csv

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """The value as a CSV cell that no spreadsheet runs: text starting like a formula gets a
    leading `'`; anything else (numbers, None, other text) is returned as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SpreadsheetSafeDictWriter(csv.DictWriter):
    """`csv.DictWriter` whose every cell went through `spreadsheet_safe`."""

    def writerow(self, rowdict):
        return super().writerow({key: spreadsheet_safe(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts):
        # DictWriter.writerows bypasses writerow; route it through it.
        for rowdict in rowdicts:
            self.writerow(rowdict)
