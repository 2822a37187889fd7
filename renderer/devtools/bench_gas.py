"""`chaos bench gas`: the gas of the canvas's and the colour pools' transactions, in one command.

Runs the brownie scripts one after the other, each in a child process whose output
streams to this terminal:

    scripts/gas.py       mint, transfers beside OpenZeppelin's transferFrom, commit, a 10-token commitBatch
    scripts/gas_observer.py observe, seal, reveal, setContractURI
    scripts/gas_phoenix.py  thermal oracle posts; the Last Frame auction's open, commit, reveal, settle
    scripts/gas_amm.py   ColourPools buy and sell beside a Uniswap v2 pair.swap; its last line,
                         the bench's last, is `buy/uniswap-v2-swap gas ratio: R`

Each child loads the script from its file (any folder works, unlike `brownie run`) with brownie's `development` network
moved to a free port, where brownie launches a throwaway Anvil. Plain `brownie run` would
*attach* to any node already on 8545 (the renderer's default RPC URL) and deploy its
throwaway contracts there.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

from ..errors import ChaosError
from ..project import PROJECT_ROOT, node_modules
from .nodes import free_port

# The pools' script last: its ratio is the bench's closing line.
SCRIPTS = ("scripts/gas.py", "scripts/gas_observer.py", "scripts/gas_phoenix.py", "scripts/gas_amm.py")


def _environment() -> dict[str, str]:
    """This environment, with Anvil (node_modules/.bin) and this Python's scripts first on PATH."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")  # lines appear as the child prints them
    path = [str(node_modules() / ".bin"), str(Path(sys.executable).parent), env.get("PATH", "")]
    env["PATH"] = os.pathsep.join(path)
    return env


def run_gas_bench(scripts: tuple[str, ...] = SCRIPTS) -> None:
    """Run each gas script in a child process, its output straight to ours; raises on the first failure."""
    for script in scripts:
        print(f"== {script} ==", flush=True)
        command = [sys.executable, "-m", "renderer.devtools.bench_gas", script]
        code = subprocess.run(command, cwd=PROJECT_ROOT, env=_environment()).returncode
        if code != 0:
            raise ChaosError(f"{script} failed (exit code {code}); its output is above")


def run_script(script: str, port: int) -> None:
    """In the child: SCRIPT's main() under brownie, on a fresh Anvil that brownie launches on `port`."""
    warnings.filterwarnings("ignore", message=r"rpc\.", category=FutureWarning)  # brownie's own deprecations
    os.chdir(PROJECT_ROOT)  # brownie resolves contracts, remappings and scripts from the project root
    sys.path.insert(0, str(PROJECT_ROOT))  # the scripts import `scripts.deploy`
    from brownie import network, project
    from brownie._config import CONFIG

    from ..deploy import load_script, use_project_compiler

    use_project_compiler()
    canvas_project = project.load(PROJECT_ROOT, name="ChaosCanvasProject")
    canvas_project._add_to_main_namespace()  # the scripts do `from brownie import ChaosCanvas`
    CONFIG.networks["development"]["cmd_settings"]["port"] = port
    network.connect("development")
    try:
        load_script(Path(script).stem).main()  # not brownie's `run`: see load_script
    finally:
        with contextlib.redirect_stdout(io.StringIO()):  # keep the script's own last line the last one
            network.disconnect()  # stops the Anvil brownie launched
        canvas_project.close()


if __name__ == "__main__":
    run_script(sys.argv[1], free_port())
