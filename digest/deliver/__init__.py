"""Getting messages to the relay: transports, the rate limiter and the send loop."""
