"""Shared by the boto3 e2e scripts: record every check (failures do not stop the run) and hash files."""
import hashlib
import traceback

results = []


def check(name, fn):
    try:
        results.append({"check": name, "ok": True, "detail": fn()})
    except Exception as e:  # noqa: BLE001 - every failure is reported, not raised
        results.append({"check": name, "ok": False, "detail": "%s: %s" % (type(e).__name__, e),
                        "trace": traceback.format_exc(limit=4)})


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
