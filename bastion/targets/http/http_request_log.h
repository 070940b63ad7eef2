// Drives an HttpRequestStream over a whole input, fed in pieces of `step`
// bytes (0: at once), and describes what it saw, one line per event:
// "head METHOD TARGET", "body BYTES", "end", "error: WHY". For tests and
// the fuzzer (any split must give the same description).
#pragma once
#include <string>
#include <string_view>

#include "targets/http/http_request_stream.h"

namespace bastion {

inline std::string describe_request_stream(std::string_view input, std::size_t step) {
  HttpRequestStream s;
  std::string out, pending;
  std::size_t fed = 0;
  std::string body;
  auto flush_body = [&] {
    if (!body.empty()) out += "body " + body + "\n";
    body.clear();
  };
  for (int guard = 0; guard < 1 << 20; ++guard) {
    std::size_t used = 0;
    const auto e = s.feed(pending, used);
    pending.erase(0, used);
    switch (e) {
      case HttpRequestStream::Event::head:
        flush_body();
        out += "head " + s.head().method + " " + s.head().target + "\n";
        continue;
      case HttpRequestStream::Event::body:
        body += s.take_body();
        continue;
      case HttpRequestStream::Event::end:
        flush_body();
        out += "end\n";
        continue;
      case HttpRequestStream::Event::error:
        flush_body();
        return out + "error: " + s.error() + "\n";
      case HttpRequestStream::Event::need_more:
        if (fed == input.size()) {
          flush_body();
          return out + (s.at_request_boundary() ? "" : "truncated\n");
        }
        const std::size_t n = step ? std::min(step, input.size() - fed) : input.size() - fed;
        pending.append(input.substr(fed, n));
        fed += n;
        continue;
    }
  }
  return out + "stuck\n";
}

}  // namespace bastion
