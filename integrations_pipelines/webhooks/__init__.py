"""The webhook receiver: signature verification and the durable inbox."""
