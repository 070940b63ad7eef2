// bastionctl recording: print, replay and check asciicast recordings.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

#include "audit/audit_source.h"
#include "common/display_escape.h"
#include "config/config.h"
#include "recordings/stored_recording.h"
#include "targets/target_kind.h"
#include "common/parse_number.h"
#include "ctl/commands.h"
#include "recorder/asciicast_player.h"
#include "recorder/asciicast_reader.h"
#include "recorder/terminal_query_filter.h"
#include "recorder/tty_controls.h"

namespace bastion {
namespace {

// A recording no longer on local disk, from the recordings_store its
// location row names (--config): read whole into memory, capped at the
// recording size cap plus slack for the writer's last lines.
std::optional<std::string> read_stored(const std::string& path, const std::string& config_file, std::string& err) {
  const TargetKinds kinds = builtin_target_kinds();
  const auto cfg = load_config(config_file, err, kinds, false);
  if (!cfg) return std::nullopt;
  const auto src = open_audit_source(cfg->audit_store(), cfg->store_password_file, err);
  if (!src) return std::nullopt;
  const auto where = stored_recording(*src, cfg->recordings_store, cfg->recordings_dir(), path, err);
  if (!where) {
    if (err.empty()) err = "cannot open (not on local disk, and not in the recordings store)";
    return std::nullopt;
  }
  std::string bytes;
  if (!fetch_stored_recording(cfg->recordings_store, *where, cfg->limits.recording_max_bytes + (1u << 20),
                              [&](std::string_view d) { bytes.append(d); }, err)) {
    err = where->url + ": " + err;
    return std::nullopt;
  }
  return bytes;
}

std::optional<recorder::Asciicast> read_cast(const std::string& path, const std::string& config_file) {
  std::string err;
  std::ifstream file(path, std::ios::binary);
  std::istringstream stored;
  std::istream* in = &file;
  if (!file && !config_file.empty()) {
    auto bytes = read_stored(path, config_file, err);
    if (!bytes) {
      std::fprintf(stderr, "bastionctl: %s: %s\n", display_escape(path).c_str(), display_escape_multiline(err).c_str());
      return std::nullopt;
    }
    stored.str(std::move(*bytes));
    in = &stored;
  } else if (!file) {
    std::fprintf(stderr, "bastionctl: %s: cannot open\n", display_escape(path).c_str());
    return std::nullopt;
  }
  auto cast = recorder::read_asciicast(*in, err);
  if (!cast)
    std::fprintf(stderr, "bastionctl: %s: %s\n", display_escape(path).c_str(),
                 display_escape(err).c_str());
  return cast;
}

bool write_out(const std::string& s) { return std::fwrite(s.data(), 1, s.size(), stdout) == s.size(); }

struct RecordingArgs {
  recorder::PlayOptions play;
  bool raw = false;
  std::string file;
  std::string config;  // where to find a recording no longer on local disk
};

// Options by subcommand: cat takes --raw, play --speed, --idle-limit and
// --markers, verify none. Returns nullopt after saying what is wrong.
std::optional<RecordingArgs> parse_args(const std::vector<std::string>& a) {
  RecordingArgs r;
  r.play.marker_text = [](std::string_view s) { return display_escape(s); };
  const bool play = a[0] == "play", cat = a[0] == "cat";
  for (std::size_t i = 1; i < a.size(); ++i) {
    const std::string& o = a[i];
    const bool has_value = i + 1 < a.size();
    if (play && (o == "--speed" || o == "--idle-limit") && has_value) {
      std::string why;
      const auto v = o == "--speed" ? parse_decimal(a[i + 1], 0.01, 1000, &why)
                                    : parse_decimal(a[i + 1], 0, 86400, &why);
      if (!v) {
        std::fprintf(stderr, "bastionctl: %s %s: %s\n", o.c_str(), display_escape(a[i + 1]).c_str(), why.c_str());
        return std::nullopt;
      }
      (o == "--speed" ? r.play.speed : r.play.idle_limit) = *v;
      ++i;
    } else if (play && o == "--markers") {
      r.play.show_markers = true;
    } else if (cat && o == "--raw") {
      r.raw = true;
    } else if (o == "--config" && has_value) {
      r.config = a[++i];
    } else if (o.size() > 1 && o[0] == '-') {
      std::fprintf(stderr, "bastionctl: recording %s: unknown option %s\n", a[0].c_str(), display_escape(o).c_str());
      return std::nullopt;
    } else if (!r.file.empty()) {
      std::fprintf(stderr, "bastionctl: recording %s: one FILE only\n", a[0].c_str());
      return std::nullopt;
    } else {
      r.file = o;
    }
  }
  if (r.file.empty()) {
    ctl_usage();
    return std::nullopt;
  }
  return r;
}

// What the user saw, without anything that would make this terminal answer.
int cat_shown(const recorder::Asciicast& cast) {
  recorder::TerminalQueryFilter filter;
  std::string out;
  for (const auto& e : cast.events)
    if (e.code == 'o') filter.feed(e.data, out);
  filter.finish(out);
  return write_out(out) ? 0 : 1;
}

// The target's exact bytes: for files and pipes, never for a terminal.
int cat_raw(const recorder::Asciicast& cast, const std::string& file) {
  if (::isatty(STDOUT_FILENO)) {
    std::fprintf(stderr,
                 "bastionctl: recording cat --raw writes the target's exact bytes, terminal queries included: "
                 "redirect it to a file or a pipe\n");
    return 2;
  }
  std::string err;
  const auto raw = recorder::asciicast_raw_output(cast, err);
  if (!raw) {
    std::fprintf(stderr, "bastionctl: %s: %s\n", display_escape(file).c_str(), display_escape(err).c_str());
    return 1;
  }
  return write_out(*raw) ? 0 : 1;
}

int play(const recorder::Asciicast& cast, const recorder::PlayOptions& opts) {
  std::fflush(stdout);
  if (!::isatty(STDIN_FILENO)) return recorder::play_asciicast(cast, STDOUT_FILENO, opts) ? 0 : 1;
  int signo = 0;
  recorder::PlayEnd end{};
  {
    recorder::SignalWatch signals;  // before raw mode: a signal in between still restores
    const recorder::TermiosGuard keys(STDIN_FILENO);
    const auto r = recorder::play_asciicast_controlled(cast, STDOUT_FILENO, keys.active() ? STDIN_FILENO : -1,
                                                        &signals, opts);
    end = r.end;
    signo = r.signo;
    if (end != recorder::PlayEnd::write_failed && ::isatty(STDOUT_FILENO)) {
      const auto& tail = recorder::kTerminalRestore;
      if (::write(STDOUT_FILENO, tail.data(), tail.size()) < 0) end = recorder::PlayEnd::write_failed;
    }
  }  // terminal mode and signal mask restored here
  if (end == recorder::PlayEnd::signalled) recorder::raise_again(signo);
  return end == recorder::PlayEnd::write_failed ? 1 : 0;
}

}  // namespace

int ctl_recording(const std::vector<std::string>& a) {
  if (a.size() < 2 || (a[0] != "cat" && a[0] != "play" && a[0] != "verify")) return ctl_usage();
  const auto args = parse_args(a);
  if (!args) return 2;
  auto cast = read_cast(args->file, args->config);
  if (!cast) return 1;
  // cat and play reproduce the terminal on purpose (that is what the user
  // saw), less terminal queries; nothing else here writes recorded bytes unescaped.
  if (a[0] == "cat") return args->raw ? cat_raw(*cast, args->file) : cat_shown(*cast);
  if (a[0] == "play") return play(*cast, args->play);
  std::printf("%s: asciicast v2, %dx%d, %zu events%s\n", display_escape(args->file).c_str(), cast->header.width,
              cast->header.height, cast->events.size(),
              cast->truncated ? " (last line truncated: the writer was interrupted)" : "");
  return 0;
}

}  // namespace bastion
