"""Forked workers that share a long list of work with this process, for the per-file pass.

`check_files` (entry.py) splits many files into chunks; this process and one
forked worker per spare core take chunk numbers in turn from a pipe, so a busy
core takes fewer. A worker writes length-prefixed messages to an unlinked file
that this process reads with pread between its own chunks; it never touches the
repository's cache database, and it leaves through os._exit whatever happens
(nothing of it reaches the terminal). Forking happens only on a single-threaded
process (forking one with other threads is unsafe).
"""

from __future__ import annotations

import gc
import marshal
import os
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import suppress

from ..store.states import FileRef
from .findings import Finding

PARALLEL_MIN = 2000  # below this many files one process checks them all


def worker_count(files: int) -> int:
    """How many processes should share the files: 1 unless there are many, cores to spare and fork is safe."""
    if files < PARALLEL_MIN or not hasattr(os, "fork"):
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
        threads = len(os.listdir("/proc/self/task"))  # forking a process with other threads is unsafe
    except (AttributeError, OSError):
        return 1
    if threads != 1:
        return 1
    return max(1, min(cores, files // (PARALLEL_MIN // 2)))


def tickets_for(count: int) -> int | None:
    """The read end of a pipe holding the numbers 0..count-1 (4 bytes each), or None."""
    try:
        read, write = os.pipe()
    except OSError:
        return None
    try:
        os.set_blocking(write, False)  # a full pipe fails here instead of waiting forever
        data = b"".join(i.to_bytes(4, "big") for i in range(count))
        while data:
            data = data[os.write(write, data) :]
    except OSError:
        os.close(read)
        return None
    finally:
        os.close(write)
    return read


def take(tickets: int) -> Iterator[int]:
    """Chunk numbers until the pipe is empty (a 4-byte read from a pipe is never split)."""
    while len(got := os.read(tickets, 4)) == 4:
        yield int.from_bytes(got, "big")


def send(out: int, payload: bytes) -> None:
    """One length-prefixed message; an empty one says the worker is done."""
    data = len(payload).to_bytes(8, "big") + payload
    while data:
        data = data[os.write(out, data) :]


def fork(work: Callable[[int, int], None], tickets: int) -> Worker | None:
    """Run work(tickets, out) in a forked process writing to the file out; None if that cannot start."""
    try:
        out, name = tempfile.mkstemp(prefix="canonry-check-")
        os.unlink(name)
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(out)
        return None
    if pid == 0:  # the worker: whatever happens, it leaves through os._exit, never a traceback
        status = 1
        try:
            gc.disable()  # the worker's objects die with it
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                signal.signal(signal.SIGINT, signal.SIG_DFL)  # ended quietly, not by a KeyboardInterrupt
            quiet = os.open(os.devnull, os.O_WRONLY)  # nothing of a worker reaches the terminal
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            work(tickets, out)
            status = 0
        except BaseException:
            pass
        finally:
            os._exit(status)
    return Worker(pid, out)


class Worker:
    """A forked worker and the file of its messages (read with pread: the offset is shared)."""

    def __init__(self, pid: int, out: int) -> None:
        self.pid, self.out, self.offset = pid, out, 0
        self.running = True  # not waited for yet
        self.reading = True  # more messages may come

    def receive(self, chunks: list[list[FileRef]], done: Callable[..., None], wait: bool) -> None:
        """Hand each complete message to done(index, findings, rows); with wait, let the worker end first.

        Only complete messages count, whatever the worker's exit: the caller checks
        the other chunks again.
        """
        if wait and self.running:
            self.running = False
            os.waitpid(self.pid, 0)
        while self.reading:
            head = os.pread(self.out, 8, self.offset)
            size = int.from_bytes(head, "big") if len(head) == 8 else -1
            body = os.pread(self.out, size, self.offset + 8) if size > 0 else b""
            if size == 0:
                self.reading = False  # the worker is done
            if size <= 0 or len(body) < size:
                return
            self.offset += 8 + size
            try:
                index, tuples, rows = marshal.loads(body)
                result = [[Finding.from_tuple(t) for t in fs] for fs in tuples]
                if (
                    not 0 <= index < len(chunks)
                    or len(result) != len(chunks[index])
                    or not isinstance(rows, list)
                ):
                    raise ValueError("a message that does not match its chunk")
            except (ValueError, TypeError, EOFError, IndexError):
                self.reading = False
                return
            done(index, result, rows)

    def close(self) -> None:
        if self.running:
            with suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
            with suppress(OSError):
                os.waitpid(self.pid, 0)
            self.running = False
        with suppress(OSError):
            os.close(self.out)
