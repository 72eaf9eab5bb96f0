"""What an operator watches: the Snowsight views and the reconciliation of a target with its source."""
