"""The study: the runner that executes every notebook on a profile (`runner`), its command line
(`cli`, `python -m zerolib.study`), the Dask runner (`cluster`) and the report (`report`).

The top layer of zerolib: it imports the experiments, nothing imports it.
"""

from .cli import main

__all__ = ["main"]
