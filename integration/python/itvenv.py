"""Re-runs the calling script under integration/.venv's python when the current
interpreter lacks the OTLP stubs and install.sh put them in that venv instead
(Debian's system python refuses `pip install` outside a venv)."""

import os
import sys

VENV_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".venv")
VENV_PY = os.path.join(VENV_DIR, "bin", "python")


def ensure():
    try:
        import grpc  # noqa: F401
        from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2  # noqa: F401
        return
    except ImportError:
        pass
    # A venv's python is a symlink to the base interpreter: compare prefixes, not paths.
    if os.path.exists(VENV_PY) and os.path.abspath(sys.prefix) != os.path.abspath(VENV_DIR):
        os.execv(VENV_PY, [VENV_PY, *sys.argv])
