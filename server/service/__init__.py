"""The gRPC service (`internal-inpaint serve`): what runs inside the long-lived server process.

``serve`` starts and drains the server, ``service`` answers the calls, ``jobs`` queues and runs the jobs on
the device, ``spool`` keeps them on disk, ``uploads`` receives frames, ``specs`` checks a job's spec and turns
it into the library's, ``paths`` and ``security`` guard the file system and the network, ``errors`` maps
failures to gRPC status codes; ``child_process`` starts a server in a process of its own (tests, benchmarks).
Nothing is imported here: ``child_process`` and ``errors`` stay light for a parent that does not serve.
"""
