"""The contract shared by the Lambda exporter and the Snowflake procedures.

Standard library only: this package ships inside the Lambda zip and inside the Snowflake app stage.
"""

MANIFEST_VERSION = 1
