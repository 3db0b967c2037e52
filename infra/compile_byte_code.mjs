// Compile a folder's modules to byte code with Pyodide: CPython compiled to WebAssembly, run by Node.
//
//   node infra/compile_byte_code.mjs FOLDER
//
// For a target Python that is not installed here (Lambda's), Pyodide's CPython of the same version
// writes the same byte code (byte code is platform independent). The folder is mounted into
// Pyodide's file system and compile_byte_code.py (beside this file) runs on it there: the same
// compilation, report and rules as with a native interpreter. Exits nonzero only when Pyodide
// cannot run or the folder cannot be read; a module that does not compile stays source only.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { loadPyodide } from "pyodide";

const folder = process.argv[2];
if (process.argv.length !== 3) {
  process.stderr.write("usage: node compile_byte_code.mjs FOLDER\n");
  process.exit(2);
}
try {
  const script = readFileSync(new URL("./compile_byte_code.py", import.meta.url), "utf8");
  const pyodide = await loadPyodide({
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
  });
  const mounted = "/build";
  pyodide.FS.mkdir(mounted);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: resolve(folder) }, mounted);
  pyodide.globals.set("argv", pyodide.toPy(["compile_byte_code.py", mounted]));
  pyodide.runPython("import sys; sys.argv = list(argv); del argv");
  pyodide.runPython(script);
} catch (error) {
  const reason = error instanceof Error ? error.message : JSON.stringify(error); // FS errors are plain objects
  process.stderr.write(`compile_byte_code: ${reason}\n`);
  process.exit(1);
}
