"""The Lambda exporter: runs a server-side export of one table window to S3, then writes its manifest."""

__version__ = "0.1.0"
