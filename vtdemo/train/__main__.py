"""python -m vtdemo.train {sr,classify,curves,out-of-class} ... — train the project's demo models (resumable), print
their curves, calibrate their out-of-class detectors; see --help."""
import argparse
import sys

from vtdemo.train import classify, curves, out_of_class, sr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vtdemo.train", description=__doc__)
    sub = parser.add_subparsers(dest="task", required=True)
    sr.build_parser(sub)
    classify.build_parser(sub)
    curves.build_parser(sub)
    out_of_class.build_parser(sub)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv  # recorded in the exported card
    args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
