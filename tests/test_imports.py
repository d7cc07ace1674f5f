"""Light imports: the commands that need no style model, rendering and OSC never load torch.

Each runs in a fresh interpreter; when torch does get imported, the stack that imported it is
printed (a meta path finder that only watches), so the failure names the module to fix.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

WATCH = """
import sys, traceback

class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            sys.stderr.write("torch imported here:\\n" + "".join(traceback.format_stack()))
        return None

sys.meta_path.insert(0, Watch())
"""

COMMAND = """
from perform.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
"""

LIGHT = {
    "perform --version": COMMAND.format(argv=["--version"]),
    "perform bench --help": COMMAND.format(argv=["bench", "--help"]),
    "perform check config/show.yaml": COMMAND.format(argv=["check", "config/show.yaml"]),
    "import perform.bench": "import perform.bench",
    "import perform.render.renderer": "import perform.render.renderer",
    "import perform.render.projector, perform.osc.out": "import perform.render.projector, perform.osc.out",
}


@pytest.mark.parametrize("code", LIGHT.values(), ids=LIGHT.keys())
def test_torch_is_not_imported(code):
    probe = WATCH + code + "\nprint('torch' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.splitlines()[-1] == "False", out.stderr[-3000:]
