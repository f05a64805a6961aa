"""Running batches: executors that push chunks of requests through a geocoder."""
