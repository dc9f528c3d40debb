"""The function the docs call ``app.handler`` (Lambda's ``module.function``): stands in for the reader's own.

It prints the identifier of each record it handles.
"""

from batchmap.handler import batch_handler
from batchmap.records import Record


@batch_handler(concurrency=4)
def handler(record: Record) -> None:
    print("handled", record.id)
