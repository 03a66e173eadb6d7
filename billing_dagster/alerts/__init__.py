"""Usage alerts and spending caps: which thresholds a period's figure crossed
(`thresholds`), what that changes in the recorded history (`transitions`), and that
history in the warehouse (`store`), evaluated after every metering run (`evaluation`)."""
