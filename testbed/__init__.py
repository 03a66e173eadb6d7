"""What tests and benchmarks stand on, and the product never imports: a fake Stripe server
(localstripe, extended) and finalized documents written straight into the warehouse."""
