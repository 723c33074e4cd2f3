"""What the benchmarks read off this machine and its processes (Linux /proc), shared by
bench/pages.py and bench/live_fanout.py."""

import contextlib
import os
import platform
import re
import subprocess
from pathlib import Path


def children(pid: int) -> list[int]:
    """Return the pids whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            # Fields after the command name, which may contain spaces: state, ppid, ...
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    """Return every process below `pid`: children, their children, and so on."""
    found, queue = [], [pid]
    while queue:
        for child in children(queue.pop()):
            found.append(child)
            queue.append(child)
    return found


def rss_kib(pid: int) -> int:
    """Return the resident memory of `pid` in KiB, or 0 if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


def command_output(*command: str) -> str:
    """Return what `command` printed (both streams: some tools print versions on stderr)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "?"
    return (done.stdout + done.stderr).strip()


def machine() -> str:
    """Return the CPU model, cores, memory, architecture and kernel, in one line."""
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with contextlib.suppress(OSError, AttributeError):
        kib = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        memory = f"{int(kib.group(1)) / 1024 / 1024:.1f} GiB" if kib else "?"
    return (
        f"{model}, {os.cpu_count()} cores, {memory} RAM, {platform.machine()}, "
        f"Linux {platform.release()}"
    )


def replace_section(path: Path, heading: str, section: str, *, missing_goes_first: bool) -> None:
    """Put `section` (a Markdown section starting with the line `heading`) in `path` in
    place of the section it replaces, up to the next "## " heading; a new one goes
    before the first section or at the end. Every other section is kept as it is."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        first = re.search(r"^## ", text, re.MULTILINE) if missing_goes_first else None
        at = first.start() if first else len(text)
        text = text[:at].rstrip("\n") + "\n\n" + section + "\n" + text[at:]
    path.write_text(text.rstrip("\n") + "\n")
