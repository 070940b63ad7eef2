// bastionctl recording: print, replay and check asciicast recordings.
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

#include "common/display_escape.h"
#include "common/parse_number.h"
#include "ctl/commands.h"
#include "recorder/asciicast_player.h"
#include "recorder/asciicast_reader.h"

namespace bastion {
namespace {

std::optional<recorder::Asciicast> read_cast(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "bastionctl: %s: cannot open\n", display_escape(path).c_str());
    return std::nullopt;
  }
  std::string err;
  auto cast = recorder::read_asciicast(in, err);
  if (!cast)
    std::fprintf(stderr, "bastionctl: %s: %s\n", display_escape(path).c_str(),
                 display_escape(err).c_str());
  return cast;
}

}  // namespace

int ctl_recording(const std::vector<std::string>& a) {
  if (a.size() < 2) return ctl_usage();
  recorder::PlayOptions opts;
  opts.marker_text = [](std::string_view s) { return display_escape(s); };
  std::string file;
  for (std::size_t i = 1; i < a.size(); ++i) {
    if (a[i] == "--speed" && i + 1 < a.size()) {
      std::string why;
      const auto v = parse_decimal(a[++i], 0.01, 1000, &why);
      if (!v) return std::fprintf(stderr, "bastionctl: --speed %s: %s\n", a[i].c_str(), why.c_str()), 2;
      opts.speed = *v;
    }
    else if (a[i] == "--markers") opts.show_markers = true;
    else file = a[i];
  }
  if (file.empty()) return ctl_usage();
  auto cast = read_cast(file);
  if (!cast) return 1;
  // cat and play reproduce the terminal on purpose (that is what the user saw);
  // nothing else here writes recorded bytes unescaped.
  if (a[0] == "cat") {
    const std::string out = recorder::asciicast_output(*cast);
    return fwrite(out.data(), 1, out.size(), stdout) == out.size() ? 0 : 1;
  }
  if (a[0] == "play") return recorder::play_asciicast(*cast, STDOUT_FILENO, opts) ? 0 : 1;
  if (a[0] == "verify") {
    std::printf("%s: asciicast v2, %dx%d, %zu events%s\n", display_escape(file).c_str(), cast->header.width,
                cast->header.height, cast->events.size(),
                cast->truncated ? " (last line truncated: the writer was interrupted)" : "");
    return 0;
  }
  return ctl_usage();
}

}  // namespace bastion
