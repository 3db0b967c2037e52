"""Compile every module under a folder to byte code for the Python that runs this script.

``python compile_byte_code.py FOLDER`` (or Pyodide's CPython, through ``compile_byte_code.mjs``)
writes ``__pycache__/<module>.<cache tag>.pyc`` beside each ``.py`` and prints one JSON line: the
Python version, its cache tag and magic number, how many modules compiled and which did not.

The byte code is unchecked-hash (PEP 552): used as it is, whatever the files' times after zip and
unzip. Each file's recorded name is its path inside the folder, so the bytes do not depend on
where the folder was built (Python replaces it with the path it imports from). A file that does
not compile (test data, another Python's syntax) stays source only: it is listed, not an error.

Standard library only: it runs on the target's Python, which is not the one running the synth.
"""

import importlib.util
import json
import os
import platform
import py_compile
import sys


def compile_tree(root: str) -> dict[str, object]:
    compiled, failed = 0, []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(name for name in subdirectories if name != "__pycache__")
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root)
            try:
                py_compile.compile(
                    path, dfile=relative, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
                )
            except py_compile.PyCompileError as error:
                failed.append(f"{relative}: {error.exc_type_name}")
            else:
                compiled += 1
    return {
        "python": platform.python_version(),
        "cache_tag": sys.implementation.cache_tag,
        "magic": importlib.util.MAGIC_NUMBER.hex(),
        "compiled": compiled,
        "failed": failed,
    }


if __name__ == "__main__":
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: compile_byte_code.py FOLDER")
    print(json.dumps(compile_tree(sys.argv[1])))
