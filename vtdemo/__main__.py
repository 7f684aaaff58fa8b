import sys

from vtdemo.cli import main

sys.exit(main())
