#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_signer.h"
#include "config/config.h"
#include "config/config_check.h"
#include "targets/kubectl/kubectl_settings.h"
#include "targets/postgres/postgres_settings.h"
#include "targets/ssh/ssh_settings.h"
#include "targets/target_kind.h"
#include "test_util.h"

using namespace bastion;

namespace {

const TargetKinds kKinds = builtin_target_kinds();

template <class T>
const T& cred(const TargetConfig& t, const char* name) {
  REQUIRE(t.credential(name));
  return kind_part<T>(t.credential(name));
}

struct ConfigDir {
  testutil::TempDir d;
  ConfigDir() {
    testutil::keygen(d, "host_key");
    testutil::keygen(d, "ca");
    testutil::keygen(d, "web1_key");
    testutil::spit(d / "known_hosts", "[127.0.0.1]:2201 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBVQ9mTFm2rMXDYLgXUD7xU6U5bMTi9LWRJ0Cq7CVVmr\n");
  }
  std::string write(const std::string& body) {
    testutil::spit(d / "bastion.conf", body);
    return d / "bastion.conf";
  }
};

const char* kGood = R"(-- a comment
listen = "127.0.0.1:2299"
host_keys = { "host_key" }
user_ca_keys = "ca.pub"
data_dir = "var"
limits = { idle_timeout = 60, recording_max_bytes = 1048576 }
targets = {
  web1 = { type = "ssh", host = "10.0.0.5", port = 2201, user = "deploy",
           identity = "web1_key", known_hosts = "known_hosts", allow = { "ops", "sre" },
           labels = { env = "prod" } },
}
)";

std::string error_for(ConfigDir& c, const std::string& body) {
  std::string err;
  auto cfg = load_config(c.write(body), err, kKinds);
  CHECK(cfg == nullptr);
  return err;
}

}  // namespace

TEST_CASE("loads a valid config and resolves paths against its folder", "[config]") {
  ConfigDir c;
  std::string err;
  auto cfg = load_config(c.write(kGood), err, kKinds);
  REQUIRE(cfg);
  CHECK(cfg->listen_host == "127.0.0.1");
  CHECK(cfg->listen_port == 2299);
  CHECK(cfg->host_keys == std::vector<std::string>{c.d / "host_key"});
  CHECK(cfg->data_dir == c.d / "var");
  CHECK(cfg->user_cas.size() == 1);
  CHECK(cfg->limits.idle_timeout == 60);
  CHECK(cfg->limits.recording_max_bytes == 1048576);
  CHECK(cfg->limits.login_grace_time == 30);  // default kept
  CHECK(cfg->limits.max_startups == MaxStartups{30, 30, 100});
  CHECK(cfg->limits.per_source_max_startups == 10);
  CHECK(cfg->limits.max_targets_per_session == 8);  // default
  const auto& t = cfg->targets.at("web1");
  CHECK(kind_part<SshSettings>(t.settings.get()).host == "10.0.0.5");
  CHECK(kind_part<SshSettings>(t.settings.get()).port == 2201);
  CHECK(cred<SshCredential>(t, "default").identity == c.d / "web1_key");
  CHECK(t.allow == std::vector<std::string>{"ops", "sre"});
  CHECK(t.labels.at("env") == "prod");
}

TEST_CASE("errors name file, line and key", "[config]") {
  ConfigDir c;
  const std::string f = c.d / "bastion.conf";
  std::string body = kGood;
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string b = body;
    b.replace(b.find(from), from.size(), to);
    return b;
  };
  CHECK(error_for(c, replace("port = 2201", "port = 99999")) ==
        f + ":8: targets.web1.port: must be between 1 and 65535");
  CHECK(error_for(c, replace("port = 2201", "port = \"22\"")) == f + ":8: targets.web1.port: expected an integer");
  CHECK(error_for(c, replace("data_dir = \"var\"", "data_dri = \"var\"")) == f + ":5: data_dri: unknown key (did you mean \"data_dir\"?)");
  CHECK(error_for(c, replace("type = \"ssh\"", "type = \"telnet\"")) ==
        f + ":8: targets.web1.type: unsupported target type \"telnet\" (supported: ssh, postgres, kubectl, http)");
  CHECK(error_for(c, replace("identity = \"web1_key\"", "identity = \"nope\"")) ==
        f + ":9: targets.web1.identity: " + (c.d / "nope") + ": cannot read: No such file or directory");
  CHECK(error_for(c, replace("allow = { \"ops\", \"sre\" }", "allow = {}")) ==
        f + ":9: targets.web1.allow: at least one principal is required");
  CHECK(error_for(c, replace("listen = \"127.0.0.1:2299\"", "listen = \"nowhere\"")) ==
        f + ":2: listen: expected \"HOST:PORT\"");
  CHECK(error_for(c, replace("idle_timeout = 60", "idle_timeout = -1")) ==
        f + ":6: limits.idle_timeout: expected a duration from 0s to 7d "
            "(seconds, or a number with s, m, h, d or w: \"90s\", \"5m\", \"8h\", \"2d\")");
  CHECK(error_for(c, replace("user = \"deploy\",", "")) == f + ":8: targets.web1.user: required");
  CHECK(error_for(c, replace("idle_timeout = 60", "max_startups = \"10:30:5\"")) ==
        f + ":6: limits.max_startups: full (5) must be greater than start (10)");
  CHECK(error_for(c, replace("idle_timeout = 60", "max_startups = 0")) ==
        f + ":6: limits.max_startups: \"0\": out of range (1..100000); expected N or START:RATE:FULL");
  CHECK(error_for(c, replace("idle_timeout = 60", "max_startups = true")) ==
        f + ":6: limits.max_startups: expected a string or an integer");
  CHECK(error_for(c, replace("idle_timeout = 60", "per_source_max_startups = 0")) ==
        f + ":6: limits.per_source_max_startups: must be between 1 and 100000");
  CHECK(error_for(c, replace("idle_timeout = 60", "max_targets_per_session = 0")) ==
        f + ":6: limits.max_targets_per_session: must be between 1 and 100");
  {
    std::string e;
    const auto two = load_config(c.write(replace("idle_timeout = 60", "max_targets_per_session = 2")), e, kKinds);
    REQUIRE(two);
    CHECK(two->limits.max_targets_per_session == 2);
  }
  CHECK(error_for(c, replace("targets = {", "targets = {{")).find(f + ":") == 0);  // Lua syntax error
  CHECK(error_for(c, "listen = ") .find(f + ":1:") == 0);
}

TEST_CASE("the config sandbox has no host access and bounded cost", "[config][sandbox]") {
  ConfigDir c;
  auto fails_with = [&](const std::string& pre, const std::string& needle) {
    const std::string err = error_for(c, pre + "\n" + kGood);
    INFO(err);
    CHECK(err.find(needle) != std::string::npos);
  };
  fails_with("io.open('/etc/passwd')", "attempt to index a nil value (global 'io')");
  fails_with("os.execute('true')", "attempt to index a nil value (global 'os')");
  fails_with("require('os')", "attempt to call a nil value (global 'require')");
  fails_with("load('return 1')()", "attempt to call a nil value (global 'load')");
  fails_with("dofile('/etc/passwd')", "attempt to call a nil value (global 'dofile')");
  fails_with("string.dump(print)", "attempt to call a nil value (field 'dump')");
  fails_with("local f = ('x').dump; f(print)", "attempt to call a nil value (local 'f')");
  fails_with("string.rep('x', 1e9)", ": memory limit exceeded");
  fails_with("setmetatable({}, {})", "attempt to call a nil value (global 'setmetatable')");
  fails_with("while true do end", "time budget exceeded");
  fails_with("local t = {} for i = 1, 1e9 do t[i] = i end", "memory limit exceeded");
  // Binary chunks are refused at load time.
  testutil::spit(c.d / "bastion.conf", std::string("\x1bLua\x54\x00", 6));
  std::string err;
  CHECK(load_config(c.d / "bastion.conf", err, kKinds) == nullptr);
  CHECK(err.find("attempt to load a binary chunk") != std::string::npos);
  // Safe helpers remain usable.
  std::string body = kGood;
  body.replace(body.find("\"deploy\""), 8, "string.format('%s', 'deploy')");
  REQUIRE(load_config(c.write(body), err, kKinds));
}

TEST_CASE("held credential files are read once at load and refused when others may read them", "[config]") {
  ConfigDir c;
  const std::string f = c.d / "bastion.conf";
  const std::string pg = std::string(kGood).replace(std::string(kGood).rfind('}'), 1,
      "  db = { type = \"postgres\", host = \"127.0.0.1\", dbname = \"app\", user = \"svc\",\n"
      "         password_file = \"pw\", allow = { \"ops\" } },\n}");
  testutil::spit(c.d / "pw", "s3cret-pw\nignored second line\n");
  chmod((c.d / "pw").c_str(), 0600);
  std::string err;
  auto cfg = load_config(c.write(pg), err, kKinds);
  REQUIRE(cfg);
  const std::string key_text = testutil::slurp(c.d / "web1_key");
  unlink((c.d / "web1_key").c_str());
  unlink((c.d / "pw").c_str());
  // Held in the config: what was on disk at load, whatever happens to the files.
  CHECK(cred<SshCredential>(cfg->targets.at("web1"), "default").identity_key.bytes == key_text);
  CHECK(cred<PostgresCredential>(cfg->targets.at("db"), "default").password.bytes == "s3cret-pw");

  testutil::keygen(c.d, "web1_key");
  testutil::spit(c.d / "pw", "s3cret-pw\n");
  for (mode_t mode : {0640, 0604, 0610, 0601}) {
    chmod((c.d / "pw").c_str(), mode);
    char m[8];
    std::snprintf(m, sizeof m, "%04o", mode);
    const std::string e = error_for(c, pg);
    CHECK(e.ends_with("targets.db.password_file: " + (c.d / "pw") + ": mode " + m +
                      " is readable by group or others (chmod 600)"));
    CHECK(e.find("s3cret") == std::string::npos);
  }
  chmod((c.d / "pw").c_str(), 0600);
  chmod((c.d / "web1_key").c_str(), 0644);
  CHECK(error_for(c, pg) == f + ":9: targets.web1.identity: " + (c.d / "web1_key") +
                                ": mode 0644 is readable by group or others (chmod 600)");
  chmod((c.d / "web1_key").c_str(), 0600);
  unlink((c.d / "pw").c_str());
  REQUIRE(mkfifo((c.d / "pw").c_str(), 0600) == 0);  // must not block the load
  CHECK(error_for(c, pg).ends_with("targets.db.password_file: " + (c.d / "pw") + ": not a regular file"));
}

TEST_CASE("user names an existing user", "[config]") {
  ConfigDir c;
  const std::string f = c.d / "bastion.conf";
  std::string err;
  auto cfg = load_config(c.write("user = \"root\"\n" + std::string(kGood)), err, kKinds);
  REQUIRE(cfg);
  CHECK(cfg->user == "root");
  CHECK(error_for(c, "user = \"no-such-user-x\"\n" + std::string(kGood)) ==
        f + ":1: user: no such user \"no-such-user-x\" (create it, e.g. useradd --system no-such-user-x)");
  CHECK(error_for(c, "user = \"\"\n" + std::string(kGood)) == f + ":1: user: expected a user name");
}

namespace {
// kGood with one more target before its closing brace.
std::string with_target(const std::string& target) {
  std::string body = kGood;
  return body.replace(body.rfind('}'), 1, target + "\n}");
}
}  // namespace

TEST_CASE("a target holds several credentials, each read and mode-checked like the top-level one", "[config][credential]") {
  ConfigDir c;
  testutil::keygen(c.d, "deploy_key");
  testutil::spit(c.d / "ro.pw", "ro-secret\n");
  testutil::spit(c.d / "admin.pw", "admin-secret\n");
  testutil::spit(c.d / "view.kubeconfig", "apiVersion: v1\nkind: Config\n");
  testutil::spit(c.d / "kubectl", "#!/bin/sh\n");
  for (const char* f : {"ro.pw", "admin.pw", "view.kubeconfig"}) chmod((c.d / f).c_str(), 0600);
  chmod((c.d / "kubectl").c_str(), 0755);
  const std::string body = with_target(
      "  web2 = { type = \"ssh\", host = \"10.0.0.6\", user = \"app\", identity = \"web1_key\",\n"
      "           known_hosts = \"known_hosts\", allow = \"ops\",\n"
      "           credentials = { deploy = { user = \"deploy\", identity = \"deploy_key\" } } },\n"
      "  db = { type = \"postgres\", host = \"127.0.0.1\", dbname = \"app\", allow = \"ops\",\n"
      "         credentials = { readonly = { user = \"app_ro\", password_file = \"ro.pw\" },\n"
      "                         admin = { user = \"app_admin\", password_file = \"admin.pw\" } } },\n"
      "  k8s = { type = \"kubectl\", kubectl = \"kubectl\", kubectl_sandbox = false, allow = \"ops\",\n"
      "          credentials = { view = { kubeconfig = \"view.kubeconfig\", context = \"v\" } } },");
  std::string err;
  auto cfg = load_config(c.write(body), err, kKinds);
  INFO(err);
  REQUIRE(cfg);
  const auto& web2 = cfg->targets.at("web2");
  REQUIRE(web2.credential("default"));
  CHECK(cred<SshCredential>(web2, "default").user == "app");
  REQUIRE(web2.credential("deploy"));
  CHECK(cred<SshCredential>(web2, "deploy").user == "deploy");
  CHECK(cred<SshCredential>(web2, "deploy").identity_key.bytes == testutil::slurp(c.d / "deploy_key"));
  const auto& db = cfg->targets.at("db");
  CHECK_FALSE(db.credential("default"));  // only named credentials: no default
  CHECK(cred<PostgresCredential>(db, "readonly").user == "app_ro");
  CHECK(cred<PostgresCredential>(db, "readonly").password.bytes == "ro-secret");
  CHECK(cred<PostgresCredential>(db, "admin").password.bytes == "admin-secret");
  const auto& k8s = cfg->targets.at("k8s");
  CHECK(k8s.credentials.size() == 1);
  CHECK(cred<KubectlCredential>(k8s, "view").context == "v");
  CHECK(cred<KubectlCredential>(k8s, "view").kubeconfig_text.bytes == "apiVersion: v1\nkind: Config\n");

  // The same mode check as a top-level password_file.
  chmod((c.d / "ro.pw").c_str(), 0640);
  CHECK(error_for(c, body).ends_with("targets.db.credentials.readonly.password_file: " + (c.d / "ro.pw") +
                                     ": mode 0640 is readable by group or others (chmod 600)"));
  chmod((c.d / "ro.pw").c_str(), 0600);
  chmod((c.d / "deploy_key").c_str(), 0604);
  CHECK(error_for(c, body).ends_with("targets.web2.credentials.deploy.identity: " + (c.d / "deploy_key") +
                                     ": mode 0604 is readable by group or others (chmod 600)"));
  chmod((c.d / "deploy_key").c_str(), 0600);
  // The same plugin refusal as a top-level kubeconfig.
  testutil::spit(c.d / "view.kubeconfig", "users:\n- name: u\n  user:\n    exec:\n      command: aws\n");
  CHECK(error_for(c, body).find("targets.k8s.credentials.view.kubeconfig: " + (c.d / "view.kubeconfig") +
                                ": its user entry has \"exec:\"") != std::string::npos);
}

TEST_CASE("malformed credentials are load errors that say what is wrong", "[config][credential]") {
  ConfigDir c;
  testutil::spit(c.d / "ro.pw", "x\n");
  chmod((c.d / "ro.pw").c_str(), 0600);
  const std::string f = c.d / "bastion.conf";
  auto pg = [](const std::string& creds, const std::string& top = "") {
    return with_target("  db = { type = \"postgres\", host = \"h\", dbname = \"app\", allow = \"ops\"," + top +
                       "\n         credentials = " + creds + " },");
  };
  // A key of another kind's credential (wrong shape), or a typo.
  CHECK(error_for(c, pg("{ ro = { user = \"app_ro\", identity = \"ro.pw\" } }")) ==
        f + ":12: targets.db.credentials.ro.identity: unknown key "
            "(postgres credentials take passfile, password_file, user)");
  CHECK(error_for(c, with_target("  k = { type = \"kubectl\", allow = \"ops\",\n"
                                 "        credentials = { view = { user = \"u\", kubeconfig = \"ro.pw\" } } },")) ==
        f + ":12: targets.k.credentials.view.user: unknown key (kubectl credentials take context, kubeconfig)");
  CHECK(error_for(c, pg("{ [\"read-only\"] = { user = \"app_ro\" } }")) ==
        f + ":12: targets.db.credentials.read-only: a credential name must be an identifier "
            "(letters, digits, '_'; not starting with a digit)");
  CHECK(error_for(c, pg("{ ro = \"app_ro\" }")) ==
        f + ":12: targets.db.credentials.ro: expected a table { passfile, password_file, user } (a credential of a postgres target)");
  CHECK(error_for(c, pg("\"app_ro\"")) ==
        f + ":12: targets.db.credentials: expected a table of NAME = { passfile, password_file, user }");
  CHECK(error_for(c, pg("{ ro = { password_file = \"ro.pw\" } }")) == f + ":12: targets.db.credentials.ro.user: required");
  CHECK(error_for(c, pg("{}")) == f + ":12: targets.db.credentials: the target holds no credential");
  CHECK(error_for(c, pg("{ default = { user = \"b\" } }", " user = \"a\",")) ==
        f + ":12: targets.db.credentials.default: the target's top-level passfile, password_file, user already are "
            "the credential \"default\"");
  CHECK(error_for(c, with_target("  s = { type = \"ssh\", host = \"h\", known_hosts = \"known_hosts\", allow = \"ops\",\n"
                                 "        credentials = { deploy = { user = \"deploy\" } } },")) ==
        f + ":12: targets.s.credentials.deploy.identity: required");
  // Without a credentials table the top-level credential stays required, as before.
  CHECK(error_for(c, with_target("  db = { type = \"postgres\", host = \"h\", dbname = \"app\", allow = \"ops\" },")) ==
        f + ":11: targets.db.user: required");
}

TEST_CASE("config: the audit key's pinned fingerprint") {
  ConfigDir c;
  std::string err;
  auto cfg = load_config(c.write(kGood), err, kKinds);
  REQUIRE(cfg);
  CHECK(cfg->audit_key_fingerprint.empty());
  // Unset: --check says to pin it once the key exists.
  CHECK_FALSE(audit_key_pin_warning(cfg->audit_signing_key, cfg->audit_key_fingerprint));  // no key yet
  ::mkdir((c.d / "var").c_str(), 0700);
  const auto signer = AuditSigner::load_or_create(cfg->audit_signing_key, err);
  REQUIRE(signer);
  CHECK(audit_key_pin_warning(cfg->audit_signing_key, cfg->audit_key_fingerprint) ==
        "pin the audit key: audit_key_fingerprint = \"" + signer->fingerprint() + "\"");
  auto pinned = load_config(c.write(std::string(kGood) + "audit_key_fingerprint = \"" + signer->fingerprint() + "\"\n"),
                            err, kKinds);
  REQUIRE(pinned);
  CHECK(pinned->audit_key_fingerprint == signer->fingerprint());
  CHECK_FALSE(audit_key_pin_warning(pinned->audit_signing_key, pinned->audit_key_fingerprint));
  // verify's key: the .pub in DATA_DIR counts only when it is the pinned one.
  bool unpinned = true;
  const std::string pub = audit_public_key_path(cfg->audit_signing_key);
  CHECK(load_pinned_public_key(pub, signer->fingerprint(), unpinned, err));
  CHECK_FALSE(unpinned);
  const std::string other = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  CHECK_FALSE(load_pinned_public_key(pub, other, unpinned, err));
  CHECK(err == "the audit key in DATA_DIR is not the pinned one (" + pub + " is " + signer->fingerprint() +
                   ", audit_key_fingerprint is " + other + ")");
  CHECK(load_pinned_public_key(pub, "", unpinned, err));
  CHECK(unpinned);
  for (const char* bad : {"SHA256:short", "MD5:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                          "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
    CHECK(error_for(c, std::string(kGood) + "audit_key_fingerprint = \"" + bad + "\"\n")
              .ends_with("audit_key_fingerprint: expected \"SHA256:\" and 43 base64 characters, as bastiond logs at "
                         "start and `bastiond --check` prints"));
}

TEST_CASE("config: the auditors' web listener") {
  ConfigDir c;
  std::string err;
  auto none = load_config(c.write(kGood), err, kKinds);
  REQUIRE(none);
  CHECK_FALSE(none->web.enabled());
  CHECK(none->web.auditor_principals == std::vector<std::string>{"auditor"});
  CHECK(none->web.session_ttl == 8 * 3600);
  auto cfg = load_config(c.write(std::string(kGood) + R"(
web_listen = "127.0.0.1:8443"
web_assets_dir = "page"
auditor_principals = { "audit-team", "sec" }
web_session_ttl = "30m"
audit_key_fingerprint = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
)"), err, kKinds);
  REQUIRE(cfg);
  CHECK(cfg->web.enabled());
  CHECK(cfg->web.listen_host == "127.0.0.1");
  CHECK(cfg->web.listen_port == 8443);
  CHECK(cfg->web.assets_dir == c.d / "page");
  CHECK(cfg->web.auditor_principals == std::vector<std::string>{"audit-team", "sec"});
  CHECK(cfg->web.session_ttl == 1800);
  CHECK(cfg->web.cert_file.empty());
  CHECK(check_config_warnings(*cfg) ==
        std::vector<std::string>{"web_assets_dir: " + (c.d / "page") + "/index.html: No such file or directory: the page will answer 404"});
  auto wide = load_config(c.write(std::string(kGood) + "web_listen = \"0.0.0.0:8443\"\n" +
                                  "audit_key_fingerprint = \"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\n"),
                          err, kKinds);
  REQUIRE(wide);
  CHECK(check_config_warnings(*wide) ==
        std::vector<std::string>{"web_listen: 0.0.0.0 is not a loopback address: the auditors' page is reachable from the network"});
  CHECK(error_for(c, std::string(kGood) + "web_listen = \"8443\"\n").ends_with("web_listen: expected \"HOST:PORT\""));
  CHECK(error_for(c, std::string(kGood) + "web_cert = \"c.pem\"\n")
            .ends_with("web_cert: web_cert and web_key go together (neither: a self-signed certificate in data_dir)"));
  const std::string ttl_text = "web_session_ttl: expected a duration from 1m to 7d "
                               "(seconds, or a number with s, m, h, d or w: \"90s\", \"5m\", \"8h\", \"2d\")";
  CHECK(error_for(c, std::string(kGood) + "web_session_ttl = \"30s\"\n").ends_with(ttl_text));
  CHECK(error_for(c, std::string(kGood) + "web_session_ttl = \"8 hours\"\n").ends_with(ttl_text));
  std::string reserved = kGood;
  reserved.replace(reserved.find("  web1 = {"), 10, "  audit = {");
  const std::string rerr = error_for(c, reserved);
  INFO(rerr);
  CHECK(rerr.ends_with("targets.audit: this name is reserved (auditors' web login)"));
}

TEST_CASE("the audit signing key and retention", "[config][integrity]") {
  ConfigDir c;
  const std::string f = c.d / "bastion.conf";
  std::string err;
  auto cfg = load_config(c.write(kGood), err, kKinds);
  REQUIRE(cfg);
  CHECK(cfg->audit_signing_key == c.d / "var/audit_signing_key");
  CHECK(cfg->retention == 0);  // kept forever
  cfg = load_config(c.write(std::string(kGood) + "audit_signing_key = \"keys/audit\"\nretention = \"90d\"\n"), err, kKinds);
  REQUIRE(cfg);
  CHECK(cfg->audit_signing_key == c.d / "keys/audit");
  CHECK(cfg->retention == 90 * 86400);
  const std::string ret_text = ":12: retention: expected a duration from 1s to 36500d "
                               "(seconds, or a number with s, m, h, d or w: \"90s\", \"5m\", \"8h\", \"2d\")";
  CHECK(error_for(c, std::string(kGood) + "retention = \"soon\"\n") == f + ret_text);
  CHECK(error_for(c, std::string(kGood) + "retention = \"0d\"\n") == f + ret_text);
  cfg = load_config(c.write(std::string(kGood) + "retention = 90\n"), err, kKinds);
  REQUIRE(cfg);
  CHECK(cfg->retention == 90);
}

TEST_CASE("approvals.webhook_text: checked at load", "[config][webhook]") {
  ConfigDir c;
  const std::string base = std::string(kGood) + "approvals = { webhook = \"http://127.0.0.1:9/hook\", webhook_text = ";
  std::string err;
  auto cfg = load_config(c.write(base + "\"#{id} {requester}: {command} {{x}}\" }\n"), err, kKinds);
  REQUIRE(cfg);
  CHECK(cfg->approvals.webhook_text == "#{id} {requester}: {command} {{x}}");
  CHECK(error_for(c, base + "\"{comand}\" }\n").find(
            "approvals.webhook_text: unknown placeholder {comand} (known: {event} {id} {kind}") != std::string::npos);
  CHECK(error_for(c, base + "\"a {id\" }\n").find("approvals.webhook_text: an unclosed { at character 3") !=
        std::string::npos);
  CHECK(error_for(c, std::string(kGood) + "approvals = { webhook_text = \"{id}\" }\n")
            .find("approvals.webhook_text: needs approvals.webhook (the URL)") != std::string::npos);
}
