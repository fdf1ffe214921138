"""Fall detection on a wearable's raw accelerometer stream, small enough for the gateway."""
