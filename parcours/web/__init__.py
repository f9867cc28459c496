"""Server-rendered HTML pages: the signing page."""
