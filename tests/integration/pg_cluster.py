"""A throwaway PostgreSQL cluster for the regress suite (and the demo):
initdb in a temp folder, run as an unprivileged user on a free loopback
port, password (scram) authentication so the bastion's held credential is
really what gets it in."""
import glob
import os
import pwd
import shutil
import subprocess
import time

from harness import free_port, run, wait_port


POLICY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../policies")


def pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def available():
    return pg_bin("initdb") is not None and pg_bin("postgres") is not None


class PostgresCluster:
    SUPERUSER = "postgres"

    def __init__(self, d, password="held-secret-pw"):
        # A missing server is a failure, not a skip: scripts/setup.sh installs it.
        if not available():
            raise RuntimeError("PostgreSQL server binaries not found (initdb, postgres): run scripts/setup.sh")
        self.d = d
        self.port = free_port()
        self.password = password
        os.makedirs(d, exist_ok=True)
        self.data = os.path.join(d, "pgdata")
        self.sock = os.path.join(d, "sock")
        os.makedirs(self.sock, exist_ok=True)
        self.log = os.path.join(d, "postgres.log")
        # PostgreSQL refuses to run as root: use an unprivileged account.
        self.run_as = None
        if os.getuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.run_as = pwd.getpwnam(name)
                    break
                except KeyError:
                    pass
            for p in (d, self.sock):
                os.chown(p, self.run_as.pw_uid, self.run_as.pw_gid)
            os.chmod(d, 0o755)
        pwfile = os.path.join(d, "pwfile")
        with open(pwfile, "w") as f:
            f.write(password + "\n")
        if self.run_as:
            os.chown(pwfile, self.run_as.pw_uid, self.run_as.pw_gid)
        r = run(self._as_user([pg_bin("initdb"), "-D", self.data, "-U", self.SUPERUSER, "-A", "scram-sha-256",
                               f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]), timeout=120)
        if r.returncode != 0:
            raise RuntimeError("initdb failed: " + r.stderr.decode(errors="replace"))
        os.unlink(pwfile)
        self.proc = subprocess.Popen(
            self._as_user([pg_bin("postgres"), "-D", self.data, "-p", str(self.port), "-k", self.sock,
                           "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                           "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]),
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        wait_port(self.port, timeout=30)
        for _ in range(100):  # accepting TCP is not yet accepting queries
            if self.psql("SELECT 1").returncode == 0:
                break
            time.sleep(0.1)

    def _as_user(self, cmd):
        if not self.run_as:
            return cmd
        return ["runuser", "-u", self.run_as.pw_name, "--"] + cmd

    def env(self):
        e = dict(os.environ)
        e.update(PGHOST="127.0.0.1", PGPORT=str(self.port), PGUSER=self.SUPERUSER, PGPASSWORD=self.password,
                 PGDATABASE="postgres")
        return e

    def psql(self, sql, *args, db="postgres", input=None):
        """psql directly (not through the bastion): setup and verification."""
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, *args]
        if sql is not None:
            cmd += ["-c", sql]
        return run(cmd, env=self.env(), input=input)

    def scalar(self, sql, db="postgres"):
        r = self.psql(sql, "-A", "-t", db=db)
        if r.returncode != 0:
            raise RuntimeError(r.stderr.decode())
        return r.stdout.decode().strip()

    def create_readonly_role(self, role, password, db, schema="public"):
        """A login role that can read and nothing else, with the grants
        bastion-policy(5) recommends (scripts/demo.sh makes the same): CONNECT
        and SELECT on the schema's tables only; no CREATE on the schema, no
        TEMP on the database, not a superuser, no BYPASSRLS. Run it after the
        tables exist (GRANT ... ON ALL TABLES covers the tables there now)."""
        cluster = f"""
CREATE ROLE {role} LOGIN PASSWORD '{password}' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
REVOKE ALL ON DATABASE {db} FROM PUBLIC;
GRANT CONNECT ON DATABASE {db} TO {role};
ALTER ROLE {role} SET default_transaction_read_only = on;
"""
        in_db = f"""
REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC;
GRANT USAGE ON SCHEMA {schema} TO {role};
GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role};
"""
        for sql, where in ((cluster, "postgres"), (in_db, db)):
            r = self.psql(None, db=where, input=sql.encode())
            if r.returncode != 0:
                raise RuntimeError(r.stderr.decode())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def shop_database(env, fixture, schema):
    """The shop database the PostgreSQL suites share: a cluster in env.d/pg,
    `fixture` run as the superuser (it creates the held role bastion_svc and
    the database), `schema` run as bastion_svc in it, the read-only role
    shop_ro that policies/postgres.lua sends analysts to (made after the
    tables, so its SELECT grants cover them), and both passwords in keys/
    (0600), as a target's password_file wants them."""
    env.pg = PostgresCluster(os.path.join(env.d, "pg"))
    for sql, db in ((fixture, None), ("SET ROLE bastion_svc;" + schema, "shop")):
        r = env.pg.psql(None, db=db, input=sql.encode()) if db else env.pg.psql(None, input=sql.encode())
        if r.returncode != 0:
            raise RuntimeError(r.stderr.decode())
    env.pg.create_readonly_role("shop_ro", "ro-secret-pw", "shop")
    for name, secret in (("pg_password", "held-secret-pw"), ("pg_ro_password", "ro-secret-pw")):
        pw = os.path.join(env.keys.d, name)
        with open(pw, "w") as f:
            f.write(secret + "\n")
        os.chmod(pw, 0o600)


# The held role and the database every shop suite starts from.
SHOP_FIXTURE = r"""
CREATE ROLE bastion_svc LOGIN PASSWORD 'held-secret-pw';
CREATE DATABASE shop OWNER bastion_svc;
"""


def shop_env(env, schema, fixture=SHOP_FIXTURE):
    """shop_database with `schema`, the shipped commands.lua beside the config
    (postgres.lua imports it), and env.analyst: a certificate for "ann" with
    the analyst principal."""
    shop_database(env, fixture, schema)
    shutil.copy(os.path.join(POLICY_DIR, "commands.lua"), os.path.join(env.d, "commands.lua"))
    env.analyst = env.keys.cert(env.keys.keygen("ann"), env.ca, "ann", "analyst")


def shop_target(env, name, policy, allow='"ops", "analyst"', extra=""):
    """A postgres target for the shop database: the held role by default,
    shop_ro as the "readonly" credential."""
    return f"""  {name} = {{ type = "postgres", host = "127.0.0.1", port = {env.pg.port}, dbname = "shop",
           user = "bastion_svc", password_file = "keys/pg_password", allow = {{ {allow} }},
           credentials = {{ readonly = {{ user = "shop_ro", password_file = "keys/pg_ro_password" }} }},
           policy = "{policy}", {extra} }},"""
