import sys, pathlib  # noqa: E401  kept for `python scripts/bench.py`: the same as scripts/bench
sys.path[:0] = [str(pathlib.Path(__file__).resolve().parent), str(pathlib.Path(__file__).resolve().parent.parent)]
from benchmarks.cli import main; sys.exit(main())  # noqa: E402,E702
