"""Server-rendered HTML pages: the signing page, the auditor's verification page."""
