"""Several alert nodes: partition leases on the shared store, and the feed of alert
changes every node's desk listens to."""
