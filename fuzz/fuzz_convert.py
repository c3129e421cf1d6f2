"""Atheris (libFuzzer for Python): weights_tools' checkpoint reader (zip container, restricted
unpickler, lazy tensors) and converter. The first input byte picks the mode: 0, the rest is a whole
.pth file; otherwise the rest is data.pkl inside a torch-style zip whose storage records are the
seed state_dict's. ConvertError (and its UnsafePickleError) is the expected refusal; any other
exception, MemoryError included, a hang or a crash is a finding.

Run: fuzz/run_convert_fuzz.sh SECONDS (makes its own venv with atheris and numpy)."""
import io
import os
import sys
import tempfile
import zipfile

import atheris

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(HERE, "..", "weights_tools"))  # after the stdlib: it has an inspect.py
with atheris.instrument_imports():
    import converters

SEED = os.path.join(HERE, "corpus", "convert", "state_dict.pth")
with zipfile.ZipFile(io.BytesIO(open(SEED, "rb").read()[1:])) as _zf:
    STORAGES = {n.split("/data/", 1)[1]: _zf.read(n) for n in _zf.namelist() if "/data/" in n}
TMP = tempfile.mkdtemp(prefix="sr_fuzz_convert_")
PATH = os.path.join(TMP, "input.pth")


def test_one_input(data):
    if not data:
        return
    if data[0] == 0:
        payload = data[1:]
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("archive/data.pkl", data[1:])
            zf.writestr("archive/version", "3\n")
            for key, raw in STORAGES.items():
                zf.writestr("archive/data/" + key, raw)
        payload = buf.getvalue()
    with open(PATH, "wb") as fp:
        fp.write(payload)
    try:
        converters.convert(PATH, {"ratio": 2})
    except converters.ConvertError:
        pass


def main():
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
