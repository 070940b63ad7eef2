// `bastiond --check` as an admin meets it: a key set twice, a misspelled
// key, a time written as a duration, a file that cannot be read.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include "common/closest_name.h"
#include "config/config.h"
#include "config/config_check.h"
#include "config/duplicate_keys.h"
#include "config/known_keys.h"
#include "targets/kubectl/kubectl_settings.h"
#include "targets/postgres/postgres_settings.h"
#include "targets/ssh/ssh_settings.h"
#include "targets/target_kind.h"
#include "test_util.h"

using namespace bastion;

namespace {

const TargetKinds kKinds = builtin_target_kinds();

std::vector<std::tuple<std::string, int, int>> dups(std::string_view src) {
  std::vector<std::tuple<std::string, int, int>> out;
  for (const auto& d : find_duplicate_keys(src)) out.emplace_back(d.key, d.first_line, d.line);
  return out;
}

using Dups = std::vector<std::tuple<std::string, int, int>>;

struct Dir {
  testutil::TempDir d;
  Dir() {
    testutil::keygen(d, "host_key");
    testutil::keygen(d, "ca");
    testutil::keygen(d, "web1_key");
    testutil::spit(d / "known_hosts", "[127.0.0.1]:2201 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBVQ9mTFm2rMXDYLgXUD7xU6U5bMTi9LWRJ0Cq7CVVmr\n");
  }
  std::string file() const { return d / "bastion.conf"; }
  // The error loading `body` gives ("" when it loads).
  std::string error(const std::string& body) const {
    testutil::spit(file(), body);
    std::string err;
    return load_config(file(), err, kKinds) ? std::string() : err;
  }
  std::shared_ptr<const Config> load(const std::string& body) const {
    testutil::spit(file(), body);
    std::string err;
    auto cfg = load_config(file(), err, kKinds);
    INFO(err);
    REQUIRE(cfg);
    return cfg;
  }
};

const std::string kHead = R"(listen = "127.0.0.1:2299"
host_keys = { "host_key" }
user_ca_keys = "ca.pub"
data_dir = "var"
)";
const std::string kWeb1 =
    "  web1 = { type = \"ssh\", host = \"10.0.0.5\", user = \"deploy\", identity = \"web1_key\",\n"
    "           known_hosts = \"known_hosts\", allow = \"ops\" },\n";

}  // namespace

TEST_CASE("a key set twice in one table or at the top level is found with both lines", "[config][check]") {
  CHECK(dups("targets = {\n  a = { x = 1 },\n  b = {},\n  a = { y = 2 },\n}\n") == Dups{{"targets.a", 2, 4}});
  CHECK(dups("targets = { a = { port = 1,\n port = 2 } }") == Dups{{"targets.a.port", 1, 2}});
  CHECK(dups("listen = 'a'\nlisten = 'b'\n") == Dups{{"listen", 1, 2}});
  CHECK(dups("t = { [\"a-b\"] = 1, ['a-b'] = 2, a = { [\"x\"] = 1, x = 2 } }") ==
        Dups{{"t.a-b", 1, 1}, {"t.a.x", 1, 1}});
  CHECK(dups("t = { a = { c = { n = { k = 1 } } }, a = 2 }") == Dups{{"t.a", 1, 1}});
  // Same names in different tables, list entries, nested constructors of a list.
  CHECK(dups("t = { a = { x = 1 }, b = { x = 1 } }\nx = 1\nl = { 'a', 'a', { x = 1 }, { x = 2 } }").empty());
  // Not keys: comparisons, fields of expressions, strings and comments.
  CHECK(dups("t = { a = x == 1, b = f{ a = 1 }, c = (function() local a = 1; a = 2; return a end)() }").empty());
  CHECK(dups("t = { a = 1, -- a = 2\n --[[ a = 3 ]] s = 'a = 4', l = [==[ a = 5 ]==] }").empty());
  CHECK(dups("t = { a = 1, [\"a\\\"\"] = 2, [k] = 3, [k] = 4, [1] = 5, [1] = 6 }").empty());
  // Statements that are not top-level keys: locals, fields, loop variables, inside blocks.
  CHECK(dups("local a = 1\na = 2\nt = {}\nt.x = 1\nt.x = 2\nfor i = 1, 2 do x = i end\nfor i = 1, 2 do end").empty());
  CHECK(dups("if c then x = 1 elseif d then x = 2 else x = 3 end\nwhile c do y = 1 end\nrepeat z = 1 until z").empty());
  CHECK(dups("function f() g = 1 end\nfunction f2() g = 2 end").empty());
  // The block keywords keep the top level in sync after them.
  CHECK(dups("if c then x = 1 elseif d then x = 2 end\nlisten = 1\nlisten = 2") == Dups{{"listen", 2, 3}});
  // A constructor inside a function body is a table of its own.
  CHECK(dups("t = { f = function() return { a = 1,\n a = 2 } end }") == Dups{{"a", 1, 2}});
  CHECK(dups("t = { [\"\"] = 1, [''] = 2 }") == Dups{{"t.\"\"", 1, 1}});
  // Spellings of the same key (i16 attack 2): escapes, long strings, and a
  // top-level field assignment over a key a constructor set.
  CHECK(dups("targets = { web1 = 1,\n [\"web\\49\"] = 2 }") == Dups{{"targets.web1", 1, 2}});
  CHECK(dups("targets = { web1 = 1,\n [\"w\\x65b\\u{31}\"] = 2 }") == Dups{{"targets.web1", 1, 2}});
  CHECK(dups("targets = { web1 = 1,\n [ [[web1]] ] = 2, [ [==[\nweb2]==] ] = 3, web2 = 4 }") ==
        Dups{{"targets.web1", 1, 2}, {"targets.web2", 2, 3}});
  CHECK(dups("targets = { web1 = { port = 1 } }\ntargets.web1 = {}\ntargets[\"web1\"].port = 2") ==
        Dups{{"targets.web1", 1, 2}, {"targets.web1.port", 1, 3}});
  CHECK(dups("targets = { web1 = { port = 1 } }\ntargets['web1'].port = 2\nx = targets.web1") ==
        Dups{{"targets.web1.port", 1, 2}});
  CHECK(dups("t = { x = { y = 1 } }\nt.x.z = 1\nf{ a = { b = 1 } }\na.b = 2\nif c then t.x = 2 end").empty());
  // Broken input finds what it can and never fails.
  CHECK(dups("t = { a = 1, a = ").size() == 1);
  CHECK(dups("}}}]]) end end until \"unterminated\n[[ long").empty());
}

TEST_CASE("the loader refuses a target, a target's key or a top-level key defined twice", "[config][check]") {
  Dir c;
  const std::string f = c.file();
  CHECK(c.error(kHead + "targets = {\n" + kWeb1 + kWeb1 + "}\n") ==
        f + ":8: targets.web1: defined twice (lines 6 and 8); Lua would keep only the last");
  CHECK(c.error(kHead + "targets = {\n  web1 = { type = \"ssh\", host = \"a\", user = \"u\", identity = \"web1_key\",\n"
                        "           known_hosts = \"known_hosts\", allow = \"ops\",\n           host = \"b\" },\n}\n") ==
        f + ":8: targets.web1.host: defined twice (lines 6 and 8); Lua would keep only the last");
  CHECK(c.error(kHead + "data_dir = \"other\"\ntargets = {\n" + kWeb1 + "}\n") ==
        f + ":5: data_dir: defined twice (lines 4 and 5); Lua would keep only the last");
  CHECK(c.load(kHead + "targets = {\n" + kWeb1 + "}\n")->targets.size() == 1);
}

TEST_CASE("an unknown key gets the nearest known key when it is close", "[config][check]") {
  CHECK(edit_distance("hots", "host") == 1);  // two neighbours swapped
  CHECK(edit_distance("Timeout", "timeout") == 0);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("kitten", "sitting") == 3);
  const std::set<std::string> keys{"host", "port", "user", "identity", "known_hosts", "connect_timeout"};
  CHECK(closest_name("hots", keys) == "host");
  CHECK(closest_name("identiy", keys) == "identity");
  CHECK(closest_name("knownhosts", keys) == "known_hosts");
  CHECK(closest_name("conect_timout", keys) == "connect_timeout");
  CHECK_FALSE(closest_name("password", keys));  // nothing close
  CHECK_FALSE(closest_name("usr2", keys));      // a short word: one edit at most
  CHECK_FALSE(closest_name("pos", std::set<std::string>{"pot", "pod"}));  // a tie: no guess
  CHECK(did_you_mean("hots", keys) == " (did you mean \"host\"?)");
  CHECK(did_you_mean("zzz", keys).empty());

  Dir c;
  const std::string f = c.file();
  CHECK(c.error(kHead + "log_levl = \"debug\"\ntargets = {\n" + kWeb1 + "}\n") ==
        f + ":5: log_levl: unknown key (did you mean \"log_level\"?)");
  std::string typo = kWeb1;
  typo.replace(typo.find("known_hosts ="), 11, "knwon_hosts");
  CHECK(c.error(kHead + "targets = {\n" + typo + "}\n") ==
        f + ":7: targets.web1.knwon_hosts: unknown key (did you mean \"known_hosts\"?)");
  CHECK(c.error(kHead + "limits = { idle_timout = 60 }\ntargets = {\n" + kWeb1 + "}\n") ==
        f + ":5: limits.idle_timout: unknown key (did you mean \"idle_timeout\"?)");
  CHECK(c.error(kHead + "approvals = { timeuot = 60 }\ntargets = {\n" + kWeb1 + "}\n") ==
        f + ":5: approvals.timeuot: unknown key (did you mean \"timeout\"?)");
  CHECK(c.error(kHead + "targets = {\n  web1 = { type = \"ssh\", host = \"h\", known_hosts = \"known_hosts\", allow = \"ops\",\n"
                        "    credentials = { ro = { user = \"u\", identiy = \"web1_key\" } } },\n}\n") ==
        f + ":7: targets.web1.credentials.ro.identiy: unknown key (did you mean \"identity\"?) "
            "(ssh credentials take ca, ca_passphrase_file, certificate, identity, principals, ttl, user)");
  // Far from every key: no guess.
  CHECK(c.error(kHead + "colour = 1\ntargets = {\n" + kWeb1 + "}\n") == f + ":5: colour: unknown key");
  // The known keys are one list each.
  CHECK(known_keys::top_level().count("web_session_ttl"));
  CHECK(known_keys::limits().count("idle_timeout"));
}

TEST_CASE("every time-valued key takes seconds or a duration, with one error text", "[config][check]") {
  Dir c;
  const std::string f = c.file();
  testutil::spit(c.d / "pw", "secret\n");
  chmod((c.d / "pw").c_str(), 0600);
  const std::string pg = "  db = { type = \"postgres\", host = \"h\", dbname = \"d\", user = \"u\", password_file = \"pw\",\n"
                         "         allow = \"ops\", connect_timeout = \"1m\", statement_timeout = \"2m\" },\n";
  const std::string ssh = "  web1 = { type = \"ssh\", host = \"10.0.0.5\", user = \"deploy\", identity = \"web1_key\",\n"
                          "           known_hosts = \"known_hosts\", allow = \"ops\", connect_timeout = \"30s\" },\n";
  auto cfg = c.load(kHead +
                    "cert_clock_skew = \"2m\"\ncert_max_ttl = \"12h\"\nretention = \"90d\"\nweb_session_ttl = \"8h\"\n"
                    "limits = { login_grace_time = \"1m\", idle_timeout = \"15m\", max_session_length = \"1d\" }\n"
                    "approvals = { timeout = \"5m\", request_ttl = \"1w\", max_grant = \"2h\" }\n"
                    "targets = {\n" + ssh + pg + "}\n");
  CHECK(cfg->cert_clock_skew == 120);
  CHECK(cfg->cert_max_ttl == 12 * 3600);
  CHECK(cfg->retention == 90 * 86400);
  CHECK(cfg->web.session_ttl == 8 * 3600);
  CHECK(cfg->limits.login_grace_time == 60);
  CHECK(cfg->limits.idle_timeout == 900);
  CHECK(cfg->limits.max_session_length == 86400);
  CHECK(cfg->approvals.timeout == 300);
  CHECK(cfg->approvals.request_ttl == 7 * 86400);
  CHECK(cfg->approvals.max_grant == 7200);
  CHECK(kind_part<SshSettings>(cfg->targets.at("web1").settings.get()).connect_timeout == 30);
  CHECK(kind_part<PostgresSettings>(cfg->targets.at("db").settings.get()).connect_timeout == 60);
  CHECK(kind_part<PostgresSettings>(cfg->targets.at("db").settings.get()).statement_timeout == 120);
  // Integers stay seconds.
  cfg = c.load(kHead + "retention = 90\napprovals = { timeout = 300 }\ntargets = {\n" + kWeb1 + "}\n");
  CHECK(cfg->retention == 90);
  CHECK(cfg->approvals.timeout == 300);

  const auto text = [](const std::string& range) {
    return ": expected a duration from " + range +
           " (seconds, or a number with s, m, h, d or w: \"90s\", \"5m\", \"8h\", \"2d\")";
  };
  CHECK(c.error(kHead + "approvals = { timeout = \"5 minutes\" }\ntargets = {\n" + kWeb1 + "}\n") ==
        f + ":5: approvals.timeout" + text("1s to 7d"));
  CHECK(c.error(kHead + "approvals = { timeout = \"8d\" }\ntargets = {\n" + kWeb1 + "}\n") ==
        f + ":5: approvals.timeout" + text("1s to 7d"));
  CHECK(c.error(kHead + "limits = { idle_timeout = -1 }\ntargets = {\n" + kWeb1 + "}\n") ==
        f + ":5: limits.idle_timeout" + text("0s to 7d"));
  CHECK(c.error(kHead + "cert_max_ttl = 1.5\ntargets = {\n" + kWeb1 + "}\n") == f + ":5: cert_max_ttl" + text("1m to 365d"));
  CHECK(c.error(kHead + "web_session_ttl = \"30s\"\ntargets = {\n" + kWeb1 + "}\n") ==
        f + ":5: web_session_ttl" + text("1m to 7d"));
  CHECK(c.error(kHead + "retention = \"soon\"\ntargets = {\n" + kWeb1 + "}\n") == f + ":5: retention" + text("1s to 36500d"));
  CHECK(c.error(kHead + "targets = {\n  web1 = { type = \"ssh\", host = \"h\", user = \"u\", identity = \"web1_key\",\n"
                        "    known_hosts = \"known_hosts\", allow = \"ops\", connect_timeout = { 5 } },\n}\n") ==
        f + ":7: targets.web1.connect_timeout" + text("1s to 5m"));
  CHECK(c.error(kHead + "targets = {\n  k = { type = \"kubectl\", kubeconfig = \"pw\", allow = \"ops\",\n"
                        "    decision_timeout = \"11m\" },\n}\n") ==
        f + ":7: targets.k.decision_timeout" + text("1s to 10m"));
  CHECK(duration_bound_text(0) == "0s");
  CHECK(duration_bound_text(90) == "90s");
  CHECK(duration_bound_text(7 * 86400) == "7d");
}

TEST_CASE("a file that cannot be read is named with the OS's reason", "[config][check]") {
  Dir c;
  const std::string f = c.file();
  const std::string missing = c.d / "keys/missing";
  std::string err;
  CHECK_FALSE(load_config(c.d / "nope.conf", err, kKinds));
  CHECK(err == (c.d / "nope.conf") + ": cannot read the config file: No such file or directory");
  CHECK(c.error("listen = \"127.0.0.1:2299\"\nhost_keys = { \"host_key\" }\nuser_ca_keys = \"keys/missing\"\n"
                "targets = {\n" + kWeb1 + "}\n") ==
        f + ":3: user_ca_keys: " + missing + ": No such file or directory");
  CHECK(c.error(kHead + "revoked_keys = \"keys/missing\"\ntargets = {\n" + kWeb1 + "}\n") ==
        f + ":5: revoked_keys: " + missing + ": No such file or directory");
  CHECK(c.error(kHead + "policy = \"keys/missing\"\ntargets = {\n" + kWeb1 + "}\n") ==
        f + ":5: policy: " + missing + ": cannot read policy: No such file or directory");
  CHECK(c.error("listen = \"127.0.0.1:2299\"\nhost_keys = { \"keys/missing\" }\nuser_ca_keys = \"ca.pub\"\n"
                "targets = {\n" + kWeb1 + "}\n") ==
        f + ":2: host_keys: " + missing + ": cannot read: No such file or directory");
  std::string t = kWeb1;
  t.replace(t.find("known_hosts = \"known_hosts\""), 27, "known_hosts = \"keys/missing\"");
  CHECK(c.error(kHead + "targets = {\n" + t + "}\n") == f + ":7: targets.web1.known_hosts: " + missing + ": No such file or directory");
  t = kWeb1;
  t.replace(t.find("allow"), 5, "certificate = \"keys/missing\", allow");
  CHECK(c.error(kHead + "targets = {\n" + t + "}\n") == f + ":7: targets.web1.certificate: " + missing + ": No such file or directory");
  CHECK(c.error(kHead + "targets = {\n  db = { type = \"postgres\", host = \"h\", dbname = \"d\", service = \"s\", allow = \"ops\",\n"
                        "         sslrootcert = \"keys/missing\" },\n}\n") ==
        f + ":7: targets.db.sslrootcert: " + missing + ": No such file or directory");
  // Not readable by this user (root reads anything: then the mode is what is said).
  testutil::spit(c.d / "ca2.pub", "");
  chmod((c.d / "ca2.pub").c_str(), 0);
  const std::string locked = c.error("listen = \"127.0.0.1:2299\"\nhost_keys = { \"host_key\" }\nuser_ca_keys = \"ca2.pub\"\n"
                                     "targets = {\n" + kWeb1 + "}\n");
  if (geteuid() != 0) CHECK(locked == f + ":3: user_ca_keys: " + (c.d / "ca2.pub") + ": Permission denied");
  else CHECK(locked == f + ":3: user_ca_keys: no CA keys found in the listed files");
  // --check: the web files.
  auto cfg = c.load(kHead + "web_listen = \"127.0.0.1:8443\"\nweb_cert = \"keys/missing\"\nweb_key = \"keys/gone\"\n"
                            "web_assets_dir = \"page\"\ntargets = {\n" + kWeb1 + "}\n");
  CHECK(check_config_files(*cfg) == std::vector<std::string>{
                                        (c.d / "keys/gone") + ": web_key: No such file or directory",
                                        missing + ": web_cert: No such file or directory"});
  CHECK(check_config_warnings(*cfg) ==
        std::vector<std::string>{"web_assets_dir: " + (c.d / "page") + "/index.html: No such file or directory: the page will answer 404"});
}
