"""The ``geobatch`` command line (see :mod:`geobatch.cli.main`)."""
