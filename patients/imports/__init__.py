"""Bringing a clinic's existing records in from a spreadsheet, and the blank spreadsheets to fill.

The reading side, pure of the database, one module per step:

- ``files``: a CSV or Excel file read into a table of text (its headings, and each row with the
  number the spreadsheet shows), or refused whole, with the reason in a coordinator's words;
- ``columns``: the columns of each kind of import (patients, placements, therapy sessions), how the
  file's headings find them, and the templates (CSV and Excel) with those columns as their headings;
- ``values``: a cell's text read as a day, yes or no, or one of a list of choices.
"""
