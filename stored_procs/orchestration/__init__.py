"""The Task graph and its runs: the graph declared once, run in one session or as tasks, export
requests to the Lambda, leases, run ids and summaries."""
