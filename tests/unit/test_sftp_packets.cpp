// SFTP v3 as the bastion reads it: framing across any split, each request
// and reply it decodes, the STATUS it sends, and SftpGate driven as the
// session drives it (write_input, pump_output) against a fake target
// channel: what is decided, what is forwarded, what the client gets, and
// the audit rows' ends with bytes.
#include <catch2/catch.hpp>

#include <random>

#include "sftp_rig.h"
#include "targets/ssh/sftp_gate.h"
#include "targets/ssh/sftp_packets.h"

using namespace bastion;
using namespace bastion::sftp;
using bastion::test::Collect;
using bastion::test::FakeChannel;
using bastion::test::Pkt;
using bastion::test::RecordingGate;
using V = std::vector<std::string>;

namespace {

std::string init() { return Pkt().u8(kInit).u32(3).packet(); }
std::string version(uint32_t v = 3) {
  return Pkt().u8(kVersion).u32(v).str("posix-rename@openssh.com").str("1").packet();
}
std::string open_req(uint32_t id, std::string_view path, uint32_t pflags) {
  return Pkt().u8(kOpen).u32(id).str(path).u32(pflags).u32(kAttrPermissions).u32(0644).packet();
}
std::string path_req(uint8_t type, uint32_t id, std::string_view path) { return Pkt().u8(type).u32(id).str(path).packet(); }
std::string two_paths(uint8_t type, uint32_t id, std::string_view a, std::string_view b) {
  return Pkt().u8(type).u32(id).str(a).str(b).packet();
}
std::string ext(uint32_t id, std::string_view name, std::string_view a, std::string_view b) {
  return Pkt().u8(kExtended).u32(id).str(name).str(a).str(b).packet();
}
std::string handle_req(uint8_t type, uint32_t id, std::string_view h) { return Pkt().u8(type).u32(id).str(h).packet(); }
std::string write_req(uint32_t id, std::string_view h, uint64_t off, std::string_view data) {
  return Pkt().u8(kWrite).u32(id).str(h).u64(off).str(data).packet();
}
std::string read_req(uint32_t id, std::string_view h, uint64_t off, uint32_t len) {
  return Pkt().u8(kRead).u32(id).str(h).u64(off).u32(len).packet();
}
std::string status(uint32_t id, uint32_t code, std::string_view msg = "") {
  return Pkt().u8(kStatus).u32(id).u32(code).str(msg).str("").packet();
}
std::string handle(uint32_t id, std::string_view h) { return Pkt().u8(kHandle).u32(id).str(h).packet(); }
std::string data(uint32_t id, std::string_view d) { return Pkt().u8(kData).u32(id).str(d).packet(); }

// All packets of a stream, fed in the given chunk sizes.
V frame(const std::string& stream, const std::vector<std::size_t>& cuts) {
  Framer f;
  V out;
  std::size_t at = 0;
  auto drain = [&] {
    std::string_view p;
    while (f.next(p) == Framer::Next::packet) out.emplace_back(p);
  };
  for (std::size_t c : cuts) {
    f.feed(std::string_view(stream).substr(at, c));
    at += c;
    drain();
  }
  f.feed(std::string_view(stream).substr(at));
  drain();
  REQUIRE(f.held() == 0);
  return out;
}

// A gate over a fake channel, past the version exchange.
struct Rig {
  RecordingGate gate;
  FakeChannel* ch;
  std::unique_ptr<SftpGate> sftp;
  Collect out;
  explicit Rig(bool started = true) {
    auto c = std::make_unique<FakeChannel>();
    ch = c.get();
    sftp = std::make_unique<SftpGate>(std::move(c), &gate);
    if (!started) return;
    send(init());
    reply(version());
    REQUIRE(out.out == version());
    out.out.clear();
    ch->sent.clear();
  }
  void send(const std::string& bytes) {
    REQUIRE(sftp->input_capacity() >= bytes.size());
    REQUIRE(sftp->write_input(bytes));
  }
  bool reply(const std::string& bytes) {
    ch->reply += bytes;
    return sftp->pump_output(out, 1 << 20);
  }
  // Opens `path` for writing as handle "H1" (id 1), decided and answered.
  void open_h1(std::string_view path = "/up/f", uint32_t pflags = kFxfWrite | kFxfCreat | kFxfTrunc) {
    send(open_req(1, path, pflags));
    reply(handle(1, "H1"));
    out.out.clear();
    ch->sent.clear();
  }
};

}  // namespace

TEST_CASE("sftp framing: the same packets whatever the split") {
  const V packets = {init(), open_req(7, "/a b/c", kFxfRead), write_req(8, "h", 0, std::string(70000, 'x')),
                     status(9, 0, "ok"), data(10, std::string(5, '\0'))};
  std::string stream;
  for (const auto& p : packets) stream += p;
  // Every single cut point, then byte by byte, then random chunks.
  for (std::size_t i = 0; i <= stream.size(); i += (i < 200 ? 1 : 997)) REQUIRE(frame(stream, {i}) == packets);
  REQUIRE(frame(stream, std::vector<std::size_t>(stream.size(), 1)) == packets);
  std::mt19937 rng(14);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::size_t> cuts;
    for (std::size_t left = stream.size(); left > 0;) {
      const std::size_t c = std::min<std::size_t>(left, rng() % 5000);
      cuts.push_back(c);
      left -= c;
    }
    REQUIRE(frame(stream, cuts) == packets);
  }
}

TEST_CASE("sftp framing: a length of 0 or past 256 KiB is an error as soon as it is read") {
  Framer f;
  std::string_view p;
  f.feed(Pkt().u32(kMaxPacket + 1).b);
  REQUIRE(f.next(p) == Framer::Next::error);
  REQUIRE(f.error() == "a packet of 262145 bytes (the limit is 262144)");
  Framer z;
  z.feed(std::string(4, '\0'));
  REQUIRE(z.next(p) == Framer::Next::error);
  REQUIRE(z.error() == "a packet of length 0");
  // Exactly the limit frames.
  Framer ok;
  ok.feed(Pkt().u32(kMaxPacket).b + std::string(kMaxPacket, 'x'));
  REQUIRE(ok.next(p) == Framer::Next::packet);
  REQUIRE(p.size() == kMaxPacket + 4);
}

TEST_CASE("sftp requests decode as sftp-server reads them") {
  Request q;
  std::string err;
  auto dec = [&](const std::string& pkt) {
    q = Request{};
    return decode_request(std::string_view(pkt).substr(4), q, err);
  };
  REQUIRE(dec(Pkt().u8(kOpen).u32(5).str("/x").u32(kFxfWrite | kFxfCreat | kFxfExcl)
                  .u32(kAttrSize | kAttrUidGid | kAttrPermissions | kAttrAcModTime | kAttrExtended)
                  .u64(9).u32(10).u32(11).u32(04755).u32(100).u32(200).u32(1).str("k").str("v").packet()));
  REQUIRE((q.type == kOpen && q.id == 5 && q.path == "/x" && q.pflags == 0x2a));
  REQUIRE(q.attrs.facts() == std::map<std::string, std::string>{
                                 {"size", "9"}, {"uid", "10"}, {"gid", "11"}, {"perm", "4755"}, {"atime", "100"}, {"mtime", "200"}});
  REQUIRE(dec(write_req(6, "HH", 4096, "abc")));
  REQUIRE((q.handle == "HH" && q.offset == 4096 && q.length == 3));
  REQUIRE(dec(read_req(7, "HH", 1, 32768)));
  REQUIRE((q.type == kRead && q.length == 32768));
  REQUIRE(dec(two_paths(kRename, 8, "/a", "/b")));
  REQUIRE((q.path == "/a" && q.path2 == "/b"));
  REQUIRE(dec(two_paths(kSymlink, 9, "target", "/link")));
  REQUIRE((q.path == "target" && q.path2 == "/link"));
  REQUIRE(dec(Pkt().u8(kMkdir).u32(10).str("/d").u32(kAttrPermissions).u32(0700).packet()));
  REQUIRE((q.path == "/d" && q.attrs.facts().at("perm") == "0700"));
  REQUIRE(dec(Pkt().u8(kFsetstat).u32(11).str("HH").u32(kAttrSize).u64(0).packet()));
  REQUIRE((q.handle == "HH" && q.attrs.facts().at("size") == "0"));
  for (uint8_t t : {kRemove, kRmdir, kOpendir}) {
    REQUIRE(dec(path_req(t, 12, "/p")));
    REQUIRE((q.type == t && q.path == "/p"));
  }
  REQUIRE(dec(ext(13, "hardlink@openssh.com", "/old", "/new")));
  REQUIRE((q.extended == "hardlink@openssh.com" && q.path == "/old" && q.path2 == "/new"));
  REQUIRE(dec(Pkt().u8(kExtended).u32(14).str("lsetstat@openssh.com").str("/l").u32(kAttrPermissions).u32(0600).packet()));
  REQUIRE((q.path == "/l" && q.attrs.facts().at("perm") == "0600"));
  REQUIRE(dec(Pkt().u8(kExtended).u32(15).str("copy-data").str("R").u64(1).u64(2).str("W").u64(3).packet()));
  REQUIRE((q.handle == "R" && q.offset == 1 && q.length == 2 && q.handle2 == "W"));
  // Truncated fields, and a path the server would read shorter.
  REQUIRE_FALSE(dec(Pkt().u8(kOpen).u32(1).str("/x").u32(2).packet()));
  REQUIRE(err == "request type 3 does not decode");
  REQUIRE_FALSE(dec(path_req(kRemove, 1, std::string("/ok\0/etc/passwd", 15))));
  REQUIRE_FALSE(dec(Pkt().u8(kRemove).packet()));
  REQUIRE(err == "a request too short for its type and id");
}

TEST_CASE("sftp replies decode, and the bastion's STATUS is exact") {
  Reply p;
  std::string err;
  REQUIRE(decode_reply(std::string_view(status(3, 4, "no")).substr(4), p, err));
  REQUIRE((p.type == kStatus && p.id == 3 && p.status == 4 && p.message == "no"));
  // A v3 server may send no message.
  REQUIRE(decode_reply(std::string_view(Pkt().u8(kStatus).u32(3).u32(0).packet()).substr(4), p, err));
  REQUIRE(decode_reply(std::string_view(handle(4, std::string("\0\0\0\1", 4))).substr(4), p, err));
  REQUIRE(p.handle == std::string("\0\0\0\1", 4));
  REQUIRE(decode_reply(std::string_view(data(5, "12345")).substr(4), p, err));
  REQUIRE(p.data_len == 5);
  REQUIRE(encode_status(0x01020304, kPermissionDenied, "why") ==
          std::string("\0\0\0\x14\x65\x01\x02\x03\x04\0\0\0\x03\0\0\0\x03why\0\0\0\0", 24));
}

TEST_CASE("sftp gate: each mutating request is decided with its facts, then forwarded") {
  Rig r;
  const std::string reqs[] = {
      open_req(1, "/up/new", kFxfWrite | kFxfCreat | kFxfTrunc), open_req(2, "/etc/hosts", kFxfRead),
      path_req(kRemove, 3, "/up/old"), two_paths(kRename, 4, "/up/a", "/up/b"),
      Pkt().u8(kMkdir).u32(5).str("/up/d").u32(kAttrPermissions).u32(0755).packet(), path_req(kRmdir, 6, "/up/d"),
      Pkt().u8(kSetstat).u32(7).str("/up/b").u32(kAttrPermissions).u32(0600).packet(),
      two_paths(kSymlink, 8, "/etc/shadow", "/up/link"), ext(9, "posix-rename@openssh.com", "/up/b", "/up/c"),
      ext(10, "hardlink@openssh.com", "/up/c", "/up/hard"),
      Pkt().u8(kExtended).u32(11).str("lsetstat@openssh.com").str("/up/link").u32(kAttrAcModTime).u32(1).u32(2).packet()};
  std::string all;
  for (const auto& q : reqs) all += q;
  r.send(all);
  REQUIRE(r.gate.calls == V{"request open /up/new write,create,truncate", "request open /etc/hosts read",
                            "request remove /up/old", "request rename /up/a -> /up/b", "request mkdir /up/d",
                            "request rmdir /up/d", "request setstat /up/b perm=0600",
                            "request symlink /etc/shadow -> /up/link", "request posix-rename /up/b -> /up/c",
                            "request hardlink /up/c -> /up/hard", "request lsetstat /up/link atime=1,mtime=2"});
  REQUIRE(r.ch->sent == all);
  REQUIRE(r.gate.ops[0].mode == V{"write", "create", "truncate"});
  REQUIRE(r.gate.ops[0].attrs == std::map<std::string, std::string>{{"perm", "0644"}});
  REQUIRE((r.gate.ops[7].path == "/etc/shadow" && r.gate.ops[7].target == "/up/link"));
  // Each row ends with the target's status; a failure keeps its message.
  r.reply(status(3, kOk) + status(4, kNoSuchFile, "No such file") + status(2, kPermissionDenied, "Permission denied"));
  REQUIRE(r.gate.calls[11] == "ended 3 status=0 in=0 out=0");
  REQUIRE(r.gate.calls[12] == "ended 4 status=2 in=0 out=0 error=No such file");
  REQUIRE(r.gate.calls[13] == "ended 2 status=3 in=0 out=0 error=Permission denied");
}

TEST_CASE("sftp gate: lookups pass undecided; unknown extended requests are refused and on record") {
  Rig r;
  const std::string pass = path_req(kStat, 1, "/x") + path_req(kLstat, 2, "/x") + path_req(kRealpath, 3, ".") +
                           path_req(kReadlink, 4, "/l") + path_req(kOpendir, 5, "/") + handle_req(kReaddir, 6, "D") +
                           ext(7, "statvfs@openssh.com", "/", "") + ext(8, "limits@openssh.com", "", "") +
                           ext(9, "home-directory", "u", "") + ext(10, "expand-path@openssh.com", "~", "");
  r.send(pass);
  REQUIRE(r.gate.calls.empty());
  REQUIRE(r.ch->sent == pass);
  r.ch->sent.clear();
  r.send(ext(11, "evil@example.com", "/a", "/b"));
  REQUIRE(r.ch->sent.empty());
  REQUIRE(r.gate.calls ==
          V{"refuse extended evil@example.com: the extended request evil@example.com is not supported through the bastion",
            "ended 1 status=8 in=0 out=0 error=refused"});
  r.reply("");
  REQUIRE(r.out.out == status(11, kOpUnsupported,
                              "bastion: the extended request evil@example.com is not supported through the bastion"));
  // An unknown packet type is not forwarded either.
  r.out.out.clear();
  r.send(Pkt().u8(77).u32(12).packet());
  r.reply("");
  REQUIRE(r.ch->sent.empty());
  REQUIRE(r.out.out == status(12, kOpUnsupported, "bastion: request type 77 is not supported"));
}

TEST_CASE("sftp gate: a refused request is answered with the reason, never forwarded, and the session goes on") {
  Rig r;
  r.gate.deny = {"remove /etc/passwd"};
  r.gate.review = {"rmdir /srv"};
  r.send(path_req(kRemove, 21, "/etc/passwd") + path_req(kRmdir, 22, "/srv") + path_req(kRemove, 23, "/tmp/x"));
  REQUIRE(r.ch->sent == path_req(kRemove, 23, "/tmp/x"));
  REQUIRE(r.gate.calls == V{"request remove /etc/passwd", "ended 1 status=3 in=0 out=0 error=denied: no remove /etc/passwd",
                            "request rmdir /srv", "ended 2 status=3 in=0 out=0 error=denied: approval required: ask",
                            "request remove /tmp/x"});
  // The target is in the middle of a reply: the bastion's replies wait for its end.
  const std::string other = data(99, std::string(1000, 'd'));
  r.ch->reply = other.substr(0, 10);
  r.sftp->pump_output(r.out, 1 << 20);
  const std::string ours = status(21, kPermissionDenied, "bastion: denied: no remove /etc/passwd") +
                           status(22, kPermissionDenied, "bastion: denied: approval required: ask");
  REQUIRE(r.out.out == ours);  // at a boundary: nothing of the target's packet yet
  r.reply(other.substr(10) + status(23, kOk));
  REQUIRE(r.out.out == ours + other + status(23, kOk));
  REQUIRE(r.out.err == "bastion: denied: remove /etc/passwd: no remove /etc/passwd\n"
                       "bastion: denied: rmdir /srv: approval required: ask\n");
  REQUIRE(r.gate.calls.back() == "ended 3 status=0 in=0 out=0");
}

TEST_CASE("sftp gate: a refusal waits for the target's partial packet, split anywhere") {
  const std::string target = data(40, std::string(300, 'q')) + status(41, kOk);
  for (std::size_t cut = 0; cut <= target.size(); ++cut) {
    Rig r;
    r.gate.deny = {"mkdir /no"};
    r.ch->reply = target.substr(0, cut);
    r.sftp->pump_output(r.out, 1 << 20);
    r.send(Pkt().u8(kMkdir).u32(42).str("/no").u32(0).packet());
    r.reply(target.substr(cut));
    const std::string ours = status(42, kPermissionDenied, "bastion: denied: no mkdir /no");
    // Ours sits between two whole packets of the target's.
    const std::size_t at = r.out.out.find(ours);
    REQUIRE(at != std::string::npos);
    REQUIRE((at == 0 || at == 4 + 300 + 9 || at == target.size()));
    REQUIRE(r.out.out.substr(0, at) + r.out.out.substr(at + ours.size()) == target);
  }
}

TEST_CASE("sftp gate: an open file's row ends at CLOSE with the bytes written and read") {
  Rig r;
  r.open_h1();
  REQUIRE(r.gate.calls == V{"request open /up/f write,create,truncate"});
  r.send(write_req(2, "H1", 0, std::string(1000, 'a')) + write_req(3, "H1", 1000, std::string(24, 'b')));
  r.reply(status(2, kOk) + status(3, kFailure, "disk full"));  // only what the target took counts
  r.send(handle_req(kClose, 4, "H1"));
  REQUIRE(r.gate.calls.size() == 1);
  r.reply(status(4, kOk));
  REQUIRE(r.gate.calls.back() == "ended 1 status=0 in=1000 out=0");
  // A read open: DATA replies are counted.
  r.send(open_req(5, "/etc/hosts", kFxfRead));
  r.reply(handle(5, "H2"));
  r.send(read_req(6, "H2", 0, 32768) + read_req(7, "H2", 32768, 32768) + handle_req(kClose, 8, "H2"));
  r.reply(data(6, std::string(32768, 'x')) + data(7, std::string(17, 'y')) + status(8, kOk));
  REQUIRE(r.gate.calls.back() == "ended 2 status=0 in=0 out=32785");
  // A closed handle is unknown: the bastion answers, nothing is forwarded.
  r.ch->sent.clear();
  r.out.out.clear();
  r.send(write_req(9, "H2", 0, "late"));
  r.reply("");
  REQUIRE(r.ch->sent.empty());
  REQUIRE(r.out.out == status(9, kFailure, "bastion: unknown handle"));
}

TEST_CASE("sftp gate: FSETSTAT and copy-data are decided with the paths of their handles") {
  Rig r;
  r.open_h1("/up/f");
  r.send(open_req(2, "/up/src", kFxfRead));
  r.reply(handle(2, "H2"));
  r.send(Pkt().u8(kFsetstat).u32(3).str("H1").u32(kAttrPermissions).u32(04777).packet());
  r.send(Pkt().u8(kExtended).u32(4).str("copy-data").str("H2").u64(0).u64(0).str("H1").u64(0).packet());
  REQUIRE(r.gate.calls == V{"request open /up/f write,create,truncate", "request open /up/src read",
                            "request fsetstat /up/f perm=4777", "request copy-data /up/src -> /up/f"});
  // A handle the client made up is not one it opened.
  r.send(Pkt().u8(kFsetstat).u32(5).str("XX").u32(kAttrPermissions).u32(0777).packet());
  r.reply("");
  REQUIRE(r.gate.calls.size() == 4);
  REQUIRE(r.out.out.find(status(5, kFailure, "bastion: unknown handle")) != std::string::npos);
}

TEST_CASE("sftp gate: the channel's end finishes every open row with its bytes") {
  Rig r;
  r.open_h1();
  r.send(write_req(2, "H1", 0, "12345"));
  r.reply(status(2, kOk));
  r.send(path_req(kRemove, 3, "/up/g"));  // decided, forwarded, never answered
  r.ch->alive = false;
  REQUIRE_FALSE(r.reply(""));
  REQUIRE(r.gate.calls == V{"request open /up/f write,create,truncate", "request remove /up/g",
                            "ended 2 status=- in=0 out=0 error=the channel ended",
                            "ended 1 status=- in=5 out=0 error=the channel ended"});
}

TEST_CASE("sftp gate: flow control follows the target's window, one packet held at most") {
  Rig r;
  r.ch->window = 0;
  REQUIRE(r.sftp->input_capacity() == 0);
  r.ch->window = 100;
  r.open_h1();
  r.ch->window = 100;
  const std::string big = write_req(2, "H1", 0, std::string(300, 'z'));
  // The packet is taken in window-sized pieces, forwarded once whole and
  // only as far as the window goes.
  std::size_t at = 0;
  while (at < big.size()) {
    const std::size_t cap = r.sftp->input_capacity();
    REQUIRE(cap > 0);
    const std::size_t n = std::min(cap, big.size() - at);
    r.sftp->write_input(std::string_view(big).substr(at, n));
    at += n;
  }
  REQUIRE(r.ch->sent == big.substr(0, 100));
  REQUIRE(r.sftp->input_capacity() == 0);
  r.ch->window = 1000;
  REQUIRE(r.sftp->input_capacity() == 1000 - (big.size() - 100));
  REQUIRE(r.ch->sent == big);
}

TEST_CASE("sftp gate: what ends the channel, with a message and exit status 255") {
  auto fatal = [](const std::string& bytes, bool started, const std::string& msg) {
    Rig r(started);
    r.sftp->write_input(bytes);
    REQUIRE_FALSE(r.reply(""));
    REQUIRE(r.out.err == "bastion: sftp: " + msg + "; the channel is closed\n");
    REQUIRE(r.sftp->exit_info().status == 255);
    REQUIRE(r.ch->closed);
    REQUIRE(r.gate.calls.front() == "refuse (channel ended by the bastion): " + msg);
    // Nothing of that input reached the target, not even what came before in it.
    REQUIRE(r.ch->sent.empty());
  };
  fatal(Pkt().u32(kMaxPacket + 1).b, true, "the client sent a packet of 262145 bytes (the limit is 262144)");
  fatal(path_req(kRemove, 1, "/x"), false, "the client sent a request before the version exchange");
  fatal(path_req(kStat, 1, "/x") + path_req(kStat, 1, "/y"), true, "the client reused request id 1 before its reply");
  fatal(Pkt().u8(kOpen).u32(1).str("/x").packet(), true,
        "the client sent a malformed request: request type 3 does not decode");
  fatal(init(), true, "the client sent a second INIT");
  // The target's side too: another protocol version, an oversized reply.
  Rig v(false);
  v.send(init());
  REQUIRE_FALSE(v.reply(version(6)));
  REQUIRE(v.out.err == "bastion: sftp: the target speaks SFTP version 6; the bastion reads version 3 only; "
                       "the channel is closed\n");
  REQUIRE(v.out.out.empty());
  Rig o;
  REQUIRE_FALSE(o.reply(Pkt().u32(kMaxPacket + 1).b));
  REQUIRE(o.out.err.find("the target sent a packet of 262145 bytes") != std::string::npos);
}

TEST_CASE("sftp gate: the handle table is bounded") {
  Rig r;
  std::string reqs, replies;
  for (uint32_t i = 0; i <= SftpGate::kMaxHandles; ++i) {
    reqs += open_req(i, "/f", kFxfRead);
    replies += handle(i, "h" + std::to_string(i));
  }
  r.send(reqs);
  REQUIRE_FALSE(r.reply(replies));
  REQUIRE(r.out.err == "bastion: sftp: more than 4096 open files; the channel is closed\n");
  // The last open never reached the client; every row is finished.
  int ended = 0;
  for (const auto& c : r.gate.calls) ended += c.rfind("ended ", 0) == 0;
  REQUIRE(ended == static_cast<int>(SftpGate::kMaxHandles) + 2);  // every open, and the refusal row
}

TEST_CASE("sftp gate: requests in flight and the paths they hold are bounded") {
  Rig r;
  std::string reqs;
  for (uint32_t i = 0; i <= SftpGate::kMaxPending; ++i) reqs += path_req(kStat, i, "/");
  r.sftp->write_input(reqs);
  REQUIRE_FALSE(r.reply(""));
  REQUIRE(r.out.err == "bastion: sftp: more than 65536 requests in flight; the channel is closed\n");
  Rig p;
  const std::string long_path(kMaxPacket - 64, 'p');
  std::string dirs;
  for (uint32_t i = 0; i * long_path.size() <= SftpGate::kMaxHeldPathBytes; ++i) dirs += path_req(kOpendir, i, long_path);
  p.sftp->write_input(dirs);
  REQUIRE_FALSE(p.reply(""));
  REQUIRE(p.out.err == "bastion: sftp: more than 16 MiB of paths in flight; the channel is closed\n");
}

TEST_CASE("sftp gate: a client that does not read the bastion's answers is not read either") {
  Rig r;
  r.gate.deny = {"remove /x"};
  std::string reqs, want;
  for (uint32_t i = 0; i < 5000; ++i) {
    reqs += path_req(kRemove, i, "/x");
    want += status(i, kPermissionDenied, "bastion: denied: no remove /x");
  }
  REQUIRE(r.sftp->write_input(reqs));
  // About 91 bytes of answers each: the gate stopped at 256 KiB of them.
  REQUIRE(r.sftp->input_capacity() == 0);
  REQUIRE(r.gate.calls.size() < 2 * 3000);
  r.reply("");
  REQUIRE(r.out.out == want);  // every one answered, in order, once the client read
  REQUIRE(r.gate.calls.size() == 2 * 5000);
  REQUIRE(r.sftp->input_capacity() > 0);
  REQUIRE(r.ch->sent.empty());
}

TEST_CASE("sftp gate: EOF goes on only after the decided bytes") {
  Rig r;
  r.ch->window = 10;
  const std::string q = path_req(kRemove, 1, "/tmp/abcdef");
  r.sftp->write_input(q.substr(0, 10));
  r.sftp->write_input(q.substr(10));  // more than the window: the gate holds one packet at most
  r.sftp->send_eof();
  REQUIRE_FALSE(r.ch->eof);
  r.ch->window = 100;
  r.sftp->pump_output(r.out, 1 << 20);
  REQUIRE(r.ch->sent == q);
  REQUIRE(r.ch->eof);
}

TEST_CASE("sftp operations parse for policy tests as the channel writes them") {
  SftpOp op;
  std::string err;
  REQUIRE(parse_sftp_op("open /srv/a write,create", {}, op, err));
  REQUIRE((op.op == "open" && op.path == "/srv/a" && op.mode == V{"write", "create"}));
  REQUIRE(sftp_text(op) == "open /srv/a write,create");
  REQUIRE(parse_sftp_op("rename /a -> /b", {}, op, err));
  REQUIRE((op.path == "/a" && op.target == "/b"));
  REQUIRE(parse_sftp_op("setstat /a perm=0600,size=0", {}, op, err));
  REQUIRE(sftp_text(op) == "setstat /a perm=0600,size=0");
  REQUIRE(parse_sftp_op("", {{"op", "symlink"}, {"path", "/a b"}, {"to", "/c d"}, {"target", "web1"}}, op, err));
  REQUIRE(sftp_text(op) == "symlink /a b -> /c d");
  REQUIRE_FALSE(parse_sftp_op("delete /a", {}, op, err));
  REQUIRE(err ==
          "not an sftp operation: \"delete\" (open, remove, rename, posix-rename, mkdir, rmdir, setstat, fsetstat, "
          "lsetstat, symlink, hardlink, copy-data, extended)");
  REQUIRE_FALSE(parse_sftp_op("open /a rwx", {}, op, err));
  REQUIRE(err == "not an open mode: rwx (read, write, append, create, truncate, exclusive)");
  REQUIRE_FALSE(parse_sftp_op("setstat /a perm=999", {}, op, err));
  REQUIRE(err == "attribute perm: not an octal number: 999");
  REQUIRE_FALSE(parse_sftp_op("remove", {}, op, err));
  REQUIRE(err == "sftp remove: no path");
}
