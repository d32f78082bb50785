"""`python scripts/bench.py …` runs the benchmarks as `scripts/bench …` does."""
import pathlib
import sys

here = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(here), str(here.parent)]

from benchmarks.cli import main  # noqa: E402

sys.exit(main())
