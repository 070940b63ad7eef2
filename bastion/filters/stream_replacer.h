// Replaces one RE2 pattern's matches in a stream that arrives in pieces, with
// the result RE2::GlobalReplace would give on the whole text, while holding
// back only the last `hold` bytes (the longest match minus one, plus one if
// the pattern looks past a match's end), however long the line.
//
// Why that is enough: every match starting before buffer_end - hold ends,
// together with the byte after it, inside the buffer, so more output cannot
// change whether or how it matches there; text before it that no match
// starts in can go out as it is. The byte before the held text is kept as
// context, so ^ (?m)^ and \b see what really came before.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include <re2/re2.h>

namespace bastion {

// A compiled mask pattern and how far it must look ahead; shared by the
// replacers of every stream.
struct ReplacePattern {
  std::unique_ptr<RE2> re;
  std::string rewrite;  // RE2 rewrite string (\1, \2)
  int nvec = 1;         // submatches the rewrite needs, plus the whole match
  std::size_t hold = 0; // bytes a stream holds back
};

class StreamReplacer {
 public:
  explicit StreamReplacer(const ReplacePattern& p) : p_(&p) {}
  // Takes the next piece of the stream; appends to `out` what is settled.
  void write(std::string_view in, std::string& out);
  // Takes a last piece and releases everything, its end taken as the end of
  // the text ($ matches there). The stream may go on afterwards.
  void finish(std::string_view in, std::string& out);
  // Bytes held back: at most max_held().
  std::size_t held() const { return buf_.size() - context_; }
  // The hold, plus what arrives between two searches of a large window, plus
  // 3 to end on a UTF-8 character boundary.
  static std::size_t max_held(std::size_t hold) { return hold + search_every(hold) + 3; }
  // Bytes searched so far (for tests: the work per byte stays bounded).
  std::size_t searched() const { return searched_; }

 private:
  // A large window is searched again only after a quarter of it is new
  // output, so a trickle of small reads does not search it once per read.
  static std::size_t search_every(std::size_t hold) { return hold > 4096 ? hold / 4 : 0; }
  void run(std::string& out, bool final);

  const ReplacePattern* p_;
  std::string buf_;           // [context byte] + held text
  std::size_t context_ = 0;   // 0 until something went out, then 1
  bool after_match_ = false;  // the held text starts where a match ended
  std::size_t unsearched_ = 0;  // bytes appended since the last search
  std::size_t searched_ = 0;
};

}  // namespace bastion
