"""Runs a command on a pseudo-terminal like a user at a terminal: waits for the "Username: "
prompt and types $PTY_USERNAME, waits for "Password: " and types $PTY_PASSWORD, then prints
everything the terminal showed and exits with the command's exit code."""
import os
import pty
import select
import sys
import time

argv = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)

seen = b""


def read_some(timeout):
    global seen
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return False
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        return None
    if not chunk:
        return None
    seen += chunk
    return True


def wait_for(marker, timeout=30):
    deadline = time.time() + timeout
    while marker not in seen:
        left = deadline - time.time()
        if left <= 0 or read_some(left) is None:
            sys.stdout.buffer.write(seen)
            sys.stderr.write(f"timeout or EOF waiting for {marker!r}\n")
            sys.exit(99)


wait_for(b"Username: ")
os.write(fd, os.environ["PTY_USERNAME"].encode() + b"\n")
wait_for(b"Password: ")
os.write(fd, os.environ["PTY_PASSWORD"].encode() + b"\n")
while read_some(60) is not None:
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(seen)
sys.exit(os.waitstatus_to_exitcode(status))
