"""``ros2 launch pose_lifter lift.launch.py cameras:=front,left`` stopped by SIGINT or SIGTERM to
its process group while both nodes lift 10 persons at 300 Hz: scripts/launch_sigint_check.py
--load as a user runs it (one run per signal here; the README gives 20-run figures). Clean means
exit 0, no traceback or error line in the output, no process left, and both nodes served the
load before the signal."""
import re
import signal
import subprocess
import sys

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')

from launch_support import require_ros_tools  # noqa: E402
from node_support import ROOT, fresh_domain_id, subprocess_env  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
SCRIPT = ROOT / 'scripts' / 'launch_sigint_check.py'
TIMEOUT_S = 300


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_launch_stops_cleanly_under_300hz_load(signum):
    require_ros_tools()
    name = signum.name.removeprefix('SIG')
    out = subprocess.run([sys.executable, str(SCRIPT), '--runs', '1', '--load', '--signal', name],
                         env=subprocess_env(fresh_domain_id()), capture_output=True, text=True,
                         timeout=TIMEOUT_S, start_new_session=True)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert re.search(r'served 30 each under load=True', text), text
    assert f'SIG{name} under load (10 persons' in text and '1/1 clean' in text, text
    assert 'Traceback' not in text, text
