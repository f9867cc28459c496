"""The service layer: domain operations on the database and blobs, without HTTP."""
