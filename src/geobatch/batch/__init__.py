"""The batch layer: geocode a big input as independent tasks, on a local process pool or a
Dask cluster, with one coordinator that only routes slices and writes results in order.

- :mod:`.worker`: the geocoder of a worker process, opened once per index and kept;
- :mod:`.csvsplit`: a CSV byte stream cut into slices of whole records (quotes honoured);
- :mod:`.csvtask`: the task that turns one CSV slice into output CSV bytes;
- :mod:`.rowtask`: the task that answers a block of a job's stored rows as store records;
- :mod:`.executors`: the executor protocol, the local one, and how to open one;
- :mod:`.dask`: the same protocol over ``dask.distributed`` (imported only when asked for);
- :mod:`.csvrun`: the coordinator of a CSV run (order, retries, what is missing on failure).
"""
