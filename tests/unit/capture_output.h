// An OutputWriter that keeps what an executor or a console wrote, by stream.
#pragma once
#include <string>

#include "filters/output_writer.h"

namespace bastion::test {

class CaptureOutput : public OutputWriter {
 public:
  std::string out, err;
  void write(Stream s, std::string data) override { (s == Stream::out ? out : err) += data; }
  // What was written since the last take, both streams (then cleared).
  std::string take() {
    std::string t = out + err;
    out.clear();
    err.clear();
    return t;
  }
};

}  // namespace bastion::test
