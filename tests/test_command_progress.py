"""One progress bar for management commands and the benchmark; a command's bulk write that
DynamoDB keeps refusing ends as the command's error, with the bar finished."""

import io
import threading

import pytest
from django.core.management.base import CommandError

from chatsite import batch
from chatsite.progress import ProgressBar, command_progress


def test_unprocessed_items_become_a_command_error_and_the_bar_ends_its_line():
    stream = io.StringIO()
    with pytest.raises(CommandError, match="run the command again"):
        with command_progress("purging art", 30, stream=stream) as bar:
            bar(5)
            raise batch.UnprocessedItemsRemain("25 items still unprocessed; run the command again")
    assert stream.getvalue().endswith("\n") and "5/30" in stream.getvalue()


def test_other_errors_pass_through_unchanged():
    with pytest.raises(KeyError):
        with command_progress("x", 1, stream=io.StringIO()):
            raise KeyError("bug")


def test_the_bar_counts_exactly_when_advanced_from_several_threads():
    stream = io.StringIO()
    bar = ProgressBar("big room", 4000, stream=stream, interval=0)
    threads = [threading.Thread(target=lambda: [bar(1) for _ in range(1000)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bar.finish()
    assert bar.done == 4000 and "4,000/4,000" in stream.getvalue().splitlines()[-1]
