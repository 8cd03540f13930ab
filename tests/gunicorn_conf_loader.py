"""Load gunicorn.conf.py as a module, the way gunicorn does, for tests that check its values."""
import importlib.util
from pathlib import Path


def load():
    path = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"
    spec = importlib.util.spec_from_file_location("gunicorn_conf", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
