import sys

from nux.cli import main

sys.exit(main())
