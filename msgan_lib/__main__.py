"""``python -m msgan_lib`` runs the command-line interface (also what torchrun launches)."""

from msgan_lib.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
