"""Shared by the benchmark scripts: the CPU line for headings, and printing a
result section (and appending it to a markdown file when asked)."""
import platform


def cpu_line():
    """The CPU's model name (Linux /proc/cpuinfo), else what platform says."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def publish(text, append=None):
    """Print `text`; with `append`, add it to that file after a blank line."""
    print(text)
    if append:
        with open(append, "a") as f:
            f.write("\n" + text)
