"""Export strategies behind one interface: `copy` (any PostgreSQL) and `aws_s3` (Aurora's extension)."""

from __future__ import annotations

from lambda_exporter.strategies.aws_s3 import AwsS3Strategy
from lambda_exporter.strategies.base import ExportedFiles, ExportStrategy, ExportTarget
from lambda_exporter.strategies.copy import CopyStrategy

STRATEGIES: dict[str, type[ExportStrategy]] = {"copy": CopyStrategy, "aws_s3": AwsS3Strategy}

__all__ = ["STRATEGIES", "AwsS3Strategy", "CopyStrategy", "ExportStrategy", "ExportTarget", "ExportedFiles"]
