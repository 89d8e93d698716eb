"""Many tenants in one server: start time, memory, a tenant's first request, /ready's cost.

Generates N copies of the Prokov demo tenant (config/routes/prokov.yaml and
config/schema/prokov.yaml) into a temp config directory, each with its own host
(`t0000.localhost`...), its own SQLite database and the same JWT secret file, then for
each N and each checkout given (interleaved, so a noisy machine hurts both alike):

- start: the time from spawning the server (`--server-command`, by default what
  `make serve-prod` runs, with one worker) to its first `/health` answer;
- rss: the resident memory of the largest process of the server (its worker) after start
  and after the requests below;
- first request: `POST auth/register` then `GET projects` on a tenant no request has
  touched yet, against the same two on a tenant already used (the difference is what
  the first use of a tenant costs); the tenants use bcrypt at cost 4 so the password
  hash does not hide it;
- /ready: its latency (median of the calls after the first) and the SQL statements one
  call runs, read from `sogoms_db_query_duration_seconds_count` of /metrics (two
  scrapes around K calls, minus two scrapes around none);
- a used tenant again once `/ready`'s background sweep over every tenant database has
  ended (Django walks every registered database alias three times per request);
- the operators' admin, after all of the above: an operator (a superuser made with the
  databases) signs in, then the process's first admin index page, a second one, the users
  list of a tenant the admin has not shown yet (`/admin/tenants/user_<app>/`), and the
  worker's RSS after them.

The tenant databases are created once per N by `manage.py sogoms migrate` on one tenant,
the file then copied for the others (the schema is the same), so N=1000 needs no 1000
migrations. SQLite only: a MariaDB run would need 1000 databases on a shared server.

    flock /tmp/sogoms-bench.lock .venv/bin/python bench/many_tenants.py \
        --tenants 1,101,1000 --checkout before=/tmp/sogoms-before --checkout after=.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookies import SimpleCookie
from pathlib import Path

from crud_bench import BIN, REPO, Server, base_env, free_port, http, log, run, wait_until_up

HOST = "127.0.0.1"
# --timeout: the old code's first admin page at N=1000 outlasts gunicorn's default 30 s.
DEFAULT_SERVER = (
    "{bin}/gunicorn sogoms_site.wsgi:application -w 1 -b 127.0.0.1:{port} --no-control-socket --timeout 600"
)
PASSWORD = "many tenants bench 2026"  # noqa: S105  (a throwaway account of the bench)
OPERATOR = "bench-operator"


def generate_config(n: int, root: Path) -> Path:
    """N copies of Prokov (routes and schema) under root/config; the shared secret under root."""
    config = root / "config"
    (config / "routes").mkdir(parents=True)
    (config / "schema").mkdir()
    secret = root / "jwt_secret"
    secret.write_text("b" * 64)
    secret.chmod(0o600)
    routes = (REPO / "config" / "routes" / "prokov.yaml").read_text()
    schema = (REPO / "config" / "schema" / "prokov.yaml").read_text()
    for i in range(n):
        app = tenant_app(i)
        text = routes.replace("app: prokov", f"app: {app}")
        text = re.sub(r"hosts:\n(  - .*\n)+", f"hosts:\n  - {app}.localhost\n", text)
        text = text.replace("jwt_secret_file: var/secrets/prokov_jwt_secret", f"jwt_secret_file: {secret}")
        text = text.replace("auth:\n", "auth:\n  password_hash: bcrypt\n  bcrypt_cost: 4\n", 1)
        (config / "routes" / f"{app}.yaml").write_text(text)
        (config / "schema" / f"{app}.yaml").write_text(schema)
    return config


def tenant_app(i: int) -> str:
    return f"t{i:04d}"


def prepare_databases(n: int, root: Path, config: Path) -> Path:
    """The var dir with the control database and N tenant databases, all migrated."""
    var = root / "var"
    one = root / "one"
    (one / "routes").mkdir(parents=True)
    (one / "schema").mkdir()
    for kind in ("routes", "schema"):
        shutil.copy(config / kind / "t0000.yaml", one / kind / "t0000.yaml")
    env = site_env(one, var)
    run([sys.executable, "manage.py", "sogoms", "migrate"], env=env, timeout=600)
    operator = {**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    run(
        [
            sys.executable,
            "manage.py",
            "createsuperuser",
            "--noinput",
            "--username",
            OPERATOR,
            "--email",
            "op@x.test",
        ],
        env=operator,
        timeout=120,
    )
    template = var / "db" / "t0000.sqlite3"
    for i in range(1, n):
        shutil.copy(template, var / "db" / f"{tenant_app(i)}.sqlite3")
    return var


def site_env(config: Path, var: Path) -> dict:
    env = base_env()
    env.update(
        SOGOMS_CONFIG_DIR=str(config),
        SOGOMS_VAR_DIR=str(var),
        SOGOMS_BASE_DIR=str(var.parent),
        SOGOMS_LOG_DIR=str(var / "log"),
    )
    return env


def rss_mb(server: Server) -> float:
    """The largest resident set of the server's processes (its worker), in MB."""
    largest = 0
    for pid in server.pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        if found:
            largest = max(largest, int(found.group(1)))
    return largest / 1024


def timed(method: str, url: str, body=None, headers=None) -> tuple[float, int, dict]:
    started = time.perf_counter()
    status, answer = http(method, url, body, headers)
    return (time.perf_counter() - started) * 1000, status, answer


def use_tenant(base: str, app: str, who: str) -> dict:
    """Register then list on one tenant: the milliseconds of each."""
    host = {"Host": f"{app}.localhost"}
    body = {"email": f"{who}@example.com", "password": PASSWORD, "name": who}
    register_ms, status, answer = timed("POST", base + "/api/auth/register", body, host)
    if status != 201:
        raise RuntimeError(f"{app}: register answered {status} {answer}")
    token = answer["data"]["token"]
    list_ms, status, answer = timed(
        "GET", base + "/api/projects", None, {**host, "Authorization": f"Bearer {token}"}
    )
    if status != 200:
        raise RuntimeError(f"{app}: list answered {status} {answer}")
    return {"register_ms": round(register_ms, 1), "list_ms": round(list_ms, 1)}


def queries_so_far(base: str) -> float:
    """The SQL statements the server has counted (sogoms_db_query_duration_seconds_count)."""
    request = urllib.request.Request(base + "/metrics", headers={"Host": "localhost"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310  (127.0.0.1 only)
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("sogoms_db_query_duration_seconds_count")
    )


def ready_cost(base: str, calls: int) -> dict:
    host = {"Host": "localhost"}
    latencies = []
    status = 0
    for _ in range(calls):
        ms, status, _answer = timed("GET", base + "/ready", None, host)
        latencies.append(ms)
    # the statements of one /ready call, without those of the scrapes that count them
    first = queries_so_far(base)
    second = queries_so_far(base)
    scrape = second - first
    for _ in range(calls):
        http("GET", base + "/ready", None, host)
    third = queries_so_far(base)
    return {
        "status": status,
        "first_ms": round(latencies[0], 1),
        "median_ms": round(statistics.median(latencies[1:]), 1),
        "queries_per_call": round((third - second - scrape) / calls, 1),
    }


def wait_for_sweep(base: str, timeout: float = 120) -> float:
    """Seconds until /ready reports its sweep over the tenant databases done."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        _status, answer = http("GET", base + "/ready", None, {"Host": "localhost"})
        if answer.get("tenants_checked_ago") is not None:
            return round(time.perf_counter() - started, 2)
        time.sleep(0.2)
    raise RuntimeError("the /ready sweep did not end")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as it is (the sign-in's 302 carries the session cookie)."""

    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


class Browser:
    """The operator's browser: cookies kept by hand (the admin answers on Host: localhost)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies: dict[str, str] = {}
        self.opener = urllib.request.build_opener(NoRedirect)

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[float, int, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310
        request.add_header("Host", "localhost")
        if self.cookies:
            request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=600) as response:  # 127.0.0.1 only
                status, body, headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:  # a 302 lands here too
            status, body, headers = exc.code, exc.read(), exc.headers
        ms = (time.perf_counter() - started) * 1000
        for header in headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return ms, status, body.decode(errors="replace")

    def sign_in(self) -> None:
        _ms, _status, page = self.request("GET", "/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if token is None:
            raise RuntimeError("no CSRF token on the admin's sign-in page")
        form = {
            "csrfmiddlewaretoken": token[1],
            "username": OPERATOR,
            "password": PASSWORD,
            "next": "/admin/",
        }
        _ms, status, _page = self.request("POST", "/admin/login/", form)
        if status != 302:
            raise RuntimeError(f"the operator's sign-in answered {status}")


def admin_cost(base: str, n: int) -> dict:
    """The first admin pages of the process, signed in as the operator."""
    browser = Browser(base)
    browser.sign_in()
    first_ms, status, page = browser.request("GET", "/admin/")
    if status != 200:
        raise RuntimeError(f"the admin index answered {status}")
    second_ms, _status, _page = browser.request("GET", "/admin/")
    users_ms, users_status, _page = browser.request("GET", f"/admin/tenants/user_{tenant_app(n // 3)}/")
    return {
        "index_first_ms": round(first_ms, 1),
        "index_second_ms": round(second_ms, 1),
        "index_kb": round(len(page) / 1024, 1),
        "users_list_first_ms": round(users_ms, 1),
        "users_list_status": users_status,
    }


def measure(label: str, checkout: Path, n: int, config: Path, var: Path, args, out: Path) -> dict:
    port = free_port()
    argv = args.server_command.format(bin=BIN, port=port, python=sys.executable).split()
    env = site_env(config, var)
    started = time.perf_counter()
    server = Server(f"{label} N={n}", argv, env, checkout, out / f"server-{label}-{n}.log")
    try:
        base = f"http://{HOST}:{port}"
        wait_until_up(server, base + "/health", timeout=300)
        start_s = time.perf_counter() - started
        rss_start = rss_mb(server)
        warm = tenant_app(0)
        use_tenant(base, warm, f"warmup-{label}")  # the process's first request of all
        result = {
            "start_s": round(start_s, 2),
            "rss_start_mb": round(rss_start, 1),
            "first_use": use_tenant(base, tenant_app(n - 1), f"first-{label}"),
            "warm_use": use_tenant(base, warm, f"warm-{label}"),
        }
        if n > 2:
            result["first_use_2"] = use_tenant(base, tenant_app(n // 2), f"first-{label}")
        result["ready"] = ready_cost(base, args.ready_calls)
        result["sweep_s"] = wait_for_sweep(base)
        result["warm_after_sweep"] = use_tenant(base, warm, f"swept-{label}")
        result["rss_after_mb"] = round(rss_mb(server), 1)
        result["admin"] = admin_cost(base, n)
        result["rss_after_admin_mb"] = round(rss_mb(server), 1)
        return result
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", default="1,101,1000", help="comma-separated N")
    parser.add_argument(
        "--checkout",
        action="append",
        default=[],
        help="LABEL=PATH of a SOGOMS checkout to serve (repeatable; default: this one as 'this')",
    )
    parser.add_argument("--server-command", default=DEFAULT_SERVER, help="{bin}, {port}, {python} are filled")
    parser.add_argument("--ready-calls", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "var" / "bench"))
    parser.add_argument("--keep-tmp", action="store_true")
    args = parser.parse_args()
    checkouts = [tuple(item.split("=", 1)) for item in args.checkout] or [("this", str(REPO))]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    for n in (int(x) for x in args.tenants.split(",")):
        root = Path(tempfile.mkdtemp(prefix=f"sogoms-many-{n}-"))
        try:
            config = generate_config(n, root)
            log(f"N={n}: databases")
            var = prepare_databases(n, root, config)
            for label, path in checkouts:
                log(f"N={n}: {label}")
                results.setdefault(str(n), {})[label] = measure(
                    label, Path(path).resolve(), n, config, var, args, out
                )
                log(f"N={n} {label}: {json.dumps(results[str(n)][label])}")
        finally:
            if not args.keep_tmp:
                shutil.rmtree(root, ignore_errors=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (out / f"many-tenants-{stamp}.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    return 0


def table(results: dict) -> str:
    lines = [
        "| N | checkout | start s | RSS MB start/after | first register+list ms "
        "| warm register+list ms | the same after the /ready sweep | /ready ms first/median | /ready queries "
        "| admin index ms first/second | users list of a tenant not shown yet ms | RSS MB after admin |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, by_label in results.items():
        for label, r in by_label.items():
            first, warm, ready = r["first_use"], r["warm_use"], r["ready"]
            lines.append(
                f"| {n} | {label} | {r['start_s']} | {r['rss_start_mb']}/{r['rss_after_mb']} "
                f"| {first['register_ms']}+{first['list_ms']} | {warm['register_ms']}+{warm['list_ms']} "
                f"| {r['warm_after_sweep']['register_ms']}+{r['warm_after_sweep']['list_ms']} "
                f"| {ready['first_ms']}/{ready['median_ms']} | {ready['queries_per_call']} "
                f"| {r['admin']['index_first_ms']}/{r['admin']['index_second_ms']} "
                f"| {r['admin']['users_list_first_ms']} | {r['rss_after_admin_mb']} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
