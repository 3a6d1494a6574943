"""``python -m pose_lifter.node`` = the ``pose_lifter_node`` console script."""
import sys

from .main import main

sys.exit(main())
