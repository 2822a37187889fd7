"""Start and stop the real local nodes the demo and the tests use.

- Anvil, from npm `@foundry-rs/anvil-linux-amd64` (node_modules/.bin/anvil);
- a js-ipfs node (npm `ipfs`), which serves the Kubo RPC API on 127.0.0.1.

These are for local work only. Against a real deployment the daemon simply
connects to the RPC URL and the Kubo RPC endpoints it is given.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from ..errors import SetupError
from ..project import PROJECT_ROOT, node_modules


def _tool(name: str) -> Path:
    path = node_modules() / ".bin" / name
    if not path.exists():
        raise SetupError(f"{path} is missing: run `make setup` (it runs `npm ci`) in {PROJECT_ROOT}")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the child, before exec: a new session (so a stop reaches its whole group), and a
    SIGTERM from the kernel when the process that started it dies. A test run killed
    outright (SIGKILL, a CI timeout) then leaves no node behind, which no finaliser could do."""
    os.setsid()
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the context managers still stop it
        pass


_PR_SET_PDEATHSIG = 1


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a helper process (a node, a server) whose output goes to `log` and whose life is
    bound to this process's."""
    with log.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent)


def _wait_for(check, what: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SetupError(f"{what} exited with code {process.returncode}; its log: {log}\n{_tail(log)}")
        if check():
            return
        time.sleep(0.1)
    raise SetupError(f"{what} did not answer within {timeout:.0f} s; its log: {log}\n{_tail(log)}")


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(process: subprocess.Popen | None, timeout: float = 10) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class _LocalNode:
    """What both nodes share: `with Node(...) as node` starts it and stops it, whatever happens."""

    process: subprocess.Popen | None

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        _stop(self.process)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class AnvilNode(_LocalNode):
    """A local Anvil chain (by default chain id 31337, base fee 0, ten funded dev accounts, one
    block per transaction). `chain_id`, `base_fee` and `block_time` let it pose as a testnet."""

    log_dir: Path
    port: int = field(default_factory=free_port)
    block_time: float | None = None
    chain_id: int | None = None
    #: Base fee 0 by default so brownie's development network (gas price 0) can attach to it.
    base_fee: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AnvilNode:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / "anvil.log"
        cmd = [str(_tool("anvil")), "--host", "127.0.0.1", "--port", str(self.port),
               "--block-base-fee-per-gas", str(self.base_fee), "--accounts", "10", "--silent"]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        if self.chain_id:
            cmd += ["--chain-id", str(self.chain_id)]
        self.process = spawn(cmd, log)
        _wait_for(self._answers, f"anvil on port {self.port}", self.process, log, 30)
        return self

    def _answers(self) -> bool:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False


@dataclass
class IpfsNode(_LocalNode):
    """A local, offline js-ipfs node serving the Kubo RPC API on 127.0.0.1."""

    repo: Path
    api_port: int = field(default_factory=free_port)
    gateway_port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def api_multiaddr(self) -> str:
        return f"/ip4/127.0.0.1/tcp/{self.api_port}/http"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _env(self) -> dict[str, str]:
        polyfill = PROJECT_ROOT / "tools" / "node-polyfills.js"
        return {**os.environ, "IPFS_PATH": str(self.repo),
                # Quoted: NODE_OPTIONS splits on spaces, and a checkout's path may have some.
                "NODE_OPTIONS": f'{os.environ.get("NODE_OPTIONS", "")} --require "{polyfill}"'.strip()}

    def _init(self) -> None:
        if not (self.repo / "config").exists():
            shutil.rmtree(self.repo, ignore_errors=True)
            self.repo.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([str(_tool("jsipfs")), "init", "--profile", "test", "--empty-repo"], env=self._env(),
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        config_path = self.repo / "config"
        config = json.loads(config_path.read_text())
        # No swarm address (js-ipfs hangs at start with one), no bootstrap, loopback only.
        config["Addresses"].update({
            "Swarm": [],
            "API": f"/ip4/127.0.0.1/tcp/{self.api_port}",
            "Gateway": f"/ip4/127.0.0.1/tcp/{self.gateway_port}",
            "RPC": f"/ip4/127.0.0.1/tcp/{free_port()}",
        })
        config["Bootstrap"] = []
        config["Discovery"]["MDNS"]["Enabled"] = False
        config.setdefault("Pubsub", {})["Enabled"] = False
        config_path.write_text(json.dumps(config, indent=1))
        # A lock left by a node that was killed would stop the next start.
        for lock in ("repo.lock", "api"):
            (self.repo / lock).unlink(missing_ok=True)

    def start(self) -> IpfsNode:
        self._init()
        log = self.repo.parent / f"{self.repo.name}.log"
        self.process = spawn([str(_tool("jsipfs")), "daemon", "--offline", "--enable-preload=false"], log,
                             env=self._env())
        _wait_for(self._answers, f"js-ipfs on port {self.api_port}", self.process, log, 60)
        return self

    def _answers(self) -> bool:
        request = urllib.request.Request(f"{self.api_url}/api/v0/version", b"", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False
