"""pose_lifter_training: offline training of the pose_lifter VAE lifter and its realism critic.

Preprocessing, geometry constants and metrics come from the runtime core (``pose_lifter.core``);
this package adds the torch side: data sampling, networks, objective, loop, export.
"""

__version__ = '0.1.0'
