"""Executes a notebook headless with nbclient, as tests/notebooks.rs runs
the ones under notebooks/: every cell in order in a fresh python3 kernel,
stopping at the first cell that raises. The executed copy goes to OUTPUT
(to read after a failure); the committed file is left as it is.

usage: execute_notebook.py NOTEBOOK OUTPUT"""

import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main(path, output):
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", allow_errors=False)
    try:
        client.execute()
    except CellExecutionError as e:
        nbformat.write(notebook, output)
        print(f"{path}: a cell failed (executed copy in {output}):\n{e}", file=sys.stderr)
        return 1
    nbformat.write(notebook, output)
    ran = sum(1 for cell in notebook.cells if cell.cell_type == "code")
    print(f"{path}: {ran} code cells ran")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
