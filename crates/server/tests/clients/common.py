"""Shared by the client scripts: where the server is, small checks."""
import os
import sys

URL = os.environ["HEARTH_URL"]
MODEL = os.environ.get("MODEL", "smollm2")
API_KEY = os.environ.get("API_KEY", "")
FAILED = []


def check(name, cond, detail=""):
    if cond:
        print(f"ok: {name}")
    else:
        print(f"FAIL: {name} {detail}")
        FAILED.append(name)


def expect_error(name, fn, status, needle=None):
    """fn() must raise an error carrying HTTP `status` (and `needle` in its text)."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - any client's error type
        code = getattr(e, "status_code", None) or getattr(getattr(e, "response", None), "status_code", None)
        text = str(e)
        ok = code == status and (needle is None or needle in text)
        check(name, ok, f"got status {code}: {text[:300]}")
        return
    check(name, False, "no error raised")


def done():
    if FAILED:
        print(f"{len(FAILED)} failed: {FAILED}")
        sys.exit(1)
    print("all passed")
