#include "filters/masking_filter.h"

#include <algorithm>
#include <memory>


namespace bastion {

namespace {

int stream_index(Stream s) { return s == Stream::out ? 0 : 1; }

}  // namespace

MaskingFilter::MaskingFilter(const std::vector<MaskRule>& rules) : MaskingFilter(compile_masks(rules)) {}

MaskingFilter::MaskingFilter(std::shared_ptr<const CompiledMasks> compiled) : patterns_(std::move(compiled)) {
  for (auto& chain : chain_)
    for (const auto& p : *patterns_) chain.emplace_back(p);
}

void MaskingFilter::mask(std::string& text) const {
  for (const auto& p : *patterns_) RE2::GlobalReplace(&text, *p.re, p.rewrite);
}

void MaskingFilter::through_chain(Stream s, std::string& data,
                                  void (StreamReplacer::*step)(std::string_view, std::string&)) {
  std::string out;
  for (auto& r : chain_[stream_index(s)]) {
    out.clear();
    (r.*step)(data, out);
    data.swap(out);
  }
}

void MaskingFilter::filter(Stream s, std::string& data) { through_chain(s, data, &StreamReplacer::write); }

void MaskingFilter::flush(Stream s, std::string& data) { through_chain(s, data, &StreamReplacer::finish); }

std::size_t MaskingFilter::held(Stream s) const {
  std::size_t n = 0;
  for (const auto& r : chain_[stream_index(s)]) n += r.held();
  return n;
}

std::size_t MaskingFilter::searched() const {
  std::size_t n = 0;
  for (const auto& chain : chain_)
    for (const auto& r : chain) n += r.searched();
  return n;
}

std::size_t MaskingFilter::max_held() const {
  std::size_t n = 0;
  for (const auto& p : *patterns_) n += StreamReplacer::max_held(p.hold);
  return n;
}

}  // namespace bastion
