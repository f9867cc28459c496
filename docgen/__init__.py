"""Document engine: employee data and DOCX templates to DOCX and PDF."""
