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

from .errors import SetupError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def node_modules() -> Path:
    """Where the project's npm packages live (override with CHAOS_NODE_MODULES)."""
    return Path(os.environ.get("CHAOS_NODE_MODULES", PROJECT_ROOT / "node_modules"))


def _tool(name: str) -> Path:
    path = node_modules() / ".bin" / name
    if not path.exists():
        raise SetupError(f"{path} is missing: run `make setup` (it runs `npm ci`) in {PROJECT_ROOT}")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


@dataclass
class AnvilNode:
    """A local Anvil chain (chain id 31337, ten funded dev accounts, one block per transaction)."""

    log_dir: Path
    port: int = field(default_factory=free_port)
    block_time: float | None = None
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AnvilNode:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / "anvil.log"
        # Base fee 0 so brownie (whose development gas price is 0) can attach to it.
        cmd = [str(_tool("anvil")), "--host", "127.0.0.1", "--port", str(self.port),
               "--block-base-fee-per-gas", "0", "--accounts", "10", "--silent"]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        with log.open("wb") as out:
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
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

    def stop(self) -> None:
        _stop(self.process)

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class IpfsNode:
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
                "NODE_OPTIONS": f"{os.environ.get('NODE_OPTIONS', '')} --require {polyfill}".strip()}

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
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(_tool("jsipfs")), "daemon", "--offline", "--enable-preload=false"],
                env=self._env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_for(self._answers, f"js-ipfs on port {self.api_port}", self.process, log, 60)
        return self

    def _answers(self) -> bool:
        request = urllib.request.Request(f"{self.api_url}/api/v0/version", b"", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        _stop(self.process)

    def __enter__(self) -> IpfsNode:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
