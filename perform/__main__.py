import sys

from perform.cli import main

sys.exit(main())
