"""A real nginx of the test's own, configured from the files docs/deployment.md shows.

Why the documented files and not a config written here: the test exists to
prove that what the page tells operators to run works. So the main
nginx.conf and the rasa-handoff template are read from
docs/examples/deployment/nginx/, the template's placeholders are filled in
with this machine's ports, and a placeholder the test does not know fails
the test (the docs and the test drifted apart).

Why a prefix, a pid file and free ports of its own: nginx may also be
installed as a system service; this one must neither need it nor touch it.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "deployment"
TEMPLATE = EXAMPLES / "nginx" / "rasa-handoff.conf.template"
MAIN_CONF = EXAMPLES / "nginx" / "nginx.conf"
# Debian installs it in /usr/sbin, which is not on every user's PATH.
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
_PLACEHOLDER = re.compile(r"\{\{([A-Z0-9_]+)\}\}")


def find_nginx() -> Optional[str]:
    """The nginx executable, or None when this machine has none."""
    found = shutil.which("nginx")
    if found:
        return found
    return next((path for path in NGINX_CANDIDATES if os.access(path, os.X_OK)), None)


def render(template: str, values: dict[str, str]) -> str:
    """`template` with every {{NAME}} replaced; a name missing from `values` raises."""
    unknown = sorted(set(_PLACEHOLDER.findall(template)) - set(values))
    if unknown:
        raise KeyError(f"{TEMPLATE.name} has placeholders the test does not fill: {', '.join(unknown)}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


@dataclass(frozen=True)
class ProxyPorts:
    """Where nginx listens: Rasa's side (actions) and the desks' side (public)."""

    actions: int
    public: int


def placeholder_values(ports: ProxyPorts, action_servers: list[str], sidecars: list[str], access_log: Path) -> dict:
    """The template's placeholders for two of each on this machine's loopback."""
    values = {
        "ACTIONS_LISTEN": f"127.0.0.1:{ports.actions}",
        "PUBLIC_LISTEN": f"127.0.0.1:{ports.public}",
        "PUBLIC_HOST": "handoff.test",
        "ACCESS_LOG": str(access_log),
    }
    values.update({f"ACTION_SERVER_{index}": address for index, address in enumerate(action_servers, 1)})
    values.update({f"SIDECAR_{index}": address for index, address in enumerate(sidecars, 1)})
    return values


class Nginx:
    """nginx in the foreground under `prefix`, on the documented config; `stop()` ends it."""

    def __init__(self, executable: str, prefix: Path, values: dict[str, str], ports: ProxyPorts) -> None:
        self.executable = executable
        self.prefix = prefix
        self.ports = ports
        self.access_log = Path(values["ACCESS_LOG"])
        self._lay_out(values)
        self.process: Optional[subprocess.Popen] = None

    def _lay_out(self, values: dict[str, str]) -> None:
        for directory in ("conf.d", "logs", "temp"):
            (self.prefix / directory).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(MAIN_CONF, self.prefix / "nginx.conf")
        rendered = render(TEMPLATE.read_text(encoding="utf-8"), values)
        (self.prefix / "conf.d" / "rasa-handoff.conf").write_text(rendered, encoding="utf-8")

    def _command(self, *extra: str) -> list[str]:
        directives = f"daemon off; pid {self.prefix / 'nginx.pid'};"
        if os.geteuid() == 0:
            # As root, workers would drop to `nobody`, who cannot write in the test's private temp dir.
            directives += f" user {getpass.getuser()};"
        config = str(self.prefix / "nginx.conf")
        return [self.executable, "-p", f"{self.prefix}/", "-c", config, "-g", directives, *extra]

    def check_config(self) -> subprocess.CompletedProcess:
        """`nginx -t` on the rendered config: what an operator runs before reloading."""
        return subprocess.run(self._command("-t"), capture_output=True, text=True, timeout=30)

    def start(self, within: float = 10.0) -> "Nginx":
        log = open(self.prefix / "logs" / "nginx.out", "ab")
        self.process = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + within
        while not (_listens(self.ports.actions) and _listens(self.ports.public)):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nginx did not start:\n{self.output()}")
            time.sleep(0.05)
        return self

    def stop(self, within: float = 10.0) -> None:
        """Graceful stop (SIGQUIT), then SIGKILL for the whole group if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(within)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def output(self) -> str:
        lines = []
        for name in ("nginx.out", "error.log"):
            path = self.prefix / "logs" / name
            if path.exists():
                lines.append(f"--- {name}\n" + path.read_text(errors="replace")[-4000:])
        return "\n".join(lines) or "(no output)"

    def requests(self) -> list[dict]:
        """The access log's entries so far (one JSON object per line, as documented)."""
        if not self.access_log.exists():
            return []
        # nginx may be writing the last line as we read: only whole lines count.
        *whole, _ = self.access_log.read_text(encoding="utf-8").split("\n")
        return [json.loads(line) for line in whole if line.strip()]


def _listens(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0
